package io.distkit.testkit.server;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A minimal blocking Redis (RESP2) client for fixtures and test assertions: one command, one
 * reply, a fresh connection each time. Not for the code under test, which uses Lettuce.
 */
public final class Resp {

    private Resp() {}

    /**
     * Sends one command and returns its reply: a {@code String} (simple or bulk), a {@code Long},
     * a {@code List<Object>}, or null.
     *
     * @throws RedisError for an error reply
     * @throws UncheckedIOException if the server cannot be reached within {@code timeout}
     */
    public static Object call(String host, int port, Duration timeout, String... args) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), (int) timeout.toMillis());
            socket.setSoTimeout((int) timeout.toMillis());
            OutputStream out = socket.getOutputStream();
            ByteArrayOutputStream request = new ByteArrayOutputStream();
            request.writeBytes(("*" + args.length + "\r\n").getBytes(StandardCharsets.UTF_8));
            for (String arg : args) {
                byte[] bytes = arg.getBytes(StandardCharsets.UTF_8);
                request.writeBytes(("$" + bytes.length + "\r\n").getBytes(StandardCharsets.UTF_8));
                request.writeBytes(bytes);
                request.writeBytes("\r\n".getBytes(StandardCharsets.UTF_8));
            }
            out.write(request.toByteArray());
            out.flush();
            return read(new BufferedInputStream(socket.getInputStream()));
        } catch (IOException e) {
            throw new UncheckedIOException("redis " + host + ":" + port + " " + String.join(" ", args) + ": " + e, e);
        }
    }

    private static Object read(InputStream in) throws IOException {
        int type = in.read();
        String line = readLine(in);
        switch (type) {
            case '+':
                return line;
            case '-':
                throw new RedisError(line);
            case ':':
                return Long.parseLong(line);
            case '$': {
                int length = Integer.parseInt(line);
                if (length < 0) {
                    return null;
                }
                byte[] data = in.readNBytes(length);
                readLine(in);
                return new String(data, StandardCharsets.UTF_8);
            }
            case '*': {
                int count = Integer.parseInt(line);
                if (count < 0) {
                    return null;
                }
                List<Object> items = new ArrayList<>(count);
                for (int i = 0; i < count; i++) {
                    items.add(read(in));
                }
                return items;
            }
            default:
                throw new IOException("unexpected RESP type '" + (char) type + "' (" + type + ")");
        }
    }

    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != -1) {
            if (b == '\r') {
                in.read(); // '\n'
                break;
            }
            line.write(b);
        }
        if (b == -1) {
            throw new IOException("connection closed by the server");
        }
        return line.toString(StandardCharsets.UTF_8);
    }

    /** An error reply from Redis. */
    public static final class RedisError extends RuntimeException {
        public RedisError(String message) {
            super(message);
        }
    }
}
