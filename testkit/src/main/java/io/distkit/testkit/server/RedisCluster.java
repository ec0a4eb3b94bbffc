package io.distkit.testkit.server;

import io.distkit.testkit.server.RedisServer.Persistence;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A Redis Cluster of private {@code redis-server} nodes on loopback: N masters (3 by default) and R
 * replicas per master (0 by default), joined by {@code redis-cli --cluster create} and ready when
 * every node reports {@code cluster_state:ok} with all 16384 slots served and every replica in sync.
 *
 * <pre>{@code
 * @RegisterExtension static RedisCluster cluster = RedisCluster.builder().masters(3).replicasPerMaster(1).build();
 * ... RedisClusterClient.create(cluster.seedUris()...) ... cluster.nodeFor(key).kill(); cluster.heal();
 * }</pre>
 *
 * <p>Nodes are plain {@link RedisServer}s ({@link #node(int)}), so each can be killed, paused and
 * restarted; a restarted node keeps its {@code nodes.conf} and rejoins with its old identity. Roles
 * are not fixed: after a failover a former master serves as a replica, so ask {@link #masters()} or
 * {@link #nodeFor(String)}, which query the cluster, rather than assuming an index.
 */
public final class RedisCluster extends ClusterFixture {

    /** The number of hash slots of Redis Cluster. */
    public static final int SLOTS = 16_384;
    public static final int DEFAULT_MASTERS = 3;
    public static final int DEFAULT_REPLICAS_PER_MASTER = 0;
    /** Forming, or settling after a restart, includes failure detection and FAIL expiry (2 × node timeout). */
    private static final Duration SETTLE_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(2);

    private final int replicasPerMaster;
    private final List<RedisServer> nodes;
    private boolean created;

    private RedisCluster(Builder b) {
        super(Servers.tempDir("redis-cluster"));
        this.replicasPerMaster = b.replicasPerMaster;
        List<RedisServer> all = new ArrayList<>();
        for (int i = 0; i < b.masters * (1 + b.replicasPerMaster); i++) {
            // a replica's first sync would otherwise wait 5 s for more replicas to share the transfer
            all.add(RedisServer.builder().clusterNode().persistence(b.persistence)
                    .args("--repl-diskless-sync-delay", "0").build());
        }
        this.nodes = List.copyOf(all);
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Starts every node, joins them into a cluster the first time, and waits until it is healthy.
     * On failure the nodes are stopped and the message carries the tail of redis-cli's output.
     */
    @Override
    void startMembers() {
        try {
            nodes.forEach(RedisServer::start);
            if (!created) {
                create(Servers.requireBinary("redis-cli", "DISTKIT_REDIS_CLI_BIN", "redis-tools"));
                created = true;
            }
            awaitHealthy(SETTLE_TIMEOUT);
        } catch (RuntimeException e) {
            nodes.forEach(RedisServer::stop);
            throw e;
        }
    }

    /** Resumes paused nodes, starts killed ones, and waits until the cluster is healthy again. */
    @Override
    void healMembers() {
        for (RedisServer node : nodes) {
            node.resumeIfPaused();
            if (!node.isRunning()) {
                node.start();
            }
        }
        awaitHealthy(SETTLE_TIMEOUT);
    }

    /** Closes every node, which removes its directory; the cluster cannot be started again. */
    @Override
    void stopMembers() {
        nodes.forEach(RedisServer::close);
    }

    /** SIGKILLs node {@code index} (see {@link #node(int)}). */
    public void kill(int index) {
        node(index).kill();
    }

    /**
     * Starts node {@code index} again on its port, with its data (per persistence) and cluster identity,
     * and waits until it answers; {@link #awaitHealthy} waits until the cluster has taken it back.
     */
    public void restart(int index) {
        node(index).restart();
    }

    /**
     * Waits until every running, unpaused node reports {@code cluster_state:ok}, all slots served, all
     * nodes known, and (if it is a replica) its link to its master up.
     *
     * @throws IllegalStateException if that does not happen within {@code timeout}; names the node and its state
     */
    public void awaitHealthy(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String why = "";
        while (System.nanoTime() - deadline < 0) {
            why = unhealthyReason();
            if (why.isEmpty()) {
                return;
            }
            try {
                Thread.sleep(50); // polling child processes that offer no readiness signal
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for " + this, e);
            }
        }
        throw new IllegalStateException(this + " not healthy within " + timeout + ": " + why);
    }

    /** Every node, in creation order; redis-cli made the first {@code masters} of them the masters. */
    public List<RedisServer> nodes() {
        return nodes;
    }

    public RedisServer node(int index) {
        Objects.checkIndex(index, nodes.size());
        return nodes.get(index);
    }

    /** The nodes that are masters now, as they say themselves (running, unpaused nodes only). */
    public List<RedisServer> masters() {
        return nodes.stream().filter(RedisCluster::answers)
                .filter(node -> "master".equals(((List<?>) node.call("ROLE")).get(0)))
                .collect(Collectors.toList());
    }

    /** {@code redis://127.0.0.1:<port>} of every node, to seed a cluster client. */
    public List<String> seedUris() {
        return nodes.stream().map(RedisServer::uri).collect(Collectors.toList());
    }

    /**
     * The master serving {@code key}'s slot, according to {@code CLUSTER SLOTS} of the first node that
     * answers.
     *
     * @throws IllegalStateException if no node answers or the slot has no master
     */
    public RedisServer nodeFor(String key) {
        int slot = slot(key);
        RedisServer asked = nodes.stream().filter(RedisCluster::answers).findFirst()
                .orElseThrow(() -> new IllegalStateException("no node of " + this + " answers"));
        for (Object range : (List<?>) asked.call("CLUSTER", "SLOTS")) {
            List<?> r = (List<?>) range;
            if ((Long) r.get(0) <= slot && slot <= (Long) r.get(1)) {
                long port = (Long) ((List<?>) r.get(2)).get(1);
                return nodes.stream().filter(node -> node.port() == port).findFirst()
                        .orElseThrow(() -> new IllegalStateException("slot " + slot + " is served by unknown port " + port));
            }
        }
        throw new IllegalStateException("slot " + slot + " of '" + key + "' has no master according to " + asked);
    }

    /**
     * The hash slot of {@code key}: CRC16 (XMODEM) of its UTF-8 bytes modulo 16384, or of its hash tag,
     * the bytes between the first <code>{</code> and the next <code>}</code> if there are any.
     */
    public static int slot(String key) {
        byte[] bytes = key.getBytes(StandardCharsets.UTF_8);
        int from = 0;
        int to = bytes.length;
        int open = indexOf(bytes, (byte) '{', 0);
        if (open >= 0) {
            int close = indexOf(bytes, (byte) '}', open + 1);
            if (close > open + 1) {
                from = open + 1;
                to = close;
            }
        }
        int crc = 0;
        for (int i = from; i < to; i++) {
            crc ^= (bytes[i] & 0xff) << 8;
            for (int bit = 0; bit < 8; bit++) {
                crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
            }
        }
        return (crc & 0xffff) % SLOTS;
    }

    @Override
    public String toString() {
        return "redis cluster " + nodes.stream().map(node -> Integer.toString(node.port())).collect(Collectors.joining(","))
                + " (" + nodes.size() / (1 + replicasPerMaster) + " masters, " + replicasPerMaster + " replicas each)";
    }

    private void create(Path cli) {
        List<String> command = new ArrayList<>(List.of(cli.toString(), "--cluster", "create"));
        nodes.forEach(node -> command.add(node.host() + ":" + node.port()));
        command.addAll(List.of("--cluster-replicas", Integer.toString(replicasPerMaster), "--cluster-yes"));
        Path log = dir().resolve("redis-cli-create.log");
        try {
            // to a file rather than a pipe, so that a redis-cli that hangs cannot block the wait below
            Process process = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(log.toFile()).start();
            if (!process.waitFor(SETTLE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new IllegalStateException("'" + String.join(" ", command) + "' did not finish within "
                        + SETTLE_TIMEOUT + ":\n" + Files.readString(log));
            }
            if (process.exitValue() != 0) {
                throw new IllegalStateException("'" + String.join(" ", command) + "' failed:\n" + Files.readString(log));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not run " + cli, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating " + this, e);
        }
    }

    /** Empty if every reachable node is healthy, else why not. */
    private String unhealthyReason() {
        for (RedisServer node : nodes) {
            if (!answers(node)) {
                continue;
            }
            try {
                String info = String.valueOf(node.call("CLUSTER", "INFO"));
                if (!info.contains("cluster_state:ok") || !info.contains("cluster_slots_ok:" + SLOTS)
                        || !info.contains("cluster_known_nodes:" + nodes.size() + "\r")) {
                    return node + ": " + info.replace("\r\n", " ");
                }
                String replication = String.valueOf(node.call("INFO", "replication"));
                if (replication.contains("role:slave") && !replication.contains("master_link_status:up")) {
                    return node + ": replica not in sync";
                }
            } catch (RuntimeException e) {
                return node + ": " + e.getMessage(); // LOADING, or just restarted
            }
        }
        return "";
    }

    private static boolean answers(RedisServer node) {
        return node.isRunning() && !node.isPaused();
    }

    private static int indexOf(byte[] bytes, byte b, int from) {
        for (int i = from; i < bytes.length; i++) {
            if (bytes[i] == b) {
                return i;
            }
        }
        return -1;
    }

    /** Configures a {@link RedisCluster}. */
    public static final class Builder {
        private int masters = DEFAULT_MASTERS;
        private int replicasPerMaster = DEFAULT_REPLICAS_PER_MASTER;
        private Persistence persistence = Persistence.NONE;

        private Builder() {}

        /** The number of masters, at least 3 (redis-cli refuses fewer). */
        public Builder masters(int masters) {
            if (masters < 3) {
                throw new IllegalArgumentException("a Redis Cluster needs at least 3 masters: " + masters);
            }
            this.masters = masters;
            return this;
        }

        /** Replicas per master, 0 or more. */
        public Builder replicasPerMaster(int replicas) {
            if (replicas < 0) {
                throw new IllegalArgumentException("replicas per master must not be negative: " + replicas);
            }
            this.replicasPerMaster = replicas;
            return this;
        }

        /** What every node remembers across a restart; {@link Persistence#NONE} by default. */
        public Builder persistence(Persistence persistence) {
            this.persistence = Objects.requireNonNull(persistence, "persistence");
            return this;
        }

        /** The cluster, not started (the JUnit extension or {@link RedisCluster#start()} starts it). */
        public RedisCluster build() {
            return new RedisCluster(this);
        }
    }
}
