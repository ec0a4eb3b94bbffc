package io.distkit.testkit.server;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingCluster;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.client.ConnectStringParser;
import org.apache.zookeeper.client.StaticHostProvider;
import org.apache.zookeeper.client.ZKClientConfig;
import org.jspecify.annotations.Nullable;

/**
 * A private ZooKeeper ensemble of 1 or 3 members running inside the test JVM (curator-test: a
 * {@link TestingServer} for one member, a {@link TestingCluster} for three), on free loopback ports
 * with a temp directory per member. Members can be killed and restarted one by one (quorum loss,
 * F11) and a client's session can be expired on the server (F12).
 *
 * <pre>{@code
 * @RegisterExtension static ZooKeeperCluster zk = ZooKeeperCluster.builder().members(3).build();
 * ... CuratorFrameworkFactory.newClient(zk.connectString(), ...) ...
 * zk.killServer(zk.leaderIndex().orElseThrow()); zk.expireSession(curator.getZookeeperClient().getZooKeeper());
 * }</pre>
 *
 * <p>Contracts: {@link #start()} and {@link #heal()} return once every running member serves
 * clients (as a leader, follower or standalone server). A killed member is shut down in-process: its
 * client connections drop at once and it stops answering, but unlike a SIGKILLed process it has
 * flushed its transaction log; ZooKeeper fsyncs every acknowledged write anyway, so a restarted
 * member has all acknowledged data. Pausing is not offered: the members share this JVM.
 *
 * <p>Timing: curator-test 5.9.0 reads the {@code timing-multiple} system property only as an
 * integer factor on its default one-second tick and on its own start-up waits; this fixture sets the
 * tick explicitly ({@link Builder#tickTime}), which also bounds the session timeouts a client can
 * negotiate: from one tick to twenty.
 */
public final class ZooKeeperCluster extends ClusterFixture {

    /** Server tick: sessions may be as short as one tick; followers are dropped after five unanswered ticks. */
    public static final Duration DEFAULT_TICK_TIME = Duration.ofMillis(500);

