package io.distkit.id.backends.redis;

import io.distkit.id.IdGenerator;
import io.distkit.id.IdStore;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.backends.AllocatedCounter;
import io.distkit.id.backends.LockedWorkerIdAssigner;
import io.distkit.lock.LockOptions;
import io.distkit.lock.redis.RedisLockClient;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.TimeoutOptions;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Ids on one Redis server (a master; or a Sentinel-managed master): counters that are {@code INCRBY}s, segments
 * of ids, and worker ids leased as Redis locks with their marks beside them, all under one key prefix and over
 * one connection.
 *
 * <pre>{@code
 * try (RedisIdStore store = RedisIdStore.builder("redis://localhost:6379").build()) {
 *     IdGenerator orders = store.counter("orders");          // INCRBY distkit:ids:segment:orders 1
 *     long id = orders.nextId();
 * }
 * }</pre>
 *
 * <p>A counter and the segments of the same tag share one key: {@code counter("orders")} and a {@code
 * SegmentIdGenerator} on tag {@code orders} never hand out the same id. Keys: {@code <prefix>segment:<tag>}
 * (the last id reserved), {@code <prefix>mark:<lock name>} (a worker id's mark); the worker-id locks are
 * lock-redis locks named {@code distkit-ids/worker-<n>}.
 *
 * <p>By default the server must persist every write before replying ({@link RewindGuard#REQUIRE_FSYNC_ALWAYS}):
 * otherwise a crash or a restart makes it hand out ids again.
 */
public final class RedisIdStore implements IdStore {

    /** The key prefix unless {@link Builder#keyPrefix} sets another. */
    public static final String DEFAULT_KEY_PREFIX = "distkit:ids:";
    /** Lettuce's {@code timeout} parameter in a URI's query. */
    private static final Pattern URI_TIMEOUT = Pattern.compile("(^|&)timeout=");
    /** How long one command may take unless {@link Builder#commandTimeout} sets another: 5 seconds. */
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(5);
    /** The worker-id lease unless {@link Builder#workerLeaseTime} sets another. */
    public static final Duration DEFAULT_WORKER_LEASE_TIME = LockOptions.DEFAULT_LEASE_TIME;

    private final Builder config;
    private final RedisClient client;
    private final boolean ownsClient;
    private final RedisIdServer server;
    private final RedisSegmentAllocator allocator;
    private final List<AutoCloseable> handedOut = new ArrayList<>();
    private @Nullable WorkerIdAssigner assigner;
    private boolean closed;

    private RedisIdStore(Builder config, RedisClient client, boolean ownsClient, RedisIdServer server) {
        this.config = config;
        this.client = client;
        this.ownsClient = ownsClient;
        this.server = server;
        this.allocator = new RedisSegmentAllocator(server, config.keyPrefix);
    }

    /**
     * A builder for a store that creates (and on {@link #close()} shuts down) its own Lettuce client for {@code
     * uri}: {@code redis://[user:password@]host[:port][/db]}, {@code rediss://...} (TLS) or {@code
     * redis-sentinel://host:port[,host:port...][/db]#masterId}. Lettuce's {@code timeout=} parameter, if the URI
     * has one, is the command timeout unless {@link Builder#commandTimeout} sets another.
     *
     * @throws NullPointerException if {@code uri} is null
     * @throws IllegalArgumentException if {@code uri} is malformed
     */
    public static Builder builder(String uri) {
        Objects.requireNonNull(uri, "uri");
        RedisURI parsed;
        try {
            parsed = RedisURI.create(uri);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("malformed Redis URI for ids: " + e.getMessage() + "; expected"
                    + " redis://[user:password@]host[:port][/db], rediss://... or redis-sentinel://host:port#master", e);
        }
        Builder builder = new Builder(parsed, null);
        int hash = uri.indexOf('#');
        String beforeFragment = hash < 0 ? uri : uri.substring(0, hash);
        int question = beforeFragment.indexOf('?');
        if (question >= 0 && URI_TIMEOUT.matcher(beforeFragment.substring(question + 1)).find()) {
            builder.commandTimeout(parsed.getTimeout()); // Lettuce's own parameter, unless commandTimeout sets another
        }
        return builder;
    }

    /**
     * A builder for a store on a Lettuce {@link RedisClient} the caller owns (created with a {@link RedisURI}):
     * the store opens its own connections and closes them on {@link #close()}, never the client.
     */
    public static Builder builder(RedisClient client) {
        return new Builder(null, Objects.requireNonNull(client, "client"));
    }

    @Override
    public String describe() {
        return "Redis at " + server.address() + " (keys " + config.keyPrefix + "*, rewind guard " + config.guard + ")";
    }

    /** {@inheritDoc} Each id is one {@code INCRBY} of the tag's key; the ids start at 1. */
    @Override
    public IdGenerator counter(String name) {
        checkOpen();
        return AllocatedCounter.of(allocator, name);
    }

    @Override
    public synchronized RedisSegmentAllocator segmentAllocator() {
        checkOpen();
        return allocator;
    }

    /**
     * {@inheritDoc} Worker id {@code n} is the lock-redis lock {@code distkit-ids/worker-<n>} (on its own
     * connection), renewed in the background; its mark is fenced by the lock's fencing token.
     */
    @Override
    public synchronized WorkerIdAssigner workerIdAssigner() {
        checkOpen();
        if (assigner == null) {
            assigner = newAssigner();
            handedOut.add(assigner);
        }
        return assigner;
    }

    private WorkerIdAssigner newAssigner() {
        var locks = RedisLockClient.builder(client).commandTimeout(config.commandTimeout)
                .keyPrefix(config.keyPrefix + "lock:").build();
        try {
            return LockedWorkerIdAssigner.builder(locks, new RedisWorkerMarkStore(server, config.keyPrefix))
                    .leaseTime(config.workerLeaseTime).closeLockClientWithAssigner().build();
        } catch (RuntimeException | Error e) {
            locks.close();
            throw e;
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the Redis id store for " + server.address() + " is closed");
        }
    }

    @Override
    public void close() {
        List<AutoCloseable> toClose;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            toClose = List.copyOf(handedOut);
        }
        for (AutoCloseable resource : toClose) {
            try {
                resource.close();
            } catch (Exception e) {
                // the connection goes next either way
            }
        }
        server.close();
    }

    @Override
    public String toString() {
        return describe();
    }

    /** Configures a {@link RedisIdStore}; every setter checks its argument at once, {@link #build()} connects. */
    public static final class Builder {
        private final @Nullable RedisURI uri;
        private final @Nullable RedisClient client;
        private String keyPrefix = DEFAULT_KEY_PREFIX;
        private RewindGuard guard = RewindGuard.REQUIRE_FSYNC_ALWAYS;
        private Duration commandTimeout = DEFAULT_COMMAND_TIMEOUT;
        private Duration workerLeaseTime = DEFAULT_WORKER_LEASE_TIME;

        private Builder(@Nullable RedisURI uri, @Nullable RedisClient client) {
            this.uri = uri;
            this.client = client;
        }

        /**
         * What every key of the store starts with; default {@value #DEFAULT_KEY_PREFIX}.
         *
         * @throws IllegalArgumentException if blank or over 200 characters
         */
        public Builder keyPrefix(String keyPrefix) {
            Objects.requireNonNull(keyPrefix, "keyPrefix");
            if (keyPrefix.isBlank() || keyPrefix.length() > 200) {
                throw new IllegalArgumentException("keyPrefix must be 1 to 200 characters and not blank, got '"
                        + keyPrefix + "'");
            }
            this.keyPrefix = keyPrefix;
            return this;
        }

        /** How the store keeps Redis from handing out ids again after a data loss; default {@link RewindGuard#REQUIRE_FSYNC_ALWAYS}. */
        public Builder rewindGuard(RewindGuard guard) {
            this.guard = Objects.requireNonNull(guard, "guard");
            return this;
        }

        /**
         * The longest wait for one reply (and for connecting); default 5 s.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder commandTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "timeout");
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("commandTimeout must be positive, got " + timeout);
            }
            this.commandTimeout = timeout;
            return this;
        }

        /**
         * How long a worker id stays leased after its holder stopped renewing; default 30 s.
         *
         * @throws IllegalArgumentException if outside the lock lease bounds ({@link LockOptions.Builder#leaseTime})
         */
        public Builder workerLeaseTime(Duration leaseTime) {
            LockOptions.builder().leaseTime(leaseTime); // checks it
            this.workerLeaseTime = leaseTime;
            return this;
        }

        /**
         * Connects and checks the server.
         *
         * @throws io.distkit.id.IdSourceUnavailableException if the server cannot be reached within the command
         *     timeout, or the rewind guard refuses it (the message says which setting is missing)
         */
        public RedisIdStore build() {
            RedisClient lettuce;
            boolean owned = client == null;
            String address;
            if (owned) {
                RedisURI target = Objects.requireNonNull(uri);
                target.setTimeout(commandTimeout);
                lettuce = RedisClient.create(target);
                lettuce.setOptions(ClientOptions.builder()
                        .timeoutOptions(TimeoutOptions.enabled(commandTimeout)).build());
                address = address(target);
            } else {
                lettuce = client;
                address = "a caller's client";
            }
            RedisClient made = lettuce;
            RedisIdServer server = RedisIdServer.connect(lettuce, keyPrefix, address, guard, commandTimeout,
                    owned ? made::shutdown : () -> {});
            return new RedisIdStore(this, lettuce, owned, server);
        }

        private static String address(RedisURI uri) {
            if (!uri.getSentinels().isEmpty()) {
                return "sentinel master " + uri.getSentinelMasterId();
            }
            return uri.getHost() + ":" + uri.getPort();
        }
    }

    /**
     * For {@link io.distkit.id.IdStores#connect}: {@code redis}, {@code rediss}, {@code redis-sentinel} URIs, with
     * this store's settings as query parameters beside Lettuce's: {@code rewindGuard=none|require_fsync_always},
     * {@code keyPrefix=...}, {@code workerLeaseTime=30s}.
     */
    static RedisIdStore connect(URI uri) {
        StringBuilder rest = new StringBuilder();
        String guard = null;
        String prefix = null;
        String lease = null;
        String query = uri.getRawQuery();
        if (query != null) {
            for (String pair : query.split("&")) {
                int eq = pair.indexOf('=');
                String name = eq < 0 ? pair : pair.substring(0, eq);
                String value = eq < 0 ? "" : java.net.URLDecoder.decode(pair.substring(eq + 1).replace("+", "%2B"),
                        java.nio.charset.StandardCharsets.UTF_8);
                switch (name) {
                    case "rewindGuard" -> guard = value;
                    case "keyPrefix" -> prefix = value;
                    case "workerLeaseTime" -> lease = value;
                    default -> rest.append(rest.length() == 0 ? "" : "&").append(pair);
                }
            }
        }
        String text = uri.toString();
        if (query != null) {
            int q = text.indexOf('?' + query);
            text = text.substring(0, q) + (rest.length() > 0 ? "?" + rest : "")
                    + text.substring(q + 1 + query.length());
        }
        Builder builder = builder(text);
        if (guard != null) {
            try {
                builder.rewindGuard(RewindGuard.valueOf(guard.toUpperCase(java.util.Locale.ROOT)));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("rewindGuard=" + guard + " is not one of none, require_fsync_always", e);
            }
        }
        if (prefix != null) {
            builder.keyPrefix(prefix);
        }
        if (lease != null) {
            try {
                builder.workerLeaseTime(io.distkit.common.Durations.parse(lease));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("workerLeaseTime=" + lease + ": " + e.getMessage(), e);
            }
        }
        return builder.build();
    }
}
