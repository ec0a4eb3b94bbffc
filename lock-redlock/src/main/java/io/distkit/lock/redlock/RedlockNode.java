package io.distkit.lock.redlock;

import io.distkit.lock.redis.internal.CommandBound;
import io.distkit.lock.redis.internal.ReleaseSignals;
import io.distkit.lock.redis.internal.Script;
import io.distkit.lock.redis.internal.ServerInfo;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Redis master of a Redlock client: its command connection, its release notifications, and what the
 * client knows of the process behind it, which decides whether its answers count as votes.
 *
 * <p><b>Votes.</b> A reply counts only if it came over the connection the node was last checked on (no
 * disconnect between sending the command and its answer, and none since the check) and the
 * {@link RestartSafeguard} trusts the process that answered. Lettuce reconnects by itself and, configured by
 * the client, never re-sends a command after a reconnect; a restarted server is always a new connection, so
 * a reply from a process the client has not checked can never be counted. Each reconnect starts a new check
 * ({@code INFO}: role, {@code run_id}, {@code uptime_in_seconds}; {@code CONFIG GET appendonly appendfsync}).
 */
final class RedlockNode {

    private static final Logger LOG = LoggerFactory.getLogger(RedlockNode.class);

    /** What the client knows of the process behind the connection, as of one check. */
    record Trust(long epoch, String runId, long trustedFrom, long uptimeSeconds, boolean fsyncAlways,
            @Nullable String refusal) {

        /** Whether the process's votes count at {@code now} ({@link System#nanoTime()}). */
        boolean votesAt(long now) {
            return refusal == null && now - trustedFrom >= 0;
        }
    }

    /** {@code host:port}, as the user named it: for messages. */
    final String address;
    final ReleaseSignals signals;
    private final StatefulRedisConnection<String, String> connection;
    private final CommandBound bound;
    private final RestartSafeguard safeguard;
    private final long maxLeaseNanos;
    private final Runnable shutdown;
    private final AtomicLong disconnects = new AtomicLong();
    private final AtomicBoolean checking = new AtomicBoolean();
    private volatile @Nullable Trust trust;
    /** When the connection last dropped ({@link System#nanoTime()}): the old process may have been lost from then. */
    private volatile long lastDisconnectAt = System.nanoTime();
    private final Duration checkTimeout;

    /**
     * @param pubSub opens a pub/sub connection to the same server
     * @param shutdown run after the connections closed: shuts down a Lettuce client the backend created
     */
    RedlockNode(String address, StatefulRedisConnection<String, String> connection, CommandBound bound,
            Duration timeout, Supplier<CompletionStage<? extends StatefulRedisPubSubConnection<String, String>>> pubSub,
            RestartSafeguard safeguard, Duration maxLeaseTime, Duration checkTimeout, Runnable shutdown) {
        this.address = address;
        this.connection = connection;
        this.bound = bound;
        this.safeguard = safeguard;
        this.maxLeaseNanos = maxLeaseTime.toNanos();
        this.shutdown = shutdown;
        this.checkTimeout = checkTimeout;
        this.signals = new ReleaseSignals(pubSub, timeout, "redlock node " + address);
        connection.addListener(new RedisConnectionStateListener() {
            @Override
            public void onRedisDisconnected(RedisChannelHandler<?, ?> handler) {
                lastDisconnectAt = System.nanoTime();
                disconnects.incrementAndGet();
            }

            @Override
            public void onRedisConnected(RedisChannelHandler<?, ?> handler, SocketAddress local) {
                recheck();
            }
        });
    }

    /** The number of disconnects seen: read before sending a command and again with its reply. */
    long epoch() {
        return disconnects.get();
    }

    /** Runs one of the shared scripts on this node, bounded by the node timeout. */
    <T> CompletableFuture<T> run(Script script, String[] keys, String... args) {
        return script.run(connection.async(), bound, keys, args);
    }

    /**
     * Whether a reply to a command sent at {@code sentEpoch}, arriving now, is a vote. A reply that crossed a
     * reconnect, or that comes before the new connection's check finished, is not.
     */
    boolean counts(long sentEpoch) {
        Trust known = trust;
        long now = epoch();
        if (known == null || known.epoch != now) {
            recheck();
            return false;
        }
        return now == sentEpoch && known.votesAt(System.nanoTime());
    }

    /** Why this node's replies do not count now, for messages; null if they do. */
    @Nullable String whyNoVote() {
        Trust known = trust;
        if (known == null || known.epoch != epoch()) {
            return "node " + address + " reconnected and is being checked again (run_id, uptime, persistence)";
        }
        if (known.refusal != null) {
            return "node " + address + " " + known.refusal;
        }
        long wait = known.trustedFrom - System.nanoTime();
        if (wait > 0) {
            return "node " + address + " has been up " + known.uptimeSeconds + " s (run_id " + known.runId
                    + ") and runs without appendfsync always, so it may have forgotten locks in a restart: its"
                    + " votes count once it has been up for maxLeaseTime (" + Duration.ofNanos(maxLeaseNanos)
                    + "), in " + Duration.ofMillis(TimeUnit.NANOSECONDS.toMillis(wait) + 1)
                    + " (restart safeguard " + safeguard + ")";
        }
        return null;
    }

