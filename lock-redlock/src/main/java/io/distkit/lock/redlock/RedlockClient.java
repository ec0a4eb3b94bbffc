package io.distkit.lock.redlock;

import io.distkit.common.CallTimeouts;
import io.distkit.common.DaemonThreads;
import io.distkit.common.Durations;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockOptions;
import io.distkit.lock.redis.internal.CommandBound;
import io.distkit.lock.redis.internal.LockKeys;
import io.distkit.lock.spi.LockEngine;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.RedisClusterURIUtil;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * Redlock: locks with fencing tokens held by a quorum of independent Redis masters, through Lettuce.
 *
 * <pre>{@code
 * try (LockClient client = RedlockClient.builder("redlock://redis-a:6379,redis-b:6379,redis-c:6379").build()) {
 *     try (LockHandle handle = client.lock("invoice-42").acquire()) {
 *         store.write(invoice, handle.fencingToken());
 *     }
 * }
 * }</pre>
 *
 * <p>A lock is held when more than half of the nodes hold its key ({@code <keyPrefix>{<encoded name>}}) for
 * the same owner value, with time left on the lease: the acquire goes to every node at once and counts
 * votes, so a minority of nodes may be down, slow or partitioned away without stopping anyone. The fencing
 * token is the largest of the granting nodes' fence counters, written back to a quorum before the acquire
 * returns, so tokens strictly increase across holders even though no node sees them all. Waiters are woken
 * by release messages from the nodes, and retry at the holder's expiry in case the holder crashed.
 *
 * <p><b>When to use it.</b> Redlock tolerates the loss of a minority of Redis masters, where one Redis
 * (even with replicas: replication is asynchronous) can lose an acknowledged lock in a failover. It still
 * rests on timing: a client paused past its lease, or a node whose clock jumps, can leave two clients
 * believing they hold the lock, which is why every write to the protected resource must carry the
 * fencing token and be refused when it is not the largest seen. Where a consensus store is at hand,
 * etcd or ZooKeeper locks need no such timing assumptions for their exclusion.
 *
 * <p><b>Restarted nodes.</b> A node that restarts without persistence forgets the locks it held and could
 * grant them again to a second client. The {@link RestartSafeguard} (default {@link
 * RestartSafeguard#DELAYED_TRUST}) counts the votes of such a node only once it has been up for
 * {@link Builder#maxLeaseTime}; nodes with {@code appendfsync always} count at once.
 */
public final class RedlockClient {

    /** The key prefix used unless {@link Builder#keyPrefix} sets another. */
    public static final String DEFAULT_KEY_PREFIX = "distkit:redlock:";
    /** Longest key prefix accepted, in characters. */
    public static final int MAX_KEY_PREFIX_LENGTH = 200;
    /** How long one node may take to answer one command unless {@link Builder#nodeTimeout} sets another. */
    public static final Duration DEFAULT_NODE_TIMEOUT = Duration.ofMillis(100);
    /** How long connecting and checking the nodes may take unless {@link Builder#connectTimeout} sets another. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /** The URI schemes: {@code redlock} and {@code redlocks} (TLS). */
    static final Set<String> SCHEMES = Set.of("redlock", "redlocks");

    private RedlockClient() {}

    /**
     * A builder for {@code redlock://[user:password@]host1:port1,host2:port2,host3:port3[/db]} (or
     * {@code redlocks://} for TLS): one independent Redis master per host, each with the same credentials
     * and database. The client creates (and on close shuts down) its own Lettuce clients. Query parameters
     * set the builder's options: {@code maxLeaseTime}, {@code nodeTimeout} (durations such as {@code 200ms},
     * {@code 30s}, {@code 2m}) and {@code restartSafeguard} ({@code DELAYED_TRUST}, {@code
     * REQUIRE_FSYNC_ALWAYS}, {@code NONE}), e.g. {@code redlock://a:6379,b:6379,c:6379?maxLeaseTime=2m}.
     *
     * @throws NullPointerException if {@code uri} is null
     * @throws IllegalArgumentException if the URI is malformed; the message says why
     */
    public static Builder builder(String uri) {
        Builder builder = new Builder(parse(uri), null);
        applyQuery(builder, uri);
        return builder;
    }

    /**
     * A builder over one {@code redis://} or {@code rediss://} URI per master, e.g.
     * {@code List.of("redis://a:6379", "redis://b:6379", "redis://c:6379")}.
     *
     * @throws NullPointerException if the list or an element is null
     * @throws IllegalArgumentException if an element is not a single-server Redis URI
     */
    public static Builder builder(List<String> nodeUris) {
        Objects.requireNonNull(nodeUris, "nodeUris");
        List<RedisURI> uris = new ArrayList<>(nodeUris.size());
        for (String text : nodeUris) {
            Objects.requireNonNull(text, "a node URI");
            String scheme = text.contains("://") ? text.substring(0, text.indexOf("://")).toLowerCase(Locale.ROOT) : "";
            if (!scheme.equals("redis") && !scheme.equals("rediss")) {
                throw new IllegalArgumentException("each Redlock node needs a redis:// or rediss:// URI of one master,"
                        + " was '" + redact(text) + "'");
            }
            try {
                uris.add(RedisURI.create(text));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("malformed Redlock node URI '" + redact(text) + "': "
                        + e.getMessage(), e);
            }
        }
        return new Builder(uris, null);
    }

    /**
     * A builder over Lettuce clients the caller owns, one per master, each created with its {@link RedisURI}
     * ({@code RedisClient.create(uri)}). The lock client opens its own connections through them and closes
     * them on close; it never shuts the Lettuce clients down. Their {@code ClientOptions} are the caller's:
     * votes across a reconnect are never counted either way.
     *
     * @throws NullPointerException if the array or an element is null
     */
    public static Builder builder(RedisClient... clients) {
        Objects.requireNonNull(clients, "clients");
        for (RedisClient client : clients) {
            Objects.requireNonNull(client, "a RedisClient");
        }
        return new Builder(null, List.of(clients));
    }

    /** The Redis key that holds lock {@code name} under {@code keyPrefix} on every node. */
    static String lockKey(String keyPrefix, String name) {
        return LockKeys.lockKey(keyPrefix, name);
    }

    static List<RedisURI> parse(String text) {
        Objects.requireNonNull(text, "uri");
        URI uri;
        try {
            uri = new URI(text.strip());
        } catch (URISyntaxException e) {
            throw bad(text, e.getReason() + " at index " + e.getIndex());
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!SCHEMES.contains(scheme)) {
            throw bad(text, "the scheme must be redlock or redlocks (TLS), was '" + scheme + "'");
        }
        if (uri.getRawAuthority() == null || uri.getRawAuthority().isEmpty()) {
            throw bad(text, "it names no hosts");
        }
        String path = uri.getRawPath();
        if (path != null && !path.isEmpty() && !path.equals("/") && !path.matches("/\\d+")) {
            throw bad(text, "the path must be empty or a database number such as /0, was '" + path + "'");
        }
        String redis = (scheme.equals("redlocks") ? "rediss" : "redis") + text.strip().substring(scheme.length());
        int query = redis.indexOf('?');
        if (query >= 0) {
            redis = redis.substring(0, query); // our options, read by applyQuery
        }
        try {
            return RedisClusterURIUtil.toRedisURIs(new URI(redis));
        } catch (URISyntaxException | IllegalArgumentException | IllegalStateException e) {
            throw bad(text, String.valueOf(e.getMessage()));
        }
    }

    /** Applies the URI's query parameters ({@code maxLeaseTime}, {@code nodeTimeout}, {@code restartSafeguard}). */
    private static void applyQuery(Builder builder, String text) {
        int start = text.indexOf('?');
        if (start < 0) {
            return;
        }
        for (String pair : text.substring(start + 1).split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String key = eq < 0 ? pair : pair.substring(0, eq);
            String value = eq < 0 ? "" : pair.substring(eq + 1);
            try {
                switch (key) {
                    case "maxLeaseTime" -> builder.maxLeaseTime(Durations.parse(value));
                    case "nodeTimeout" -> builder.nodeTimeout(Durations.parse(value));
                    case "restartSafeguard" -> builder.restartSafeguard(RestartSafeguard.valueOf(value.toUpperCase(Locale.ROOT)));
                    default -> throw new IllegalArgumentException("unknown parameter '" + key + "'; known:"
                            + " maxLeaseTime, nodeTimeout, restartSafeguard");
                }
            } catch (IllegalArgumentException e) {
                throw bad(text, "query parameter '" + pair + "': " + e.getMessage());
            }
        }
    }

    private static IllegalArgumentException bad(String text, String why) {
        return new IllegalArgumentException("malformed Redlock URI '" + redact(text) + "': " + why
                + "; expected redlock://[user:password@]host1:port1,host2:port2,host3:port3[/db] (redlocks:// for TLS)");
    }

    /** The URI with any password replaced by {@code ***}. */
    static String redact(String text) {
        return text.replaceAll("(://[^:/@,]*:)[^@/]*@", "$1***@");
    }

    /**
     * Configures a Redlock {@link LockClient}. Every setter checks its argument at once; {@link #build()}
     * connects to every node and checks it.
     */
    public static final class Builder {

        private final @Nullable List<RedisURI> uris;
        private final @Nullable List<RedisClient> clients;
        private String keyPrefix = DEFAULT_KEY_PREFIX;
        private LockOptions defaultOptions = LockOptions.defaults();
        private Duration nodeTimeout = DEFAULT_NODE_TIMEOUT;
        private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
        private @Nullable Duration maxLeaseTime;
        private RestartSafeguard safeguard = RestartSafeguard.DELAYED_TRUST;
        private Duration spinWait = Duration.ZERO;

        private Builder(@Nullable List<RedisURI> uris, @Nullable List<RedisClient> clients) {
            this.uris = uris;
            this.clients = clients;
        }

        /**
         * The prefix of every key and channel, the same on every node; default {@value #DEFAULT_KEY_PREFIX_TEXT}.
         * Clients that should contend for the same locks need the same prefix and the same nodes.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if blank, longer than {@value RedlockClient#MAX_KEY_PREFIX_LENGTH}
         *     characters, or containing <code>{</code> or <code>}</code>
         */
        public Builder keyPrefix(String keyPrefix) {
            this.keyPrefix = LockKeys.checkPrefix(keyPrefix, MAX_KEY_PREFIX_LENGTH);
            return this;
        }

        private static final String DEFAULT_KEY_PREFIX_TEXT = DEFAULT_KEY_PREFIX;

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
         * How long one node may take to answer one command before its answer counts as missing; default 100 ms.
         * Keep it far below the lease (every lease must be at least 10 times it): an acquire's validity is the
         * lease minus the time its quorum took. A silent minority costs nothing, since an acquire is decided as
         * soon as a quorum answered; a silent majority fails the acquire after one node timeout.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not positive
         */
        public Builder nodeTimeout(Duration timeout) {
            this.nodeTimeout = LockEngine.checkCommandTimeout(timeout);
            return this;
        }

        /**
         * How long connecting to the nodes and checking them (role, {@code run_id}, persistence) may take when
         * the client is built; default 5 s. Also the connect timeout of the Lettuce clients it creates.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not positive
         */
        public Builder connectTimeout(Duration timeout) {
            this.connectTimeout = LockEngine.checkCommandTimeout(timeout);
            return this;
        }

        /**
         * The longest lease any client uses on these nodes; default the lease of {@link #defaultOptions}. With
         * {@link RestartSafeguard#DELAYED_TRUST} a node's votes count only once it has been up this long, and
         * a lock with a longer lease is refused. Every client of the same nodes should use the same value.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not positive
         */
        public Builder maxLeaseTime(Duration maxLeaseTime) {
            Objects.requireNonNull(maxLeaseTime, "maxLeaseTime");
            if (maxLeaseTime.isNegative() || maxLeaseTime.isZero()) {
                throw new IllegalArgumentException("maxLeaseTime must be positive, was " + maxLeaseTime);
            }
            this.maxLeaseTime = maxLeaseTime;
            return this;
        }

        /**
         * How votes of restarted nodes are treated; default {@link RestartSafeguard#DELAYED_TRUST}.
         *
         * @throws NullPointerException if null
         */
        public Builder restartSafeguard(RestartSafeguard safeguard) {
            this.safeguard = Objects.requireNonNull(safeguard, "restartSafeguard");
            return this;
        }

        /**
         * How long a blocking acquire or release spins for the answer before parking its thread; see
         * {@link LockEngine.Builder#spinWait}. Default {@link Duration#ZERO} (no spinning), unlike the single-server
         * backends: a Redlock answer waits for a quorum of servers, longer than a spin pays for, and a spinning
         * caller takes a core from those servers and from the client's event loops when they share a machine
         * (measured with {@code RedlockBenchmark}: 0.68 × the bare quorum loop with the 100 µs spin, 0.86 ×
         * without).
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if negative or above 10 ms
         */
        public Builder spinWait(Duration budget) {
            this.spinWait = LockEngine.checkSpinWait(budget);
            return this;
        }

        /**
         * Connects to every node, checks each, and returns the client.
         *
         * @throws IllegalArgumentException if there are fewer than 3 nodes or an even number, two URIs name
         *     the same server, a node is a replica (or lacks {@code appendfsync always} under {@link
         *     RestartSafeguard#REQUIRE_FSYNC_ALWAYS}), or the default options break the rules of {@link
         *     #nodeTimeout} and {@link #maxLeaseTime}
         * @throws LockBackendException if a node cannot be reached or checked within the connect timeout
         */
        public LockClient build() {
            int count = uris != null ? uris.size() : Objects.requireNonNull(clients).size();
            if (count < 3 || count % 2 == 0) {
                throw new IllegalArgumentException("Redlock needs an odd number of independent Redis masters, at least"
                        + " 3, was " + count + (count % 2 == 0 && count > 0 ? " (an even number adds a node without"
                        + " adding a tolerated failure: the quorum of " + count + " is " + (count / 2 + 1) + ")" : ""));
            }
            Duration maxLease = maxLeaseTime != null ? maxLeaseTime : defaultOptions.leaseTime();
            RedlockBackend.checkOptions(defaultOptions, nodeTimeout, maxLease, safeguard); // before any connection
            if (uris != null) {
                checkDistinct(uris);
            }
            List<RedlockNode> nodes = new ArrayList<>(count);
            List<Runnable> shutdownOwned = new ArrayList<>();
            CallTimeouts timeouts = null;
            try {
                ClientResources resources;
                if (uris != null) {
                    DefaultClientResources owned = DefaultClientResources.builder().build();
                    shutdownOwned.add(() -> owned.shutdown(0, 2, TimeUnit.SECONDS));
                    resources = owned;
                } else {
                    resources = clients.get(0).getResources();
                }
                timeouts = new CallTimeouts(nodeTimeout, resources.eventExecutorGroup(), "redlock");
                CallTimeouts bound = timeouts;
                CommandBound commandBound = new CommandBound() {
                    @Override
                    public <T> CompletableFuture<T> bound(io.lettuce.core.RedisFuture<T> command) {
                        CompletableFuture<T> future = command.toCompletableFuture();
                        bound.bound(future);
                        return future;
                    }
                };
                for (int i = 0; i < count; i++) {
                    RedlockNode node = uris != null ? connectOwned(uris.get(i), resources, commandBound, maxLease)
                            : connectSupplied(clients.get(i), i, commandBound, maxLease);
                    nodes.add(node);
                }
                checkNodes(nodes);
                RedlockBackend backend = new RedlockBackend(nodes, keyPrefix, nodeTimeout, maxLease, safeguard, timeouts,
                        resources.eventExecutorGroup(), () -> shutdownOwned.forEach(Runnable::run));
                LockClient client = LockEngine.builder(backend)
                        .defaultOptions(defaultOptions)
                        // a release is at most two commands per node (EVALSHA, then EVAL after NOSCRIPT), sent at once
                        .operationTimeout(nodeTimeout.multipliedBy(4).plusSeconds(1))
                        .spinWait(spinWait)
                        .build();
                return client;
            } catch (RuntimeException | Error e) {
                for (RedlockNode node : nodes) {
                    try {
                        node.close();
                    } catch (RuntimeException ignored) {
                        // closing the others matters more
                    }
                }
                if (timeouts != null) {
                    timeouts.close();
                }
                shutdownOwned.forEach(Runnable::run);
                throw e;
            }
        }

        private RedlockNode connectOwned(RedisURI original, ClientResources resources, CommandBound bound,
                Duration maxLease) {
            RedisURI uri = RedisURI.builder(original).build();
            uri.setTimeout(connectTimeout);
            String address = uri.getHost() + ":" + uri.getPort();
            RedisClient client = RedisClient.create(resources, uri);
            client.setOptions(ClientOptions.builder()
                    .autoReconnect(true)
                    // fail commands at once while disconnected: the quorum decides without this node
                    .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                    .socketOptions(SocketOptions.builder().connectTimeout(connectTimeout).keepAlive(true).build())
                    // never re-send a command after a reconnect: it may reach a restarted process
                    .replayFilter(command -> true)
                    .build());
            StatefulRedisConnection<String, String> connection;
            try {
                connection = client.connect(StringCodec.UTF8);
            } catch (RuntimeException e) {
                client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
                throw unreachable(address, e);
            }
            return new RedlockNode(address, connection, bound, nodeTimeout,
                    () -> client.connectPubSubAsync(StringCodec.UTF8, uri), safeguard, maxLease, connectTimeout,
                    () -> client.shutdown(Duration.ZERO, Duration.ofSeconds(2)));
        }

        private RedlockNode connectSupplied(RedisClient client, int index, CommandBound bound, Duration maxLease) {
            StatefulRedisConnection<String, String> connection;
            try {
                connection = client.connect(StringCodec.UTF8);
            } catch (IllegalStateException e) {
                throw new IllegalArgumentException("a RedisClient has no RedisURI to connect to: create it with"
                        + " RedisClient.create(uri), or pass the URIs to RedlockClient.builder", e);
            } catch (RuntimeException e) {
                throw unreachable("(a supplied RedisClient's server)", e);
            }
            String address = "#" + (index + 1) + " (a supplied RedisClient)";
            return new RedlockNode(address, connection, bound, nodeTimeout,
                    () -> CompletableFuture.supplyAsync(() -> client.connectPubSub(StringCodec.UTF8), CONNECTOR),
                    safeguard, maxLease, connectTimeout, () -> {});
        }

        /** Checks every node at once: role, persistence, and that no two are the same server. */
        private void checkNodes(List<RedlockNode> nodes) {
            List<CompletableFuture<RedlockNode.Trust>> checks = nodes.stream().map(RedlockNode::check).toList();
            Map<String, String> byRunId = new HashMap<>();
            for (int i = 0; i < nodes.size(); i++) {
                RedlockNode node = nodes.get(i);
                RedlockNode.Trust trust;
                try {
                    trust = checks.get(i).get(connectTimeout.toNanos(), TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new LockBackendException(null, "interrupted while checking Redlock node " + node.address, e);
                } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                    throw unreachable(node.address, e instanceof ExecutionException ? e.getCause() : e);
                }
                if (trust.refusal() != null) {
                    throw new IllegalArgumentException("Redlock node " + node.address + " " + trust.refusal());
                }
                String other = byRunId.putIfAbsent(trust.runId(), node.address);
                if (other != null) {
                    throw new IllegalArgumentException("Redlock nodes " + other + " and " + node.address + " are the"
                            + " same Redis server (run_id " + trust.runId() + "): a quorum needs independent masters");
                }
            }
        }

        private static void checkDistinct(List<RedisURI> uris) {
            Map<String, Integer> seen = new HashMap<>();
            for (RedisURI uri : uris) {
                String key = uri.getHost().toLowerCase(Locale.ROOT) + ":" + uri.getPort();
                if (seen.merge(key, 1, Integer::sum) > 1) {
                    throw new IllegalArgumentException("Redlock node " + key + " is named twice: each vote must come"
                            + " from an independent master");
                }
            }
        }

        private static LockBackendException unreachable(String address, Throwable failure) {
            String detail = failure.getMessage();
            Throwable root = failure;
            while (root.getCause() != null && root.getCause() != root) {
                root = root.getCause();
            }
            if (root != failure && root.getMessage() != null) {
                detail = detail + ": " + root.getMessage();
            }
            return new LockBackendException(null, "cannot connect to Redlock node " + address + " (" + detail
                    + "); every node must be reachable when the client is built: check that Redis is running there"
                    + " and reachable from this host (address, port, firewall, TLS and password settings)", failure);
        }
    }

    /** A daemon thread per blocking pub/sub connect on a supplied client: rare, never on a caller's or Lettuce's thread. */
    private static final Executor CONNECTOR = task -> DaemonThreads.start("redlock-connect", task);
}
