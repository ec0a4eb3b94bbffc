package io.distkit.lock.redis;

import io.distkit.common.DaemonThreads;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockOptions;
import io.distkit.lock.redis.internal.LockKeys;
import io.distkit.lock.spi.LockEngine;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.protocol.CommandType;
import io.lettuce.core.protocol.RedisCommand;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * Distributed locks with fencing tokens on Redis: a standalone server, a Sentinel-managed master or a
 * Redis Cluster, through Lettuce.
 *
 * <pre>{@code
 * try (LockClient client = RedisLockClient.builder("redis://localhost:6379").build()) {
 *     try (LockHandle handle = client.lock("invoice-42").acquire()) {
 *         store.write(invoice, handle.fencingToken());
 *     }
 * }
 * }</pre>
 *
 * <p>Each lock is one key, {@code <keyPrefix>{<encoded name>}}, holding its holder's owner value with the
 * lease as TTL, and a fence counter {@code ...:fence} that only grows (it stays in Redis after the lock is
 * released, by design: it is what keeps tokens increasing). Acquire, renew and release are one script
 * round trip each; waiters are woken by a release message on {@code ...:released}, one waiter per
 * release and client, and retry at the holder's lease expiry in case the holder crashed. Every key
 * shares one hash tag, so every script stays in one Cluster slot.
 *
 * <p>Redis replicates asynchronously: a lock acknowledged by a master that fails over before
 * replicating is lost, and a second client may take it. {@link Builder#waitForReplicas} narrows that
 * window; the fencing token is what makes it harmless at the protected resource.
 */
public final class RedisLockClient {

    /** The key prefix used unless {@link Builder#keyPrefix} sets another. */
    public static final String DEFAULT_KEY_PREFIX = "distkit:lock:";
    /** Longest key prefix accepted, in characters. */
    public static final int MAX_KEY_PREFIX_LENGTH = 200;
    /** How long one command may take unless {@link Builder#commandTimeout} sets another: 5 seconds. */
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(5);

    private RedisLockClient() {}

    /**
     * A builder for a client that creates (and on {@link LockClient#close()} shuts down) its own Lettuce
     * client for {@code uri}: {@code redis://[user:password@]host[:port][/db]}, {@code rediss://...} (TLS),
     * {@code redis://host1:port1,host2:port2,...} (Redis Cluster seeds) or
     * {@code redis-sentinel://host:port[,host:port...][/db]#masterId}. A single server that runs in
     * cluster mode is detected when connecting and used as a cluster seed.
     *
     * <p>The Lettuce client made here connects within the command timeout, reconnects by itself, and never
     * re-sends a {@code WAIT} after a reconnect (on the new connection its answer would not count the lock's
     * write). A command issued while disconnected waits for the reconnect at most the command timeout; a
     * timed-out command is completed in Lettuce, which never writes a completed command, so no lock command
     * runs at some unknown later time. Lock scripts in flight during a reconnect may be re-sent while their
     * caller still waits for them: acquire is idempotent per owner value, renew and release are
     * compare-and-set on it.
     *
     * @throws NullPointerException if {@code uri} is null
     * @throws IllegalArgumentException if {@code uri} is malformed; the message says why and shows the forms
     */
    public static Builder builder(String uri) {
        return new Builder(RedisEndpoint.parse(uri), null, null);
    }

    /**
     * A builder for a client on a Lettuce {@link RedisClient} the caller owns: it must have been created with
     * a {@link RedisURI} ({@code RedisClient.create(uri)}). The lock client opens its own connections
     * through it and closes them on {@link LockClient#close()}; it never shuts the Lettuce client down.
     *
     * @throws NullPointerException if {@code redisClient} is null
     */
    public static Builder builder(RedisClient redisClient) {
        return new Builder(null, Objects.requireNonNull(redisClient, "redisClient"), null);
    }

    /**
     * A builder for a client on a Lettuce {@link RedisClusterClient} the caller owns. The lock client opens
     * its own connections through it and closes them on {@link LockClient#close()}; it never shuts the
     * Lettuce client down.
     *
     * @throws NullPointerException if {@code clusterClient} is null
     */
    public static Builder builder(RedisClusterClient clusterClient) {
        return new Builder(null, null, Objects.requireNonNull(clusterClient, "clusterClient"));
    }

    /** The Redis key that holds lock {@code name} under {@code keyPrefix}; the fence and channel append a suffix. */
    static String lockKey(String keyPrefix, String name) {
        return LockKeys.lockKey(keyPrefix, name);
    }

    /**
     * Configures a Redis {@link LockClient}. Every setter checks its argument at once; {@link #build()}
     * connects.
     */
    public static final class Builder {

        private final @Nullable RedisEndpoint endpoint;
        private final @Nullable RedisClient redisClient;
        private final @Nullable RedisClusterClient clusterClient;
        private String keyPrefix = DEFAULT_KEY_PREFIX;
        private LockOptions defaultOptions = LockOptions.defaults();
        private int replicas;
        private Duration replicaTimeout = Duration.ZERO;
        private Duration commandTimeout = DEFAULT_COMMAND_TIMEOUT;
        private Duration spinWait = LockEngine.DEFAULT_SPIN_WAIT;

        private Builder(@Nullable RedisEndpoint endpoint, @Nullable RedisClient redisClient,
                @Nullable RedisClusterClient clusterClient) {
            this.endpoint = endpoint;
            this.redisClient = redisClient;
            this.clusterClient = clusterClient;
        }

        /**
         * The prefix of every key and channel this client uses; default {@value RedisLockClient#DEFAULT_KEY_PREFIX}.
         * Clients that should contend for the same locks need the same prefix.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if blank, longer than {@value RedisLockClient#MAX_KEY_PREFIX_LENGTH}
         *     characters, or containing <code>{</code> or <code>}</code> (which would move the Cluster hash tag
         *     off the lock name)
         */
        public Builder keyPrefix(String keyPrefix) {
            this.keyPrefix = LockKeys.checkPrefix(keyPrefix, MAX_KEY_PREFIX_LENGTH);
            return this;
        }

        /**
         * The options of {@link LockClient#lock(String)}; default {@link LockOptions#defaults()}.
         *
         * @throws NullPointerException if null
         */
        public Builder defaultOptions(LockOptions options) {
            this.defaultOptions = Objects.requireNonNull(options, "defaultOptions");
            return this;
        }

        /**
         * After each successful acquire, {@code WAIT replicas timeout} on the same connection: unless at least
         * {@code replicas} replicas acknowledged the lock's write within {@code timeout}, the lock is
         * released and the acquisition fails with a {@link LockBackendException} naming both numbers. This
         * narrows the window in which a failover loses an acknowledged lock; it does not close it (a replica
         * that acknowledged may still not be the one promoted). {@code WAIT} holds up the client's connection
         * while replicas lag, so keep {@code timeout} short. It must be at most half of every lease used.
         *
         * @throws NullPointerException if {@code timeout} is null
         * @throws IllegalArgumentException if {@code replicas} is not positive or {@code timeout} not positive
         */
        public Builder waitForReplicas(int replicas, Duration timeout) {
            Objects.requireNonNull(timeout, "timeout");
            if (replicas <= 0) {
                throw new IllegalArgumentException("waitForReplicas needs at least 1 replica, was " + replicas);
            }
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("the waitForReplicas timeout must be positive, was " + timeout
                        + " (WAIT with 0 would block until the replicas answer, however long that takes)");
            }
            this.replicas = replicas;
            this.replicaTimeout = timeout;
            return this;
        }

        /**
         * How long one Redis command may take before it counts as failed; default 5 s. Also the connect
         * timeout of a Lettuce client made by {@link RedisLockClient#builder(String)}. A timed-out acquire
         * is resolved by owner value: if it did take the lock, the lock is released.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not positive
         */
        public Builder commandTimeout(Duration timeout) {
            this.commandTimeout = LockEngine.checkCommandTimeout(timeout);
            return this;
        }

        /**
         * How long a blocking acquire or release spins for Redis's reply before parking its thread; default
         * 100 µs, {@link Duration#ZERO} turns it off. See {@link LockEngine.Builder#spinWait}: it saves the
         * thread wake-up (tens of microseconds on a VM) when Redis is near, and backs off by itself when not.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if negative or above 10 ms
         */
        public Builder spinWait(Duration budget) {
            this.spinWait = LockEngine.checkSpinWait(budget);
            return this;
        }

        /**
         * Connects and returns the client. Each call opens new connections (and, for a URI, a new Lettuce
         * client).
         *
         * @throws IllegalArgumentException if the default options conflict with {@link #waitForReplicas}, or
         *     the Lettuce client given cannot be used (the message says why)
         * @throws LockBackendException if Redis cannot be reached; the message names the endpoint and what to check
         */
        public LockClient build() {
            RedisLockBackend.checkOptions(defaultOptions, replicas, replicaTimeout); // before any connection
            RedisTopology topology = connect();
            try {
                RedisLockBackend backend = new RedisLockBackend(topology, keyPrefix, commandTimeout, replicas,
                        replicaTimeout);
                return LockEngine.builder(backend)
                        .defaultOptions(defaultOptions)
                        // a release is at most two commands (EVALSHA, then EVAL after NOSCRIPT)
                        .operationTimeout(commandTimeout.multipliedBy(2).plusSeconds(1))
                        .spinWait(spinWait)
                        .build();
            } catch (RuntimeException | Error e) {
                topology.close();
                throw e;
            }
        }

        private RedisTopology connect() {
            if (endpoint != null) {
                return connectOwned(endpoint);
            }
            if (redisClient != null) {
                return connectSupplied(redisClient);
            }
            return connectSuppliedCluster(Objects.requireNonNull(clusterClient));
        }

        private RedisTopology connectOwned(RedisEndpoint endpoint) {
            List<RedisURI> uris = endpoint.uris(commandTimeout);
            if (endpoint.kind == RedisEndpoint.Kind.CLUSTER) {
                return connectOwnedCluster(uris, endpoint.describe());
            }
            RedisClient client = RedisClient.create(uris.get(0));
            client.setOptions(clientOptions());
            StatefulRedisConnection<String, String> connection;
            try {
                connection = client.connect(StringCodec.UTF8);
            } catch (RuntimeException e) {
                shutdown(client);
                throw unreachable(endpoint.describe(), e);
            }
            if (endpoint.kind == RedisEndpoint.Kind.SINGLE) {
                boolean clusterMode;
                try {
                    clusterMode = await(connection.async().info("cluster").toCompletableFuture())
                            .contains("cluster_enabled:1");
                } catch (RuntimeException e) {
                    connection.close();
                    shutdown(client);
                    throw unreachable(endpoint.describe(), e);
                }
                if (clusterMode) {
                    connection.close();
                    shutdown(client);
                    return connectOwnedCluster(uris, "redis cluster " + endpoint.hosts);
                }
            }
            RedisURI uri = uris.get(0);
            return new StandaloneTopology(connection, endpoint.describe(),
                    () -> client.connectPubSubAsync(StringCodec.UTF8, uri), () -> shutdown(client));
        }

        private RedisTopology connectOwnedCluster(List<RedisURI> seeds, String description) {
            RedisClusterClient client = RedisClusterClient.create(seeds);
            client.setOptions(clusterOptions());
            StatefulRedisClusterConnection<String, String> connection;
            try {
                connection = client.connect(StringCodec.UTF8);
            } catch (RuntimeException e) {
                shutdown(client);
                throw unreachable(description, e);
            }
            return new ClusterTopology(client, connection, description, () -> shutdown(client));
        }

        private RedisTopology connectSupplied(RedisClient client) {
            StatefulRedisConnection<String, String> connection;
            try {
                connection = client.connect(StringCodec.UTF8);
            } catch (IllegalStateException e) {
                throw new IllegalArgumentException("the RedisClient has no RedisURI to connect to: create it with"
                        + " RedisClient.create(uri), or pass the URI to RedisLockClient.builder(String)", e);
            } catch (RuntimeException e) {
                throw unreachable("redis (the supplied RedisClient's server)", e);
            }
            String description;
            try {
                if (await(connection.async().info("cluster").toCompletableFuture()).contains("cluster_enabled:1")) {
                    connection.close();
                    throw new IllegalArgumentException("the RedisClient is connected to a Redis Cluster node:"
                            + " pass a RedisClusterClient to RedisLockClient.builder instead");
                }
                description = "redis " + serverAddress(connection);
            } catch (RuntimeException e) {
                if (e instanceof IllegalArgumentException) {
                    throw e;
                }
                connection.close();
                throw unreachable("redis (the supplied RedisClient's server)", e);
            }
            // without the client's RedisURI there is no async pub/sub connect: open it off the caller's thread
            return new StandaloneTopology(connection, description,
                    () -> CompletableFuture.supplyAsync(() -> client.connectPubSub(StringCodec.UTF8), CONNECTOR),
                    () -> {});
        }

        private RedisTopology connectSuppliedCluster(RedisClusterClient client) {
            StatefulRedisClusterConnection<String, String> connection;
            try {
                connection = client.connect(StringCodec.UTF8);
            } catch (RuntimeException e) {
                throw unreachable("redis cluster (the supplied RedisClusterClient's seeds)", e);
            }
            String masters = connection.getPartitions().getPartitions().stream()
                    .filter(node -> node.is(RedisClusterNode.NodeFlag.UPSTREAM))
                    .map(node -> node.getUri().getHost() + ":" + node.getUri().getPort())
                    .sorted().collect(Collectors.joining(","));
            return new ClusterTopology(client, connection, "redis cluster " + masters, () -> {});
        }

        /** The server's own address of this connection ({@code CLIENT INFO laddr}, Redis 6.2+), else "?". */
        private String serverAddress(StatefulRedisConnection<String, String> connection) {
            try {
                String info = await(connection.async().clientInfo().toCompletableFuture());
                for (String field : info.strip().split(" ")) {
                    if (field.startsWith("laddr=")) {
                        return field.substring("laddr=".length());
                    }
                }
            } catch (RuntimeException olderServer) {
                // CLIENT INFO is Redis 6.2+; the description is only for messages
            }
            return "(server of the supplied RedisClient)";
        }

        private String await(CompletableFuture<String> reply) {
            try {
                return reply.get(commandTimeout.toNanos(), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while connecting", e);
            } catch (ExecutionException e) {
                throw e.getCause() instanceof RuntimeException runtime ? runtime : new IllegalStateException(e.getCause());
            } catch (java.util.concurrent.TimeoutException e) {
                reply.cancel(false);
                throw new IllegalStateException("no reply within " + commandTimeout, e);
            }
        }

        private ClientOptions clientOptions() {
            ClientOptions.Builder options = ClientOptions.builder();
            configure(options);
            return options.build();
        }

        private ClusterClientOptions clusterOptions() {
            ClusterClientOptions.Builder options = ClusterClientOptions.builder();
            configure(options);
            // Lettuce 7 enables every adaptive topology refresh trigger (MOVED, ASK, reconnects...) by default
            return options.build();
        }

        private void configure(ClientOptions.Builder options) {
            options.autoReconnect(true);
            // commands issued while (re)connecting wait for the connection, but never beyond the backend's
            // command timeout: a timed-out command is completed, and Lettuce never writes a completed command
            options.disconnectedBehavior(ClientOptions.DisconnectedBehavior.ACCEPT_COMMANDS);
            options.socketOptions(SocketOptions.builder().connectTimeout(commandTimeout).keepAlive(true).build());
            options.replayFilter(RedisLockClient::neverReplay);
        }

        private static LockBackendException unreachable(String description, Throwable failure) {
            String detail = failure.getMessage();
            Throwable root = failure;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            if (root != failure && root.getMessage() != null) {
                detail = detail + ": " + root.getMessage();
            }
            return new LockBackendException(null, "cannot connect to " + description + " (" + detail + "); check"
                    + " that Redis is running there and reachable from this host (address, port, firewall, TLS and"
                    + " password settings)", failure);
        }
    }

    /**
     * Lettuce re-sends commands that were in flight when a connection dropped. Never a {@code WAIT}: on the
     * new connection it would count writes that connection never made, and report replicas as caught up.
     */
    static boolean neverReplay(RedisCommand<?, ?, ?> command) {
        return command.getType() == CommandType.WAIT;
    }

    /** A daemon thread per blocking connect: rare (once per client), and never on a caller's or Lettuce's thread. */
    private static final Executor CONNECTOR = task -> DaemonThreads.start("redis-connect", task);

    private static void shutdown(io.lettuce.core.AbstractRedisClient client) {
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
}
