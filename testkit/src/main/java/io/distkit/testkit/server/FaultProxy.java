package io.distkit.testkit.server;

import io.distkit.common.DaemonThreads;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * A loopback TCP proxy in this JVM: a client connects to {@link #port()} instead of the server, and
 * the test cuts, delays, holds or loses that client's traffic (docs/failures.md, "Tools for faults on
 * one machine"). Each fault can be switched on and off while connections are open; {@link #heal()}
 * returns to pass-through.
 *
 * <pre>{@code
 * @RegisterExtension static RedisServer redis = RedisServer.builder().build();
 * @RegisterExtension static FaultProxy proxy = FaultProxy.builder().target(redis.host(), redis.port()).build();
 * ... connect to proxy.uri("redis") ... proxy.blackHole(); ... proxy.heal();
 * }</pre>
 *
 * <p>How it works: per connection and direction one thread reads chunks (whatever one {@code read}
 * returns) into a FIFO queue and another forwards them; the forwarder asks the fault state, at the
 * moment a chunk is due, whether to hold, discard or send it. So order is kept per direction, a
 * delay is latency rather than a bandwidth limit, and a fault switched on also catches chunks
 * already queued. Held bytes are kept in memory without bound: freeze for seconds, not for gigabytes.
 *
 * <p>Discarding bytes tears a hole in a TCP stream, which a real network never does (it retransmits,
 * or the connection dies). A pipelining client such as Lettuce would then match every later reply to
 * the wrong request. So a connection that lost bytes is marked damaged and {@link #heal()} resets it,
 * and the client reconnects, as it would after a real partition long enough to lose data. End of
 * stream is never discarded, only held while its direction drops: TCP would retransmit the FIN.
 */
public final class FaultProxy implements TestServer {

    /** The way bytes travel through the proxy. */
    public enum Direction {
        /** Requests: from the client to the target server. */
        CLIENT_TO_SERVER,
        /** Replies: from the target server back to the client. */
        SERVER_TO_CLIENT
    }

    private static final int CHUNK_BYTES = 64 * 1024;
    private static final int CONNECT_TIMEOUT_MILLIS = 2_000;
    private static final long SHUTDOWN_MILLIS = 5_000;

    private final String targetHost;
    private final int targetPort;
    private final int port;
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicLong[] bytesForwarded = {new AtomicLong(), new AtomicLong()};
    private final AtomicLong[] chunksForwarded = {new AtomicLong(), new AtomicLong()};
    private final AtomicLong[] chunksDropped = {new AtomicLong(), new AtomicLong()};
    private final AtomicLong accepted = new AtomicLong();
    private volatile boolean refusing;
    /** Between start() and close(); read without the lifecycle lock, which close() holds while joining. */
    private volatile boolean open;

    /** Guards the fault state below; forwarders wait on it, every change notifies them. */
    private final Object gate = new Object();
    private final Set<Direction> dropping = EnumSet.noneOf(Direction.class);
    private final long[] delayNanos = new long[2];
    private boolean frozen;
    private boolean dropNextReply;

    private @Nullable ServerSocket listener;
    private @Nullable Thread acceptor;

    private FaultProxy(Builder b) {
        this.targetHost = b.targetHost;
        this.targetPort = b.targetPort;
        // chosen now, like a server's port, so that clients can be configured before start()
        this.port = b.listenPort != 0 ? b.listenPort : Servers.freePort();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Binds {@link #port()} on the loopback interface and starts accepting. Idempotent. */
    @Override
    public synchronized void start() {
        if (listener != null) {
            return;
        }
        ServerSocket socket;
        try {
            socket = new ServerSocket();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            socket.setReuseAddress(true); // restart on the same port right after close()
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 50);
        } catch (IOException e) {
            closeQuietly(socket);
            throw new UncheckedIOException("fault proxy cannot listen on 127.0.0.1:" + port, e);
        }
        listener = socket;
        open = true;
        acceptor = daemon(() -> acceptLoop(socket));
        acceptor.start();
    }

    @Override
    public synchronized boolean isStarted() {
        return listener != null;
    }

    /**
     * Pass-through again: stops dropping, delaying and refusing, releases frozen bytes in order, cancels
     * a pending {@link #dropNextReply()}, and resets the connections that lost bytes (see the class doc).
     */
    @Override
    public void heal() {
        synchronized (gate) {
            dropping.clear();
            Arrays.fill(delayNanos, 0);
            frozen = false;
            dropNextReply = false;
            gate.notifyAll();
        }
        refusing = false;
        connections.stream().filter(c -> c.damaged).forEach(c -> c.close(true));
    }

    /** Closes the listener and resets every connection; waits (bounded) for the proxy's threads. Idempotent. */
    @Override
    public synchronized void close() {
        if (listener == null || acceptor == null) {
            return;
        }
        open = false;
        try {
            listener.close();
        } catch (IOException ignored) {
            // closing is all we wanted
        }
        join(List.of(acceptor)); // no connection is added after this (see Connection.start)
        List<Thread> threads = new ArrayList<>();
        connections.forEach(c -> {
            threads.addAll(c.threads);
            c.close(true);
        });
        join(threads);
        listener = null;
        acceptor = null;
    }

    /** Swallows bytes in both directions; connections stay open, nothing arrives. */
    public void blackHole() {
        blackHole(Direction.CLIENT_TO_SERVER);
        blackHole(Direction.SERVER_TO_CLIENT);
    }

    /** Swallows bytes in one direction only (adds to any direction already dropped). */
    public void blackHole(Direction direction) {
        Objects.requireNonNull(direction, "direction");
        synchronized (gate) {
            dropping.add(direction);
            gate.notifyAll();
        }
    }

    /** Forwards every chunk, in each direction, at least {@code delay} after it was read: a round trip takes twice that. */
    public void delay(Duration delay) {
        delay(Direction.CLIENT_TO_SERVER, delay);
        delay(Direction.SERVER_TO_CLIENT, delay);
    }

    /** Forwards every chunk in {@code direction} at least {@code delay} after it was read; zero ends the delay. */
    public void delay(Direction direction, Duration delay) {
        Objects.requireNonNull(direction, "direction");
        if (delay.isNegative()) {
            throw new IllegalArgumentException("delay must not be negative: " + delay);
        }
        synchronized (gate) {
            delayNanos[direction.ordinal()] = delay.toNanos();
            gate.notifyAll();
        }
    }

    /** Holds all bytes in both directions (a paused network); {@link #unfreeze()} releases them in order. */
    public void freeze() {
        synchronized (gate) {
            frozen = true;
        }
    }

    /** Releases the bytes held since {@link #freeze()}, in order, and forwards again. */
    public void unfreeze() {
        synchronized (gate) {
            frozen = false;
            gate.notifyAll();
        }
    }

    /**
     * Discards the next chunk from server to client (of any connection), once: the request was applied
     * and its reply lost (F13). The connection is damaged and reset by {@link #heal()}.
     */
    public void dropNextReply() {
        synchronized (gate) {
            dropNextReply = true;
        }
    }

    /** Closes every open connection abruptly (RST on both sides, via SO_LINGER 0); new ones are still accepted. */
    public void resetAll() {
        connections.forEach(c -> c.close(true));
    }

    /**
     * While on, new connections are accepted and reset at once (the client sees a reset, not
     * ECONNREFUSED); open connections are untouched.
     */
    public void refuseConnections(boolean refuse) {
        this.refusing = refuse;
    }

    public String host() {
        return "127.0.0.1";
    }

    /** The port clients connect to; fixed when the proxy is built. */
    public int port() {
        return port;
    }

    /** {@code <scheme>://127.0.0.1:<port>}, e.g. {@code uri("redis")}. */
    public String uri(String scheme) {
        return scheme + "://" + host() + ":" + port;
    }

    public long bytesForwarded(Direction direction) {
        return bytesForwarded[direction.ordinal()].get();
    }

    public long chunksForwarded(Direction direction) {
        return chunksForwarded[direction.ordinal()].get();
    }

    /** Chunks discarded by a black-hole or {@link #dropNextReply()}. */
    public long chunksDropped(Direction direction) {
        return chunksDropped[direction.ordinal()].get();
    }

    /** Connections proxied to the target so far (refused ones and failed target connects not counted). */
    public long connectionsAccepted() {
        return accepted.get();
    }

    public int openConnections() {
        return connections.size();
    }

    @Override
    public String toString() {
        return "fault proxy 127.0.0.1:" + port + " -> " + targetHost + ":" + targetPort;
    }

    private void acceptLoop(ServerSocket listener) {
        while (!listener.isClosed()) {
            Socket client;
            try {
                client = listener.accept();
            } catch (IOException e) {
                continue; // closed (the loop ends) or a transient accept error
            }
            if (refusing) {
                abort(client);
                continue;
            }
            Socket server = new Socket();
            try {
                client.setTcpNoDelay(true); // Nagle would add its own delays to small requests
                server.setTcpNoDelay(true);
                server.connect(new InetSocketAddress(targetHost, targetPort), CONNECT_TIMEOUT_MILLIS);
            } catch (IOException e) {
                abort(client); // target down: the client sees a reset, as through any real proxy
                abort(server);
                continue;
            }
            accepted.incrementAndGet();
            Connection connection = new Connection(client, server);
            connections.add(connection);
            connection.start();
        }
    }

    /**
     * Waits until {@code chunk} may leave: not frozen, its delay served, and for end of stream the
     * direction not dropping. Then says whether to send it (true) or discard it (false).
     */
    private boolean awaitTurn(Chunk chunk, Direction direction) throws InterruptedException {
        int d = direction.ordinal();
        synchronized (gate) {
            while (true) {
                long wait = chunk.readAt + delayNanos[d] - System.nanoTime();
                boolean heldEof = chunk.bytes == null && dropping.contains(direction);
                if (frozen || heldEof) {
                    gate.wait();
                } else if (wait > 0) {
                    TimeUnit.NANOSECONDS.timedWait(gate, wait);
                } else {
                    break;
                }
            }
            if (chunk.bytes == null) {
                return true;
            }
            if (dropping.contains(direction)) {
                return false;
            }
            if (direction == Direction.SERVER_TO_CLIENT && dropNextReply) {
                dropNextReply = false;
                return false;
            }
            return true;
        }
    }

    /** One proxied connection: a reader and a forwarder per direction. */
    private final class Connection {
        final Socket client;
        final Socket server;
        final List<Thread> threads = new ArrayList<>(4);
        final AtomicBoolean closed = new AtomicBoolean();
        final AtomicInteger streamsEnded = new AtomicInteger();
        volatile boolean damaged;

        Connection(Socket client, Socket server) {
            this.client = client;
            this.server = server;
            pipe(Direction.CLIENT_TO_SERVER, client, server);
            pipe(Direction.SERVER_TO_CLIENT, server, client);
        }

        void start() {
            threads.forEach(Thread::start);
            if (!open) {
                close(true); // raced with close(): it may have swept before this was added
            }
            if (closed.get()) {
                threads.forEach(Thread::interrupt); // closed before the threads ran: the interrupts were lost
            }
        }

        private void pipe(Direction direction, Socket from, Socket to) {
            BlockingQueue<Chunk> queue = new LinkedBlockingQueue<>();
            threads.add(daemon(() -> read(direction, from, queue)));
            threads.add(daemon(() -> forward(direction, to, queue)));
        }

        private void read(Direction direction, Socket from, BlockingQueue<Chunk> queue) {
            byte[] buffer = new byte[CHUNK_BYTES];
            try {
                InputStream in = from.getInputStream();
                int n;
                while ((n = in.read(buffer)) != -1) {
                    queue.add(new Chunk(Arrays.copyOf(buffer, n), System.nanoTime()));
                }
                queue.add(new Chunk(null, System.nanoTime()));
            } catch (IOException e) {
                close(true); // a reset on one side resets the other, as a dead TCP path would
            }
        }

        private void forward(Direction direction, Socket to, BlockingQueue<Chunk> queue) {
            int d = direction.ordinal();
            try {
                OutputStream out = to.getOutputStream();
                while (true) {
                    Chunk chunk = queue.take();
                    boolean send = awaitTurn(chunk, direction);
                    if (chunk.bytes == null) {
                        to.shutdownOutput(); // pass the FIN on, keep reading the other way
                        if (streamsEnded.incrementAndGet() == 2) {
                            close(false);
                        }
                        return;
                    }
                    if (send) {
                        out.write(chunk.bytes);
                        out.flush();
                        bytesForwarded[d].addAndGet(chunk.bytes.length);
                        chunksForwarded[d].incrementAndGet();
                    } else {
                        damaged = true;
                        chunksDropped[d].incrementAndGet();
                    }
                }
            } catch (InterruptedException e) {
                // the connection was closed while this thread waited
            } catch (IOException e) {
                close(true);
            }
        }

        /** Closes both sockets, abruptly (RST) or not; interrupts the forwarders. Idempotent. */
        void close(boolean abort) {
            if (!closed.compareAndSet(false, true)) {
                return;
            }
            connections.remove(this);
            if (abort) {
                abort(client);
                abort(server);
            } else {
                closeQuietly(client);
                closeQuietly(server);
            }
            threads.forEach(Thread::interrupt); // readers end on the closed socket, forwarders on the interrupt
        }
    }

    /** A chunk as one read returned it; {@code bytes == null} is end of stream. */
    private record Chunk(byte @Nullable [] bytes, long readAt) {}

    private static Thread daemon(Runnable body) {
        return DaemonThreads.factory("proxy").newThread(body);
    }

    private static void abort(Socket socket) {
        try {
            socket.setSoLinger(true, 0); // close sends RST instead of FIN
        } catch (IOException ignored) {
            // already closed or never connected
        }
        closeQuietly(socket);
    }

    private static void closeQuietly(@Nullable Closeable socket) {
        try {
            if (socket != null) {
                socket.close();
            }
        } catch (IOException ignored) {
            // nothing left to release
        }
    }

    private static void join(List<Thread> threads) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SHUTDOWN_MILLIS);
        for (Thread thread : threads) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
                return;
            }
            try {
                thread.join(left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Configures a {@link FaultProxy}. */
    public static final class Builder {
        private String targetHost = "127.0.0.1";
        private int targetPort;
        private int listenPort;

        private Builder() {}

        /** The server the proxy forwards to (required). */
        public Builder target(String host, int port) {
            this.targetHost = Objects.requireNonNull(host, "host");
            this.targetPort = checkPort("target port", port);
            return this;
        }

        /** The loopback port to listen on; by default a free one, chosen when the proxy is built. */
        public Builder listenPort(int port) {
            this.listenPort = checkPort("listen port", port);
            return this;
        }

        /** The proxy, not yet listening (the JUnit extension or {@link FaultProxy#start()} starts it). */
        public FaultProxy build() {
            if (targetPort == 0) {
                throw new IllegalStateException("target(host, port) is required");
            }
            return new FaultProxy(this);
        }

        private static int checkPort(String what, int port) {
            if (port < 1 || port > 65_535) {
                throw new IllegalArgumentException(what + " must be in 1..65535: " + port);
            }
            return port;
        }
    }
}