    private static final Duration SERVE_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);
    private static final Pattern MODE = Pattern.compile("(?m)^Mode: (\\w+)");
    private static final Pattern RECEIVED = Pattern.compile("(?m)^Received: (\\d+)");

    private final int size;
    private final Duration tickTime;
    private final Map<String, String> properties;
    private final List<InstanceSpec> specs = new ArrayList<>();
    private final boolean[] down;
    private @Nullable TestingServer server;
    private @Nullable TestingCluster cluster;

    private ZooKeeperCluster(Builder b, Path dir) {
        super(dir);
        this.size = b.members;
        this.tickTime = b.tickTime;
        this.properties = Map.copyOf(b.properties);
        this.down = new boolean[size];
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Starts every member and waits until each serves clients; on failure shuts them down again. */
    @Override
    void startMembers() {
        specs.clear();
        for (int i = 0; i < size; i++) {
            specs.add(spec(i));
        }
        try {
            if (size == 1) {
                server = new TestingServer(specs.get(0), true);
            } else {
                cluster = new TestingCluster(specs);
                cluster.start();
            }
        } catch (Exception e) {
            closeQuietly();
            throw new IllegalStateException("ZooKeeper (" + size + " members) did not start", e);
        }
        Arrays.fill(down, false);
        try {
            awaitServing(IntStream.range(0, size).toArray());
        } catch (RuntimeException e) {
            closeQuietly();
            throw e;
        }
    }

    private InstanceSpec spec(int index) {
        Path memberDir = dir().resolve("zk" + index);
        Path dataDir = memberDir.resolve("data");
        try {
            // the embedded server writes a config file next to the data directory on every start,
            // so the data directory is a child of a directory of our own that close() removes
            Files.createDirectories(dataDir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, Object> custom = new LinkedHashMap<>();
        if (size == 1) {
            // a quorum member binds to the address in its server.N line; a standalone one needs this
            custom.put("clientPortAddress", "127.0.0.1");
        }
        custom.putAll(properties);
        return new InstanceSpec(dataDir.toFile(), Servers.freePort(), Servers.freePort(), Servers.freePort(),
                true, index + 1, (int) tickTime.toMillis(), -1, custom, "127.0.0.1");
    }

    /** Restarts killed members, then waits until every member serves. */
    @Override
    void healMembers() {
        for (int i = 0; i < size; i++) {
            if (down[i]) {
                restart(i);
            }
        }
        awaitServing(IntStream.range(0, size).toArray());
    }

    /** Shuts every member down. */
    @Override
    void stopMembers() {
        closeQuietly();
    }

    private void closeQuietly() {
        try {
            if (cluster != null) {
                cluster.close();
            }
            if (server != null) {
                server.close();
            }
        } catch (IOException ignored) {
            // the directories go below in any case
        } finally {
            cluster = null;
            server = null;
        }
    }

    /** The number of members. */
    public int size() {
        return size;
    }

    /** {@code 127.0.0.1:<port>,...} for all members, for a ZooKeeper or Curator client. */
    public String connectString() {
        return specs().stream().map(s -> s.getHostname() + ":" + s.getPort()).collect(Collectors.joining(","));
    }

    /** The connect string of member {@code index} alone. */
    public String connectString(int index) {
        InstanceSpec spec = specs().get(Objects.checkIndex(index, size));
        return spec.getHostname() + ":" + spec.getPort();
    }

    /**
     * Shuts member {@code index} down at once: its clients lose their connections and it stops
     * answering. Its data directory stays for {@link #restartServer(int)}.
     */
    public synchronized void killServer(int index) {
        requireStarted();
        Objects.checkIndex(index, size);
        try {
            if (server != null) {
                server.stop();
            } else if (!Objects.requireNonNull(cluster).killServer(specs.get(index))) {
                throw new IllegalStateException("curator-test does not know member " + index);
            }
        } catch (Exception e) {
            throw new IllegalStateException("could not kill ZooKeeper member " + index, e);
        }
        down[index] = true;
    }

    /**
     * Starts member {@code index} again on the same port with the same data. If a quorum of members is
     * now running, waits until it serves; otherwise returns at once (it cannot serve before more
     * members are back).
     */
    public synchronized void restartServer(int index) {
        requireStarted();
        Objects.checkIndex(index, size);
        restart(index);
        if (runningCount() > size / 2) {
            awaitServing(index);
        }
    }

    private void restart(int index) {
        try {
            if (server != null) {
                server.restart();
            } else if (!Objects.requireNonNull(cluster).restartServer(specs.get(index))) {
                throw new IllegalStateException("curator-test does not know member " + index);
            }
        } catch (Exception e) {
            throw new IllegalStateException("could not restart ZooKeeper member " + index, e);
        }
        down[index] = false;
    }

    /** Whether member {@code index} runs (it may still not serve, for want of a quorum). */
    public synchronized boolean isRunning(int index) {
        return isStarted() && !down[Objects.checkIndex(index, size)];
    }

    private int runningCount() {
        int running = 0;
        for (boolean d : down) {
            running += d ? 0 : 1;
        }
        return running;
    }

    /**
     * What member {@code index} says it is ({@code leader}, {@code follower}, {@code standalone}),
     * asked with the {@code srvr} four-letter command; empty if it is down, not serving (no quorum, an
     * election under way) or does not answer within a short timeout.
     */
    public Optional<String> mode(int index) {
        return srvr(index).flatMap(answer -> {
            Matcher matcher = MODE.matcher(answer);
            return matcher.find() ? Optional.of(matcher.group(1)) : Optional.empty();
        });
    }

    /**
     * How many requests member {@code index} has received since it started (pings included), from the
     * {@code srvr} four-letter command: a test that compares two readings counts what clients sent between.
     *
     * @throws IllegalStateException if the member does not answer
     */
    public long requestsReceived(int index) {
        String answer = srvr(index).orElseThrow(() -> new IllegalStateException("member " + index + " does not answer"));
        Matcher matcher = RECEIVED.matcher(answer);
        if (!matcher.find()) {
            throw new IllegalStateException("no 'Received:' line in the srvr answer of member " + index + ": " + answer);
        }
        return Long.parseLong(matcher.group(1));
    }

    private Optional<String> srvr(int index) {
        InstanceSpec spec = specs().get(Objects.checkIndex(index, size));
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(spec.getHostname(), spec.getPort()), (int) PROBE_TIMEOUT.toMillis());
            socket.setSoTimeout((int) PROBE_TIMEOUT.toMillis());
            OutputStream out = socket.getOutputStream();
            out.write("srvr".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            return Optional.of(new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** The member that leads now (for one member: it, when it serves); empty during an election or without quorum. */
    public OptionalInt leaderIndex() {
        return IntStream.range(0, size)
                .filter(i -> mode(i).filter(m -> m.equals("leader") || m.equals("standalone")).isPresent())
                .findFirst();
    }

    /**
     * Waits until each of the given members serves clients.
     *
     * @throws IllegalStateException naming the members that do not serve within 30 s
     */
    public void awaitServing(int... indexes) {
        long deadline = System.nanoTime() + SERVE_TIMEOUT.toNanos();
        while (true) {
            List<Integer> waiting = IntStream.of(indexes).filter(i -> mode(i).isEmpty()).boxed().collect(Collectors.toList());
            if (waiting.isEmpty()) {
                return;
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new IllegalStateException("ZooKeeper members " + waiting + " not serving within " + SERVE_TIMEOUT
                        + " (" + connectString() + ")");
            }
            try {
                Thread.sleep(50); // polling servers that offer no readiness signal
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for ZooKeeper", e);
            }
        }
    }

    /** The member a client is connected to now, if any. */
    public synchronized OptionalInt connectedMember(ZooKeeper client) {
        Objects.requireNonNull(client, "client");
        if (server != null) {
            return client.getState().isConnected() ? OptionalInt.of(0) : OptionalInt.empty();
        }
        try {
            InstanceSpec spec = Objects.requireNonNull(cluster, "not started").findConnectionInstance(client);
            int index = specs.indexOf(spec);
            return index < 0 ? OptionalInt.empty() : OptionalInt.of(index);
        } catch (Exception e) {
            throw new IllegalStateException("could not tell which member " + client + " is connected to", e);
        }
    }

    /**
     * Expires the client's session on the server, as if it had been silent for its whole timeout:
     * its ephemeral nodes are deleted and its watches are gone by the time this returns; the client
     * sees {@code Expired} (Curator: {@code LOST}) when it next talks to the ensemble, which for a
     * connected client is at once, because the server drops its connection.
     *
     * <p>Done the classic way: a second handle joins the same session (same id and password) and
     * closes it. ({@code client.getTestable().injectSessionExpiration()}, which curator-test's
     * {@code KillSession} now calls, only makes the client believe it expired; the server keeps the
     * session and its ephemeral nodes until the timeout.)
     *
     * @throws IllegalStateException if the session cannot be reached within 10 s
     */
    public void expireSession(ZooKeeper client) {
        Objects.requireNonNull(client, "client");
        long sessionId = client.getSessionId();
        CountDownLatch attached = new CountDownLatch(1);
        ZKClientConfig config = new ZKClientConfig();
        // bounds the closeSession round trip, which otherwise waits as long as the connection lives
        config.setProperty(ZKClientConfig.ZOOKEEPER_REQUEST_TIMEOUT, "10000");
        ZooKeeper twin = null;
        try {
            twin = new ZooKeeper(connectString(), client.getSessionTimeout(), event -> {
                if (event.getState() == KeeperState.SyncConnected || event.getState() == KeeperState.Expired) {
                    attached.countDown();
                }
            }, sessionId, client.getSessionPasswd(), false,
                    new StaticHostProvider(new ConnectStringParser(connectString()).getServerAddresses()), config);
            if (!attached.await(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("could not join session 0x" + Long.toHexString(sessionId)
                        + " to expire it within 10 s (" + connectString() + ")");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while expiring session 0x" + Long.toHexString(sessionId), e);
        } finally {
            if (twin != null) {
                try {
                    // closing a handle closes its session on the server: what expiry does
                    twin.close(10_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** The directory holding every member's data. */
    @Override
    public Path dir() {
        return super.dir();
    }

    @Override
    public String toString() {
        return "ZooKeeper " + (specs.isEmpty() ? "(not started, " + size + " members)" : connectString());
    }

    private synchronized List<InstanceSpec> specs() {
        if (specs.isEmpty()) {
            throw new IllegalStateException("ZooKeeper not started: ports are chosen by start()");
        }
        return List.copyOf(specs);
    }

    private void requireStarted() {
        if (!isStarted()) {
            throw new IllegalStateException("ZooKeeper not started");
        }
    }

    /** Configures a {@link ZooKeeperCluster}. */
    public static final class Builder {
        private int members = 1;
        private Duration tickTime = DEFAULT_TICK_TIME;
        private final Map<String, String> properties = new LinkedHashMap<>();

        private Builder() {}

        /** 1 (a standalone server) or 3 (an ensemble that survives one failure) members; default 1. */
        public Builder members(int members) {
            this.members = ClusterFixture.checkMembers(members);
            return this;
        }

        /**
         * The server tick in whole milliseconds; default {@link #DEFAULT_TICK_TIME}. Session timeouts are
         * negotiated into [tick, 20 x tick]; followers must sync within 10 ticks and answer within 5.
         */
        public Builder tickTime(Duration tickTime) {
            Objects.requireNonNull(tickTime, "tickTime");
            if (tickTime.toMillis() < 1 || tickTime.toMillis() > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("tickTime must be between 1 ms and 2^31 ms, was " + tickTime);
            }
            this.tickTime = tickTime;
            return this;
        }

        /** A further server property (zoo.cfg name), e.g. {@code maxSessionTimeout}. */
        public Builder property(String name, String value) {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(value, "value");
            if (name.isBlank()) {
                throw new IllegalArgumentException("property name must not be blank");
            }
            properties.put(name, value);
            return this;
        }

        /** The ensemble, not yet started (the JUnit extension or {@link ZooKeeperCluster#start()} starts it). */
        public ZooKeeperCluster build() {
            return new ZooKeeperCluster(this, Servers.tempDir("zookeeper"));
        }
    }
}
