package io.distkit.lock.redis;

import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockException;
import io.distkit.lock.LockOptions;
import io.distkit.lock.redis.internal.CommandTimer;
import io.distkit.lock.redis.internal.InFlight;
import io.distkit.lock.redis.internal.LockKeys;
import io.distkit.lock.redis.internal.ReleaseSignals;
import io.distkit.lock.redis.internal.Script;
import io.distkit.lock.spi.Acquisition;
import io.distkit.lock.spi.Attempt;
import io.distkit.lock.spi.LockBackend;
import io.distkit.lock.spi.LockRequest;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisScriptingAsyncCommands;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The Redis lock primitive the engine builds on: one script round trip per acquire, renew and release.
 *
 * <p><b>Algorithm.</b> A lock is the key {@code <prefix>{<name>}} holding the owner value of the
 * acquisition that holds it, with the lease as its TTL. Acquire runs one script: {@code SET key owner NX
 * PX lease}; on success it advances the lock's fence counter to {@code max(fence + 1, server TIME in
 * microseconds)} and returns it as the fencing token (the floor keeps tokens increasing when the fence lost
 * its latest increments: a restart without persistence, a failover to a replica that missed them);
 * otherwise it returns the holder's remaining TTL. Release and renew are
 * compare-and-delete and compare-and-{@code PEXPIRE} on the owner value, so they never touch another
 * holder's lock; release also publishes on the lock's release channel. The owner value is unique to one
 * acquisition, which makes acquire idempotent (a re-sent acquire that finds its own owner value returns
 * the token it was given) and lets an acquisition whose reply was lost clean up after itself by owner
 * value, never by guessing. The invariant: a lock key only ever holds the owner value of the acquisition
 * that was told it holds the lock (or of one that is removing it), and the fence counter only grows.
 *
 * <p><b>Waiting.</b> The first attempt of an acquisition costs one round trip and no subscription, so
 * {@code tryAcquire()} on a taken lock stays cheap. If the caller waits, the next attempt first joins the
 * lock's release channel ({@link ReleaseSignals}: one subscription per name per client, one waiter woken
 * per release) and runs the script once the subscription is confirmed, so no release can fall between
 * the check and the subscription. While busy, a waiter retries when woken or at the holder's remaining
 * TTL, whichever comes first: a crashed holder publishes nothing.
 *
 * <p><b>Replicas.</b> With {@code waitForReplicas(n, timeout)}, a successful acquire is followed on the
 * same connection by {@code WAIT n timeout}; with fewer acknowledgements the attempt fails and the lock
 * is released by owner value, so a lock known only to a master that may fail over is never reported held.
 */
final class RedisLockBackend implements LockBackend<RedisLease> {

    /** Largest number of keys one renewal script touches; a client holding more sends several calls. */
    static final int MAX_KEYS_PER_CALL = 1000;

