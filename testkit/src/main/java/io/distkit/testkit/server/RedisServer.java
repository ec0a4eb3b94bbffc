package io.distkit.testkit.server;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A private {@code redis-server} on a free loopback port with its own temp directory. Persistence
 * is chosen per test (none, AOF every second, AOF always): what a restart remembers is exactly what
 * the failure scenarios need to control. Several instances run side by side (Redlock needs five);
 * one can be a replica of another ({@code --replicaof}); one can run on a shifted wall clock.
 *
 * <pre>{@code
 * @RegisterExtension static RedisServer redis = RedisServer.builder().persistence(Persistence.NONE).build();
 * ... redis.uri() ... redis.kill(); redis.restart(); redis.call("DEL", key);
 * }</pre>
 */
public final class RedisServer extends LocalServer {

    /** What survives a restart. */
    public enum Persistence {
        /** Nothing: a restarted server is empty. */
        NONE,
        /** Append-only file, fsync every second: up to a second of writes lost on a crash. */
        AOF_EVERYSEC,
        /** Append-only file, fsync before every reply: nothing acknowledged is lost. */
        AOF_ALWAYS
    }

    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(5);

    private @Nullable Path binary;
    private final int port;
    /** The cluster bus port, 0 for a standalone server. */
    private final int busPort;
    private final Persistence persistence;
    private final @Nullable RedisServer master;
    private final boolean cluster;
    private final List<String> extraArgs;

    private RedisServer(Builder b, Path dir) {
        super("redis-server", dir, "redis.log", b.fakeTime);
        this.port = Servers.freePort();
        // Set explicitly because the default bus port, port + 10000, is above 65535 for ports past 55535
        // (a fifth of Linux's ephemeral range, which freePort draws from: redis-server then refuses to start)
        // and may be taken by someone else.
        this.busPort = b.cluster ? Servers.freePort() : 0;
        this.persistence = b.persistence;
        this.master = b.master;
        this.cluster = b.cluster;
        this.extraArgs = List.copyOf(b.extraArgs);
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    protected List<String> command() {
        List<String> command = new ArrayList<>(List.of(binary.toString(),
                "--port", Integer.toString(port), "--bind", "127.0.0.1", "--protected-mode", "no",
                "--dir", dir().toString(), "--save", "", "--daemonize", "no", "--loglevel", "notice"));
        if (persistence == Persistence.NONE) {
            command.addAll(List.of("--appendonly", "no"));
        } else {
            command.addAll(List.of("--appendonly", "yes", "--appendfsync",
                    persistence == Persistence.AOF_ALWAYS ? "always" : "everysec"));
        }
        if (master != null) {
            command.addAll(List.of("--replicaof", master.host(), Integer.toString(master.port())));
        }
        if (cluster) {
            command.addAll(List.of("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-port", Integer.toString(busPort), "--cluster-node-timeout", "2000"));
        }
        command.addAll(extraArgs);
        return command;
    }

    /** Waits for PONG (an error such as LOADING or a refused connection means not yet) and, for a replica, its master link. */
    @Override
    protected void awaitReady(Duration timeout) throws Exception {
        pollUntilReady(timeout, () -> "PONG".equals(call("PING")) && replicaReady());
    }

    private boolean replicaReady() {
        return master == null || String.valueOf(call("INFO", "replication")).contains("master_link_status:up");
    }

    /** Finds the binary, failing or skipping the test if it is missing. */
    @Override
    boolean prepareStart() {
        if (binary == null) {
            binary = Servers.requireBinary("redis-server", "DISTKIT_REDIS_BIN", "redis-server");
        }
        return true;
    }

    /** Runs one command on this server with a fresh connection; see {@link Resp#call}. */
    public Object call(String... args) {
        return Resp.call(host(), port, CALL_TIMEOUT, args);
    }

    /**
     * Shifts this server's wall clock; needs {@link Builder#fakeTime()}.
     *
     * @throws IllegalStateException if built without fakeTime() or not started
     */
    public void shiftClock(Duration offset) {
        shiftFakeClock(offset);
    }

    public String host() {
        return "127.0.0.1";
    }

    public int port() {
        return port;
    }

    /** {@code redis://127.0.0.1:<port>}. */
    public String uri() {
        return "redis://" + host() + ":" + port;
    }

    public Persistence persistence() {
        return persistence;
    }

    /** The directory holding the AOF, the log and, for cluster nodes, {@code nodes.conf}. */
    @Override
    public Path dir() {
        return super.dir();
    }

    @Override
    public String toString() {
        return "redis-server 127.0.0.1:" + port + " (" + persistence + (master != null ? ", replica of " + master.port : "")
                + (cluster ? ", cluster" : "") + ")";
    }

    /** Configures a {@link RedisServer}. */
    public static final class Builder {
        private Persistence persistence = Persistence.NONE;
        private @Nullable RedisServer master;
        private boolean cluster;
        private boolean fakeTime;
        private final List<String> extraArgs = new ArrayList<>();

        private Builder() {}

        public Builder persistence(Persistence persistence) {
            this.persistence = Objects.requireNonNull(persistence, "persistence");
            return this;
        }

        /** Makes this server a replica of {@code master}, which must be started first. */
        public Builder replicaOf(RedisServer master) {
            this.master = Objects.requireNonNull(master, "master");
            return this;
        }

        /** Starts the server as a cluster node (for a Redis Cluster). */
        public Builder clusterNode() {
            this.cluster = true;
            return this;
        }

        /** Runs the server with the clock-shift preload library ({@link FakeTime}) so that {@link RedisServer#shiftClock} works. */
        public Builder fakeTime() {
            this.fakeTime = true;
            return this;
        }

        /** Further {@code --name value} arguments for redis-server. */
        public Builder args(String... args) {
            extraArgs.addAll(List.of(args));
            return this;
        }

        /** The server, not yet started (the JUnit extension or {@link RedisServer#start()} starts it). */
        public RedisServer build() {
            return new RedisServer(this, Servers.tempDir("redis"));
        }
    }
}