    /** How long until this node's votes count, if they will without a new check: zero if they do, -1 if never. */
    long nanosUntilTrusted() {
        Trust known = trust;
        if (known == null || known.epoch != epoch() || known.refusal != null) {
            return -1;
        }
        return Math.max(0, known.trustedFrom - System.nanoTime());
    }

    @Nullable Trust trust() {
        return trust;
    }

    /** Starts a check of the process behind the connection, unless one is running. */
    void recheck() {
        if (!checking.compareAndSet(false, true)) {
            return;
        }
        check().whenComplete((checked, failure) -> {
            checking.set(false);
            if (failure != null) {
                LOG.debug("checking redlock node {} failed; the next reply triggers another check", address, failure);
            } else if (checked.epoch != epoch()) {
                recheck(); // reconnected again meanwhile
            }
        });
    }

    /**
     * Learns the node's role, {@code run_id}, uptime and persistence, and when its votes start to count. The
     * result is kept only if no disconnect happened meanwhile.
     */
    CompletableFuture<Trust> check() {
        long epoch = epoch();
        long nanos = checkTimeout.toNanos();
        CompletableFuture<String> info = connection.async().info().toCompletableFuture()
                .orTimeout(nanos, TimeUnit.NANOSECONDS);
        CompletableFuture<Map<String, String>> config = connection.async()
                .configGet("appendonly", "appendfsync", "maxmemory", "maxmemory-policy").toCompletableFuture()
                .orTimeout(nanos, TimeUnit.NANOSECONDS)
                // CONFIG may be renamed away: then the settings are not known (a timeout fails the check instead)
                .exceptionally(failure -> {
                    if (Script.rootCause(failure) instanceof RedisCommandExecutionException) {
                        return Map.of();
                    }
                    throw failure instanceof CompletionException c ? c : new CompletionException(failure);
                });
        return info.thenCombine(config, (text, settings) -> {
            long at = System.nanoTime();
            Map<String, String> fields = ServerInfo.parse(text);
            String role = fields.getOrDefault("role", "?");
            String runId = fields.getOrDefault("run_id", "?");
            long uptime = Long.parseLong(fields.getOrDefault("uptime_in_seconds", "0"));
            boolean fsyncAlways = "yes".equals(settings.get("appendonly")) && "always".equals(settings.get("appendfsync"));
            String maxmemory = settings.getOrDefault("maxmemory", "0");
            String policy = settings.getOrDefault("maxmemory-policy", "noeviction");
            String refusal = null;
            if (!"master".equals(role)) {
                refusal = "is a replica (role:" + role + "); Redlock needs independent masters";
            } else if (!"0".equals(maxmemory) && !"noeviction".equals(policy)) {
                refusal = "may evict keys when full (maxmemory " + maxmemory + ", maxmemory-policy " + policy
                        + "): an evicted lock key frees a lock that is held; use maxmemory-policy noeviction";
            } else if (safeguard == RestartSafeguard.REQUIRE_FSYNC_ALWAYS && !fsyncAlways) {
                refusal = "runs without appendonly yes and appendfsync always (appendonly " + settings.get("appendonly")
                        + ", appendfsync " + settings.get("appendfsync") + "), which restart safeguard"
                        + " REQUIRE_FSYNC_ALWAYS requires";
            }
            Trust previous = trust;
            long startedAt = at - TimeUnit.SECONDS.toNanos(uptime); // uptime is rounded down: the latest start
            long trustedFrom;
            if (safeguard == RestartSafeguard.NONE) {
                trustedFrom = at;
            } else if (previous != null && previous.runId.equals(runId)) {
                trustedFrom = previous.trustedFrom; // the same process: only the connection was new
            } else if (previous == null) {
                trustedFrom = fsyncAlways ? at : startedAt + maxLeaseNanos;
            } else {
                // another process than the one this client knew: a restart, or a different server at the address.
                // Only a restart after the drop, synced before every reply both before and after, kept our keys.
                long lostAt = lastDisconnectAt - TimeUnit.SECONDS.toNanos(1);
                boolean syncedRestart = fsyncAlways && previous.fsyncAlways && startedAt - lostAt >= 0;
                trustedFrom = syncedRestart ? at : Math.max(startedAt, lastDisconnectAt) + maxLeaseNanos;
            }
            Trust checked = new Trust(epoch, runId, trustedFrom, uptime, fsyncAlways, refusal);
            if (previous != null && !previous.runId.equals(runId)) {
                LOG.warn("redlock node {} restarted (run_id {} -> {}, up {} s); {}", address, previous.runId, runId,
                        uptime, checked.votesAt(at) ? "its votes count at once (appendfsync always)"
                                : "its votes count once it has been up for maxLeaseTime");
            }
            if (epoch() == epoch) {
                trust = checked;
            }
            return checked;
        });
    }

    void close() {
        try {
            signals.close();
            connection.close();
        } finally {
            shutdown.run();
        }
    }

    @Override
    public String toString() {
        return address;
    }
}
