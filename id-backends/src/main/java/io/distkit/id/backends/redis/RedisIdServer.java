package io.distkit.id.backends.redis;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.lock.redis.internal.CommandTimer;
import io.distkit.lock.redis.internal.Script;
import io.distkit.lock.redis.internal.ServerInfo;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection to the Redis server that holds ids, with the {@link RewindGuard} applied: every command goes
 * through {@link #call}, which checks the server before the first command and again whenever a reconnect
 * happened since the last check (before the reply of a command that crossed the reconnect is used).
 * Failures become {@link IdSourceUnavailableException} (the server cannot be reached, is refused by the
 * guard, or did not answer within the command timeout) or {@link IdGenerationException} (an error reply).
 */
final class RedisIdServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(RedisIdServer.class);

    /** What the guard learnt about the server, valid while no disconnect happened since. */
    private record Checked(long epoch, String runId) {}

    private final StatefulRedisConnection<String, String> connection;
    private final RedisAsyncCommands<String, String> async;
    private final String source;
    private final String address;
    private final RewindGuard guard;
    private final Duration timeout;
    private final CommandTimer timer;
    private final Runnable shutdown;
    private final AtomicLong disconnects = new AtomicLong();
    /** When the connection last dropped ({@link System#nanoTime()}): a server up since before then is no restart. */
    private volatile long lastDisconnectNanos = System.nanoTime();
    private volatile @Nullable Checked checked;
    /** Set when the guard refused the server: sticky, a client that saw a rewind risk never trusts it again. */
    private volatile @Nullable String refusal;
    private volatile boolean closed;

    private RedisIdServer(StatefulRedisConnection<String, String> connection, String source, String address,
            RewindGuard guard, Duration timeout, Runnable shutdown) {
        this.connection = connection;
        this.async = connection.async();
        this.source = source;
        this.address = address;
        this.guard = guard;
        this.timeout = timeout;
        this.shutdown = shutdown;
        this.timer = new CommandTimer(connection.getResources(), timeout);
        connection.addListener(new RedisConnectionStateListener() {
            @Override
            public void onRedisDisconnected(RedisChannelHandler<?, ?> handler) {
                lastDisconnectNanos = System.nanoTime();
                disconnects.incrementAndGet();
            }
        });
    }

    /**
     * Connects through {@code client} and checks the server (with the guard on).
     *
     * @param shutdown run on close after the connection (shuts down a client the store created)
     * @throws IdSourceUnavailableException if the server cannot be reached or is refused by the guard
     */
    static RedisIdServer connect(RedisClient client, String source, String address, RewindGuard guard,
            Duration timeout, Runnable shutdown) {
        StatefulRedisConnection<String, String> connection;
        try {
            connection = client.connect();
        } catch (RuntimeException e) {
            shutdown.run();
            throw new IdSourceUnavailableException(source, "cannot connect to Redis at " + address + ": "
                    + Script.rootCause(e).getMessage(), e);
        }
        RedisIdServer server = new RedisIdServer(connection, source, address, guard, timeout, shutdown);
        try {
            server.check();
            return server;
        } catch (RuntimeException e) {
            server.close();
            throw e;
        }
    }

    String source() {
        return source;
    }

    String address() {
        return address;
    }

    RewindGuard guard() {
        return guard;
    }

    /**
     * Runs one command and waits for its reply at most the command timeout. With the guard on, the server is
     * (re)checked before the command if it was not since the last reconnect, and after the reply if a
     * reconnect happened while the command ran (the reply may have come from a restarted server).
     *
     * @param what the command, for messages ("INCRBY distkit:ids:segment:orders")
     */
    <T> T call(String what, Function<RedisAsyncCommands<String, String>, RedisFuture<T>> command) {
        return run(what, () -> timer.bound(command.apply(async)));
    }

    /** {@link #call} for a script of this module. */
    <T> T script(String what, Script script, String[] keys, String... args) {
        return run(what, () -> script.run(async, timer, keys, args));
    }

    private <T> T run(String what, java.util.function.Supplier<CompletableFuture<T>> send) {
        if (closed) {
            throw new IllegalStateException("the Redis id store for " + address + " is closed");
        }
        Checked before = guarded();
        T value = await(what, send.get());
        if (before != null && disconnects.get() != before.epoch()) {
            check(); // the reply crossed a reconnect: use it only if the server now answering passes the guard
        }
        return value;
    }

    /** The check to compare against after a command; null without the guard. */
    private @Nullable Checked guarded() {
        if (guard == RewindGuard.NONE) {
            return null;
        }
        String refused = refusal;
        if (refused != null) {
            throw new IdSourceUnavailableException(source, refused, null);
        }
        Checked known = checked;
        if (known == null || known.epoch() != disconnects.get()) {
            known = check();
        }
        return known;
    }

    /**
     * Reads the server's role, {@code run_id}, uptime and persistence settings, and refuses it under the guard
     * if it could have lost or could lose acknowledged writes.
     */
    private synchronized Checked check() {
        long epoch = disconnects.get();
        Checked known = checked;
        if (known != null && known.epoch() == epoch && refusal == null) {
            return known; // another thread checked since the last reconnect: once is enough
        }
        Map<String, String> info = ServerInfo.parse(await("INFO", timer.bound(async.info())));
        String role = info.getOrDefault("role", "?");
        String runId = info.getOrDefault("run_id", "?");
        long uptimeNanos = TimeUnit.SECONDS.toNanos(Long.parseLong(info.getOrDefault("uptime_in_seconds", "0")));
        String problem = null;
        if (!"master".equals(role)) {
            problem = "the Redis server at " + address + " is a replica (role:" + role + "); ids need the master";
        } else if (guard == RewindGuard.REQUIRE_FSYNC_ALWAYS) {
            problem = persistenceProblem();
            if (problem == null && known != null && !known.runId().equals(runId)) {
                // another process answers: a restart of the server (fine: it synced every write and loaded them)
                // or a different server that was already running, such as a promoted replica (it may lag)
                boolean upBeforeTheDrop = uptimeNanos > System.nanoTime() - lastDisconnectNanos + TimeUnit.SECONDS.toNanos(2);
                boolean promoted = !"-1".equals(info.getOrDefault("second_repl_offset", "-1"));
                if (upBeforeTheDrop || promoted) {
                    problem = "the Redis server at " + address + " is now another process (run_id " + known.runId()
                            + " -> " + runId + ")" + (promoted ? ", a promoted replica," : "") + " that was already running"
                            + " before this client lost the previous one: a failover, and a replica may have missed the"
                            + " latest increments. Ids from it could repeat; this client will not use it. Check that the"
                            + " counters are above every id handed out (raise them with INCRBY if needed), then open a new"
                            + " store";
                } else {
                    LOG.warn("the Redis id server at {} restarted (run_id {} -> {}); it syncs every write, so its"
                            + " counters are intact", address, known.runId(), runId);
                }
            }
        }
        if (problem != null) {
            if (guard != RewindGuard.NONE) {
                refusal = problem;
            }
            throw new IdSourceUnavailableException(source, problem, null);
        }
        Checked result = new Checked(epoch, runId);
        checked = result;
        return result;
    }

    /**
     * Why the server could lose an acknowledged write or key, or null: it must append every write to its AOF and
     * sync it before replying, and must not evict keys. One {@code CONFIG GET} per setting (several names in one
     * call need Redis 7).
     */
    private @Nullable String persistenceProblem() {
        String appendonly;
        String appendfsync;
        String maxmemory;
        String policy;
        try {
            appendonly = setting("appendonly");
            appendfsync = setting("appendfsync");
            maxmemory = setting("maxmemory");
            policy = setting("maxmemory-policy");
        } catch (IdGenerationException e) {
            return "the rewind guard cannot read the persistence settings of the Redis server at " + address + " ("
                    + e.getMessage() + "; CONFIG may be renamed or not allowed for this user). Allow CONFIG GET, or"
                    + " build with RewindGuard.NONE if you accept repeated ids after a data loss";
        }
        if (!"yes".equals(appendonly) || !"always".equals(appendfsync)) {
            return "the Redis server at " + address + " does not sync every write to disk before replying (appendonly "
                    + appendonly + ", appendfsync " + appendfsync + "): after a crash or a restart it would hand out ids"
                    + " again. Set 'appendonly yes' and 'appendfsync always' on the server (CONFIG SET and in"
                    + " redis.conf), or build with RewindGuard.NONE if you accept repeated ids after a data loss";
        }
        if (!"0".equals(maxmemory) && !"noeviction".equals(policy)) {
            return "the Redis server at " + address + " may evict keys when full (maxmemory " + maxmemory
                    + ", maxmemory-policy " + policy + "): an evicted counter starts again at 1. Set maxmemory-policy"
                    + " noeviction, or build with RewindGuard.NONE if you accept repeated ids after an eviction";
        }
        return null;
    }

    private String setting(String name) {
        Map<String, String> reply = await("CONFIG GET " + name, timer.bound(async.configGet(name)));
        return reply.getOrDefault(name, "unknown");
    }

    private <T> T await(String what, CompletableFuture<T> reply) {
        try {
            return reply.get(timeout.toNanos() + TimeUnit.MILLISECONDS.toNanos(100), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            reply.cancel(false);
            Thread.currentThread().interrupt();
            throw new IdSourceUnavailableException(source, "interrupted while waiting for " + what + " on " + address, e);
        } catch (TimeoutException e) {
            reply.cancel(false);
            throw unavailable(what, e);
        } catch (ExecutionException e) {
            Throwable cause = Script.rootCause(e);
            if (cause instanceof RedisCommandExecutionException && !serverState(cause.getMessage())) {
                throw new IdGenerationException(what + " on the Redis server at " + address + " failed: "
                        + cause.getMessage(), cause);
            }
            throw unavailable(what, cause);
        }
    }

    /**
     * An error reply about the server's state (loading its data, read-only, out of memory, a failed disk write,
     * busy, a missing permission...), not about the command or the key: the store is unavailable, try later.
     */
    private static boolean serverState(@Nullable String message) {
        if (message == null) {
            return false;
        }
        for (String prefix : new String[] {"LOADING", "READONLY", "MISCONF", "OOM", "NOPERM", "MASTERDOWN", "BUSY",
                "TRYAGAIN", "CLUSTERDOWN", "NOREPLICAS"}) {
            if (message.startsWith(prefix)) {
                return true;
            }
        }
        return false;
    }

    private IdSourceUnavailableException unavailable(String what, Throwable cause) {
        Throwable root = Script.rootCause(cause);
        String why = root instanceof TimeoutException || root instanceof io.lettuce.core.RedisCommandTimeoutException
                ? "no reply within the command timeout (" + timeout + ")"
                : root.getClass().getSimpleName() + ": " + root.getMessage();
        return new IdSourceUnavailableException(source, what + " on the Redis server at " + address + ": " + why, cause);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            connection.close();
        } finally {
            shutdown.run();
        }
    }

    @Override
    public String toString() {
        return "Redis at " + address;
    }
}