    private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);
    /** How many times an acquisition sends its give-back when the connection drops under it. */
    private static final int GIVE_BACK_ATTEMPTS = 3;
    /** The pause before sending it again: Lettuce has then seen the connection go and holds it for the reconnect. */
    private static final long GIVE_BACK_RETRY_MILLIS = 100;

    private final RedisTopology topology;
    private final String prefix;
    private final Duration timeout;
    private final CommandTimer timer;
    private final int replicas;
    private final Duration replicaTimeout;
    private final ReleaseSignals signals;
    private final ConnectionEpochs epochs = new ConnectionEpochs();
    private final InFlight inFlight = new InFlight();
    private volatile boolean closed;

    /**
     * @param timeout bounds every command (the WAIT: its own timeout plus this)
     * @param replicas 0 for no {@code WAIT}
     */
    RedisLockBackend(RedisTopology topology, String prefix, Duration timeout, int replicas, Duration replicaTimeout) {
        this.topology = topology;
        this.prefix = prefix;
        this.timeout = timeout;
        this.timer = new CommandTimer(topology.resources(), timeout);
        this.replicas = replicas;
        this.replicaTimeout = replicaTimeout;
        this.signals = new ReleaseSignals(topology::connectPubSub, timeout, topology.describe());
    }

    @Override
    public String describe() {
        return topology.describe();
    }

    @Override
    public void validate(LockOptions options) {
        checkOptions(options, replicas, replicaTimeout);
    }

    /**
     * A {@code WAIT} longer than half the lease would leave a lock acknowledged by its replicas with
     * little or none of its lease left.
     *
     * @throws IllegalArgumentException naming both durations
     */
    static void checkOptions(LockOptions options, int replicas, Duration replicaTimeout) {
        if (replicas > 0 && replicaTimeout.multipliedBy(2).compareTo(options.leaseTime()) > 0) {
            throw new IllegalArgumentException("the waitForReplicas timeout (" + replicaTimeout
                    + ") must be at most half the leaseTime (" + options.leaseTime()
                    + "): the lease runs while the replicas are awaited");
        }
    }

    /** Lettuce completes commands on its Netty event loop, and so do our stages. */
    @Override
    public boolean completesOnIoThreads() {
        return true;
    }

    @Override
    public Acquisition<RedisLease> newAcquisition(LockRequest request) {
        return new RedisAcquisition(request);
    }

    @Override
    public CompletionStage<Boolean> renew(RedisLease lease, Duration leaseTime) {
        return renewAll(List.of(lease), List.of(leaseTime)).thenApply(renewed -> renewed.get(0));
    }

    /**
     * One script call renews every lease (standalone, up to {@link #MAX_KEYS_PER_CALL} per call); in a
     * cluster one call per hash slot, all sent at once.
     */
    @Override
    public CompletionStage<List<Boolean>> renewAll(List<RedisLease> leases, List<Duration> leaseTimes) {
        int n = leases.size();
        if (n == 0) {
            return CompletableFuture.completedFuture(List.of());
        }
        return track(() -> {
            List<String> keys = new ArrayList<>(n);
            leases.forEach(lease -> keys.add(lease.key()));
            boolean[] renewed = new boolean[n];
            List<CompletableFuture<Void>> calls = new ArrayList<>();
            for (List<Integer> group : topology.groupsForOneCall(keys, MAX_KEYS_PER_CALL)) {
                String[] groupKeys = new String[group.size()];
                String[] args = new String[2 * group.size()];
                for (int j = 0; j < group.size(); j++) {
                    int i = group.get(j);
                    groupKeys[j] = keys.get(i);
                    args[2 * j] = leases.get(i).owner();
                    args[2 * j + 1] = Long.toString(Script.leaseMillis(leaseTimes.get(i)));
                }
                calls.add(Script.RENEW.<List<Object>>run(topology.scripting(), timer, groupKeys, args)
                        .thenAccept(reply -> {
                            if (reply == null || reply.size() != group.size()) {
                                throw new IllegalStateException("the renew script answered " + group.size()
                                        + " keys with " + reply);
                            }
                            for (int j = 0; j < group.size(); j++) {
                                renewed[group.get(j)] = Long.valueOf(1).equals(reply.get(j));
                            }
                        }));
            }
            CompletableFuture<List<Boolean>> all = CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new))
                    .thenApply(ignored -> {
                        List<Boolean> out = new ArrayList<>(n);
                        for (boolean r : renewed) {
                            out.add(r);
                        }
                        return out;
                    });
            return n == 1 ? mapFailure(all, leases.get(0).name(), "renew")
                    : mapFailure(all, null, "renewal of " + n + " locks");
        });
    }

    @Override
    public CompletionStage<Boolean> release(RedisLease lease) {
        return track(() -> releaseByOwner(lease.name(), lease.key(), lease.channel(), lease.owner()));
    }

    /**
     * Stops new work, waits (at most the command timeout) for commands in flight, then closes the
     * connections. An acquire whose answer arrives after this began gives its lock back itself.
     */
    @Override
    public void close() {
        closed = true;
        try {
            signals.close();
            inFlight.awaitIdle(timeout);
        } finally {
            topology.close();
        }
    }


    private CompletableFuture<Boolean> releaseByOwner(String name, String key, String channel, String owner) {
        return mapFailure(Script.RELEASE.<Long>run(topology.scripting(), timer, new String[] {key, channel}, owner)
                .thenApply(deleted -> Long.valueOf(1).equals(deleted)), name, "release");
    }

    /**
     * Releases by owner value what an acquisition whose answer was lost may hold. A lost answer usually
     * means a reset connection, and a release written while Lettuce tears that connection down fails
     * with it (a reset fails the commands in flight); sent again a moment later, it waits for the
     * reconnect instead. Repeating it is safe: it is a compare-and-delete on this acquisition's owner value.
     */
    private CompletableFuture<Boolean> giveBack(String name, String key, String channel, String owner, int attemptsLeft) {
        return releaseByOwner(name, key, channel, owner).exceptionallyCompose(failure -> {
            if (attemptsLeft <= 1 || closed || !connectionLost(failure)) {
                return CompletableFuture.failedFuture(failure);
            }
            return CompletableFuture.runAsync(() -> {},
                            CompletableFuture.delayedExecutor(GIVE_BACK_RETRY_MILLIS, TimeUnit.MILLISECONDS))
                    .thenCompose(ignored -> giveBack(name, key, channel, owner, attemptsLeft - 1));
        });
    }

    private static boolean connectionLost(Throwable failure) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause() == cause ? null : cause.getCause()) {
            if (isConnectionProblem(cause)) {
                return true;
            }
        }
        return false;
    }

    /** Runs an operation counted as in flight until its stage completes, so that close() can wait for it. */
    private <T> CompletableFuture<T> track(Supplier<CompletableFuture<T>> operation) {
        return inFlight.track(operation);
    }

    private <T> CompletableFuture<T> mapFailure(CompletableFuture<T> stage, @Nullable String lockName,
            String operation) {
        return stage.handle((value, failure) -> failure == null ? CompletableFuture.completedFuture(value)
                : CompletableFuture.<T>failedFuture(failure(lockName, operation, failure)))
                .thenCompose(Function.identity());
    }

    /**
     * A {@link LockBackendException} that says what failed, where, and what to check. A {@link LockException}
     * made here already passes through unchanged.
     */
    LockException failure(@Nullable String lockName, String operation, Throwable failure) {
        Throwable cause = Script.rootCause(failure);
        if (cause instanceof LockException lockException) {
            return lockException;
        }
        String message;
        if (cause instanceof TimeoutException || cause instanceof RedisCommandTimeoutException) {
            message = operation + " got no reply from " + describe() + " within " + timeout
                    + ": the server may be down, paused or unreachable, or the network slow";
        } else if (isConnectionProblem(cause)) {
            message = operation + " could not reach " + describe() + " (" + cause.getMessage()
                    + "); check that Redis is running there and reachable from this host (address, port,"
                    + " firewall, TLS and password settings)";
        } else if (cause instanceof RedisCommandExecutionException) {
            message = operation + " was refused by " + describe() + ": " + cause.getMessage();
        } else {
            message = operation + " failed on " + describe() + ": " + cause;
        }
        if (operation.equals("acquire")) {
            message += "; if the request took effect anyway, the lock is given back by its owner value";
        }
        return new LockBackendException(lockName, message, cause);
    }


    private static boolean isConnectionProblem(Throwable cause) {
        if (cause instanceof RedisConnectionException || cause instanceof IOException) {
            return true;
        }
        String message = cause.getMessage();
        return cause instanceof RedisException && message != null
                && (message.contains("not connected") || message.contains("Connection closed")
                        || message.contains("closed"));
    }

    /**
     * One acquire call. Attempts never overlap (the engine's rule), and {@code finish} comes after the
     * last one completed.
     */
    private final class RedisAcquisition implements Acquisition<RedisLease> {

        private final LockRequest request;
        private final LockKeys keys;
        private final String[] scriptKeys;
        private final String leaseMillis;
        private volatile int attempts;
        private volatile ReleaseSignals.@Nullable Waiter waiter;
        /** An attempt failed without a clear answer: it may have taken the lock. */
        private volatile boolean maybeHeld;

        RedisAcquisition(LockRequest request) {
            this.request = request;
            this.keys = LockKeys.of(prefix, request.name());
            this.scriptKeys = new String[] {keys.lock(), keys.fence()};
            this.leaseMillis = Long.toString(Script.leaseMillis(request.leaseTime()));
        }

        @Override
        public CompletionStage<Attempt<RedisLease>> attempt() {
            return track(() -> {
                int attempt = ++attempts;
                if (attempt == 1 || waiter != null) {
                    return acquireOnce();
                }
                // the caller waits: subscribe, and check again only once the subscription covers any release
                ReleaseSignals.Waiter joined = signals.join(keys.channel());
                waiter = joined;
                return joined.subscribed().handle((ok, failure) -> null).thenCompose(ignored -> acquireOnce());
            });
        }

        private CompletableFuture<Attempt<RedisLease>> acquireOnce() {
            ReleaseSignals.Waiter joined = waiter;
            if (joined != null) {
                signals.consume(joined); // this attempt sees every release published before it
            }
            CompletableFuture<Attempt<RedisLease>> attempt;
            if (replicas == 0) {
                attempt = Script.ACQUIRE.<List<Object>>run(topology.scripting(), timer, scriptKeys,
                        request.owner(), leaseMillis).thenApply(this::interpret);
            } else {
                attempt = topology.connectionFor(keys.lock()).toCompletableFuture().thenCompose(this::acquireReplicated);
            }
            return attempt.handle((result, failure) -> {
                if (failure != null) {
                    maybeHeld = true; // finish(false) resolves it by owner value
                    return CompletableFuture.<Attempt<RedisLease>>failedFuture(failure(request.name(), "acquire", failure));
                }
                if (closed && result instanceof Attempt.Acquired) {
                    // close() is waiting for this attempt: give the lock back now, while the connection is open
                    return releaseByOwner(request.name(), keys.lock(), keys.channel(), request.owner())
                            .<Attempt<RedisLease>>handle((released, releaseFailure) -> {
                                maybeHeld = releaseFailure != null;
                                throw new LockException(request.name(), "the lock client for " + describe()
                                        + " was closed while acquiring", null);
                            });
                }
                return CompletableFuture.completedFuture(result);
            }).thenCompose(Function.identity());
        }

        private CompletableFuture<Attempt<RedisLease>> acquireReplicated(StatefulRedisConnection<String, String> connection) {
            long epoch = epochs.of(connection);
            RedisScriptingAsyncCommands<String, String> commands = connection.async();
            return Script.ACQUIRE.<List<Object>>run(commands, timer, scriptKeys, request.owner(), leaseMillis)
                    .thenApply(this::interpret)
                    .thenCompose(attempt -> {
                        if (!(attempt instanceof Attempt.Acquired)) {
                            return CompletableFuture.completedFuture(attempt);
                        }
                        return timer.bound(connection.async().waitForReplication(replicas, replicaTimeout.toMillis()),
                                replicaTimeout.plus(timeout)).handle((acks, failure) -> {
                                    String why = null;
                                    if (failure != null) {
                                        why = "WAIT " + replicas + " " + replicaTimeout.toMillis() + " failed: "
                                                + Script.rootCause(failure);
                                    } else if (epochs.of(connection) != epoch) {
                                        why = "the connection was re-established before WAIT answered, so its answer"
                                                + " does not cover the lock's write";
                                    } else if (acks == null || acks < replicas) {
                                        why = "only " + acks + " of " + replicas + " replicas acknowledged the lock"
                                                + " within " + replicaTimeout;
                                    }
                                    if (why == null) {
                                        return attempt;
                                    }
                                    throw new LockBackendException(request.name(), "acquired on " + describe()
                                            + " but " + why + "; the lock is released, since a failover now could"
                                            + " lose it (waitForReplicas " + replicas + ", " + replicaTimeout + ")",
                                            failure);
                                });
                    });
        }

        private Attempt<RedisLease> interpret(@Nullable List<Object> reply) {
            if (reply == null || reply.size() != 2 || !(reply.get(0) instanceof Long flag)
                    || !(reply.get(1) instanceof Long value)) {
                throw new IllegalStateException("the acquire script answered " + reply + ", expected [flag, value]");
            }
            if (flag == 1) {
                return Attempt.acquired(value, new RedisLease(request.name(), keys.lock(), keys.channel(),
                        request.owner()));
            }
            ReleaseSignals.Waiter joined = waiter;
            if (joined == null) {
                // first attempt: subscribe only if the caller really waits (the engine retries at once then)
                return Attempt.busy(Duration.ZERO, null);
            }
            Duration retryAfter = value >= 0 ? Duration.ofMillis(value) // the holder's remaining lease
                    : value == -1 ? request.leaseTime() // a key without TTL: not ours to fix, look again later
                    : Duration.ZERO; // gone meanwhile
            return Attempt.busy(retryAfter, signals.signal(joined));
        }

        @Override
        public CompletionStage<Void> finish(boolean acquired) {
            ReleaseSignals.Waiter joined = waiter;
            if (joined != null) {
                signals.leave(joined, !acquired);
            }
            if (acquired || !maybeHeld) {
                return DONE;
            }
            // an attempt whose answer was lost may have taken the lock: remove it if it is this acquisition's
            return track(() -> giveBack(request.name(), keys.lock(), keys.channel(), request.owner(), GIVE_BACK_ATTEMPTS)
                    .thenApply(ignored -> (Void) null));
        }
    }
}
