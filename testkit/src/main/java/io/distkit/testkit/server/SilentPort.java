package io.distkit.testkit.server;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A loopback port that accepts connections (the kernel completes the handshake into its backlog) and
 * never answers: what a client sees of a server paused in the middle of a login, or of an address behind a
 * black hole that still accepts. A JDBC driver without a login timeout waits on it for ever.
 *
 * <pre>{@code
 * try (SilentPort silent = SilentPort.open()) {
 *     DataSource plain = silent.postgresDataSource(); // no pool: the driver logs in on every call
 *     ... build a client on it; it must fail in bounded time ...
 * }
 * }</pre>
 */
public final class SilentPort implements AutoCloseable {

    private final ServerSocket socket;

    private SilentPort(ServerSocket socket) {
        this.socket = socket;
    }

    /** Listens on a free loopback port. */
    public static SilentPort open() {
        try {
            return new SilentPort(new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on a loopback port", e);
        }
    }

    /** The port. */
    public int port() {
        return socket.getLocalPort();
    }

    /** {@code jdbc:postgresql://127.0.0.1:<port>/distkit}. */
    public String postgresUrl() {
        return "jdbc:postgresql://127.0.0.1:" + port() + "/distkit";
    }

    /** A pgjdbc data source without a pool on {@link #postgresUrl()}, with the driver's defaults (no login timeout). */
    public PGSimpleDataSource postgresDataSource() {
        PGSimpleDataSource plain = new PGSimpleDataSource();
        plain.setURL(postgresUrl());
        plain.setUser("distkit");
        plain.setPassword("distkit");
        return plain;
    }

    /** Stops listening; connections accepted into the backlog are reset. */
    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
