package io.distkit.lock.spi;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockException;
import io.distkit.lock.LockOptions;
import java.lang.System.Logger.Level;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/** The engine's {@link LockClient}: everything but the backend primitive. */
class EngineClient<S> implements LockClient {

    private static final System.Logger LOG = System.getLogger(EngineClient.class.getName());

    final LockBackend<S> backend;
    final Ticker ticker;
    final Clock clock;
    final Scheduler scheduler;
    private final boolean ownsScheduler;
    private final LockOptions defaults;
    private final Duration operationTimeout;
    private final SpinWait acquireSpin;
    private final SpinWait releaseSpin;
    private final AtomicLong lossEpoch = new AtomicLong();
    private final java.util.ArrayDeque<ReportedLoss<S>> recentLosses = new java.util.ArrayDeque<>();
    private static final int MAX_RECENT_LOSSES = 64;
    private final String clientId = randomId();
    private final AtomicLong sequence = new AtomicLong();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final ConcurrentHashMap<ReentrancyKey, Lease<S>> reentrant = new ConcurrentHashMap<>();
    private final Set<Lease<S>> held = ConcurrentHashMap.newKeySet();
    final Set<AcquireOp<S>> pending = ConcurrentHashMap.newKeySet();
    private final Set<CompletableFuture<?>> backgroundWork = ConcurrentHashMap.newKeySet();
    private final Renewer<S> renewer = new Renewer<>(this, held);

    EngineClient(LockEngine.Builder<S> b) {
        this.backend = b.backend;
        this.ticker = b.ticker;
        this.clock = b.clock;
        this.ownsScheduler = b.scheduler == null;
        this.scheduler = b.scheduler != null ? b.scheduler : Scheduler.daemon("lock");
        this.defaults = b.defaultOptions;
        this.operationTimeout = b.operationTimeout;
        this.acquireSpin = new SpinWait(b.spinWait.toNanos());
        this.releaseSpin = new SpinWait(b.spinWait.toNanos());
        backend.validate(defaults);
        backend.start(this::lostWhere);
    }

    @Override
    public DistributedLock lock(String name) {
        return lock(name, defaults);
    }

    @Override
    public DistributedLock lock(String name, LockOptions options) {
        return newLock(name, LockMode.EXCLUSIVE, options);
    }

    EngineLock<S> newLock(String name, LockMode mode, LockOptions options) {
        LockNames.check(name);
        Objects.requireNonNull(options, "options");
        checkOpen();
        backend.validate(options);
        return new EngineLock<>(this, name, mode, options);
    }

    @Override
    public LockOptions defaultOptions() {
        return defaults;
    }

    /**
     * Completes with the hold, with null when the wait ran out, or exceptionally. Only {@code
     * blocking} calls reenter: the thread that waits for the handle is the one that will hold it.
     */
    CompletableFuture<Hold<S>> acquire(EngineLock<S> lock, long waitNanos, boolean blocking) {
        checkOpen();
        ReentrancyKey key = null;
        if (blocking && lock.options().reentrant()) { // async handles are not the calling thread's
            key = new ReentrancyKey(lock.name(), lock.mode, Thread.currentThread());
            Lease<S> mine = reentrant.get(key);
            if (mine != null && mine.tryAddHold()) {
                return CompletableFuture.completedFuture(new Hold<>(mine));
            }
        }
        LockRequest request = new LockRequest(lock.name(), lock.mode, lock.options().leaseTime(),
                clientId + ":" + sequence.incrementAndGet(), waitNanos != 0, blocking);
        AcquireOp<S> op = new AcquireOp<>(this, lock, key, request, waitNanos);
        op.start();
        return op.result;
    }

    /**
     * Makes an acquired lease known to the client: held set, reentrancy, renewal. Losses the backend
     * reported since the attempt was sent ({@code lossEpoch}) are applied to it at once: a session that
     * ended while the reply was on its way must not leave a handle that looks held.
     */
    Lease<S> register(EngineLock<S> lock, @Nullable ReentrancyKey key, long token, S backendLease, long sentAt,
            long lossEpoch) {
        Lease<S> lease = new Lease<>(this, lock, key, token, backendLease, sentAt);
        held.add(lease);
        if (key != null) {
            reentrant.put(key, lease);
        }
        renewer.track(lease);
        if (closed.get()) {
            releaseQuietly(lease); // close() may have missed it
        }
        if (this.lossEpoch.get() != lossEpoch) {
            synchronized (recentLosses) {
                for (ReportedLoss<S> loss : recentLosses) {
                    if (loss.epoch > lossEpoch && loss.affected.test(backendLease)) {
                        lost(lease, loss.reason, false);
                    }
                }
            }
        }
        return lease;
    }

    long lossEpoch() {
        return lossEpoch.get();
    }

    void forget(Lease<S> lease) {
        held.remove(lease);
        if (lease.reentrancyKey != null) {
            reentrant.remove(lease.reentrancyKey, lease);
        }
    }

    /**
     * Declares a lease lost. With {@code cleanUp} also asks the backend to drop it, for when the backend
     * may still hold it for us. Not when the backend said it is gone (a renewal answered "not held", a
     * reported session end): there is nothing of ours left to release.
     */
    void lost(Lease<S> lease, String reason, boolean cleanUp) {
        if (!lease.markLost(reason, cleanUp)) {
            return;
        }
        forget(lease);
        LOG.log(Level.WARNING, () -> "lock '" + lease.name + "' (token " + lease.token + ") lost: " + reason);
        if (cleanUp) {
            releaseLost(lease);
        }
    }

    /**
     * The local deadline passed with no renewal confirmed. If renewals of unknown outcome were sent (failed,
     * timed out, still in flight), they may have reached the server and extended the lease by a whole
     * lease, so the lock could stay blocked that long after we gave it up: the owner-checked release goes
     * out at once, in the background. It is safe whoever holds the lock now: every backend releases only
     * if the lock still has this acquisition's owner value, which is unique to it, so it never frees a lock
     * another holder took meanwhile. Without such renewals the server-side lease runs out by itself
     * moments after the local deadline; a release there would gain little and would hide a server that
     * never expires anything (the contract's negative control).
     */
    void lostAtDeadline(Lease<S> lease) {
        lost(lease, "no renewal succeeded before the lease deadline", lease.renewedUnknowingly());
    }

    /** Asks the backend to drop a lease already declared lost that it may still hold for us; failures are logged. */
    void releaseLost(Lease<S> lease) {
        lease.releaseAfterLoss = releaseBackendLease(lease.name, lease.backendLease);
    }

    /**
     * The owner released a lost lease that may still be ours on the server: sends the owner-checked release
     * again unless one is on its way or was answered (the first may have failed with the renewals, say
     * when the backend was unreachable).
     */
    void releaseAfterLossAgain(Lease<S> lease) {
        CompletableFuture<Boolean> last = lease.releaseAfterLoss;
        if (isClosed() || (last != null && (!last.isDone() || !last.isCompletedExceptionally()))) {
            return;
        }
        releaseLost(lease);
    }

    private void lostWhere(Predicate<? super S> affected, String reason) {
        synchronized (recentLosses) {
            recentLosses.addLast(new ReportedLoss<>(lossEpoch.incrementAndGet(), affected, reason));
            if (recentLosses.size() > MAX_RECENT_LOSSES) {
                recentLosses.removeFirst();
            }
        }
        for (Lease<S> lease : held) {
            if (affected.test(lease.backendLease)) {
                lost(lease, reason, false);
            }
        }
    }

    void releaseQuietly(Lease<S> lease) {
        if (lease.markReleased()) {
            releaseBackendLease(lease.name, lease.backendLease);
        }
    }

    /**
     * Releases a backend lease in the background; failures are logged (the lease then runs out).
     * {@link #close()} waits for these before it closes the backend. Returns the backend's answer, for
     * callers that act on it.
     */
    CompletableFuture<Boolean> releaseBackendLease(String lockName, S backendLease) {
        CompletableFuture<Boolean> started;
        try {
            started = backend.release(backendLease).toCompletableFuture();
        } catch (RuntimeException e) {
            started = CompletableFuture.failedFuture(e);
        }
        CompletableFuture<Boolean> stage = started;
        backgroundWork.add(stage);
        stage.whenComplete((ignored, failure) -> {
            backgroundWork.remove(stage);
            if (failure != null) {
                logCleanupFailure(lockName, failure);
            }
        });
        return stage;
    }

    /** Background work that close() must let finish before the backend goes: releases, acquisition cleanups. */
    void trackBackgroundWork(CompletableFuture<?> work) {
        if (!work.isDone()) {
            backgroundWork.add(work);
            work.whenComplete((ignored, failure) -> backgroundWork.remove(work));
        }
    }

    /** The backend's release as a stage, also when the backend throws instead of failing the stage. */
    /** The release of a user's {@code release()}: the caller's thread waits for it. */
    private CompletionStage<Boolean> releaseForCaller(Lease<S> lease) {
        try {
            return backend.releaseOnCallerThread(lease.backendLease);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    void runListener(Runnable listener) {
        Runnable guarded = () -> {
            try {
                listener.run();
            } catch (RuntimeException | Error e) {
                LOG.log(Level.ERROR, "an onLost listener threw", e);
            }
        };
        try {
            scheduler.execute(guarded);
        } catch (RejectedExecutionException closedScheduler) {
            guarded.run(); // registered after close() shut our scheduler down: still runs, once
        }
    }

    boolean isClosed() {
        return closed.get();
    }

    LockException closedWhileWaiting() {
        return new LockException(null, "the lock client for " + backend.describe() + " was closed while waiting", null);
    }

    void logCleanupFailure(String lockName, Throwable failure) {
        LOG.log(Level.DEBUG, () -> "cleanup of lock '" + lockName + "' on " + backend.describe()
                + " failed; the server-side lease will run out by itself", failure);
    }

    /** The sync view of an acquisition: waits, and on interrupt gives up without leaving anything held. */
    @Nullable Hold<S> waitFor(CompletableFuture<Hold<S>> op) throws InterruptedException {
        try {
            acquireSpin.spin(op);
            return op.get();
        } catch (InterruptedException e) {
            if (!op.cancel(false) && op.isDone() && !op.isCompletedExceptionally()) {
                Hold<S> got = op.getNow(null);
                if (got != null) {
                    got.abandon(); // acquired just as we were interrupted: the caller will never see it
                }
            }
            throw e;
        } catch (ExecutionException e) {
            throw unwrap(e.getCause());
        }
    }

    /**
     * Waits for the backend to confirm a release, at most the operation timeout. Not interruptible: a
     * release in a {@code finally} or try-with-resources of an interrupted thread must still happen
     * (the interrupt status is kept). Failures become {@link LockBackendException}.
     */
    boolean awaitRelease(Lease<S> lease) {
        CompletableFuture<Boolean> stage = releaseForCaller(lease).toCompletableFuture();
        releaseSpin.spin(stage);
        boolean interrupted = false;
        long end = ticker.read() + operationTimeout.toNanos();
        try {
            while (true) {
                try {
                    return stage.get(Math.max(0, end - ticker.read()), TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (TimeoutException e) {
                    throw new LockBackendException(lease.name, "release got no answer from " + backend.describe()
                            + " within " + operationTimeout + "; the server-side lease will run out by itself", e);
                } catch (ExecutionException e) {
                    throw backendFailure(lease.name, "release", e.getCause());
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    LockException backendFailure(String lockName, String operation, Throwable failure) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
        if (cause instanceof LockException lockException) {
            return lockException;
        }
        return new LockBackendException(lockName, operation + " failed on " + backend.describe() + ": " + cause,
                cause);
    }

    static RuntimeException unwrap(Throwable failure) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
        if (cause instanceof RuntimeException runtime) {
            return runtime;
        }
        if (cause instanceof Error error) {
            throw error;
        }
        return new LockException(null, "unexpected failure: " + cause, cause);
    }

    private void checkOpen() {
        if (closed.get()) {
            throw new IllegalStateException("lock client for " + backend.describe() + " is closed");
        }
    }

    /**
     * Closes in steps, each with its own share of the operation timeout, so that one that hangs cannot
     * starve the next: attempts in flight get up to half of it to settle; the releases of every lock still
     * held are then sent whatever came of that, and they and the background cleanups get the rest. A
     * lease whose release the backend confirms is released; one it refuses, fails or leaves unanswered
     * by the end is lost (listeners run). The backend is closed last.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        long start = ticker.read();
        long budget = operationTimeout.toNanos();
        boolean interrupted = false;
        try {
            // 1. waiters give up; attempts in flight settle (a late grant is given back by its op)
            LockException closing = closedWhileWaiting();
            List<CompletableFuture<?>> settling = new ArrayList<>();
            for (AcquireOp<S> op : pending) {
                op.result.completeExceptionally(closing);
                settling.add(op.settled);
            }
            interrupted |= awaitAll(settling, start + budget / 2);
            if (!settling.stream().allMatch(CompletableFuture::isDone)) {
                LOG.log(Level.WARNING, () -> "close of " + backend.describe() + ": acquire attempts still in"
                        + " flight after " + Duration.ofNanos(budget / 2) + "; what they bring back is given back");
            }
            // 2. every lock still held is released, whatever step 1 came to
            renewer.stop();
            List<Lease<S>> releasing = new ArrayList<>();
            List<CompletableFuture<?>> answers = new ArrayList<>();
            for (Lease<S> lease : held) {
                if (lease.beginClose()) {
                    releasing.add(lease);
                    answers.add(releaseBackendLease(lease.name, lease.backendLease)
                            .whenComplete((wasOurs, failure) -> closeAnswered(lease, wasOurs, failure)));
                }
            }
            // 3. the releases and the background cleanups finish, within what is left
            answers.addAll(backgroundWork);
            interrupted |= awaitAll(answers, start + budget);
            for (Lease<S> lease : releasing) {
                if (lease.closeFailed("the client's close got no answer to its release from " + backend.describe()
                        + " within the operation timeout (" + operationTimeout
                        + "); the server-side lease runs out by itself")) {
                    logLostOnClose(lease);
                }
            }
        } finally {
            renewer.stop();
            try {
                backend.close(); // 4. only now: nothing of ours is in flight any more (or the time is up)
            } finally {
                if (ownsScheduler) {
                    scheduler.shutdown(); // listeners already handed to it still run
                }
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** The backend's answer to a release close() sent: released, or lost if it could not be done. */
    private void closeAnswered(Lease<S> lease, @Nullable Boolean wasOurs, @Nullable Throwable failure) {
        if (failure == null && Boolean.TRUE.equals(wasOurs)) {
            lease.closeReleased();
            return;
        }
        String reason = failure == null
                ? "the client's close found the lock no longer held: its lease had expired or it was removed from "
                        + backend.describe()
                : "the client's close could not release it on " + backend.describe() + ": "
                        + backendFailure(lease.name, "release", failure).getMessage()
                        + "; the server-side lease runs out by itself";
        if (lease.closeFailed(reason)) {
            logLostOnClose(lease);
        }
    }

    private void logLostOnClose(Lease<S> lease) {
        LOG.log(Level.WARNING, () -> "lock '" + lease.name + "' (token " + lease.token + ") lost on close: "
                + lease.lostReason());
    }

    /** 128 random bits, URL-safe base64 (22 characters): owner values are stored with every lock. */
    private static String randomId() {
        byte[] bytes = new byte[16];
        new java.security.SecureRandom().nextBytes(bytes);
        return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /**
     * Waits until every one of {@code work} is done, failed ones included, or until {@code end} on the
     * ticker. Not interruptible, as close must still release: returns whether the thread was interrupted
     * meanwhile, for the caller to restore the flag.
     */
    private boolean awaitAll(List<? extends CompletableFuture<?>> work, long end) {
        CompletableFuture<Void> all = CompletableFuture.allOf(work.stream()
                .map(each -> each.handle((ignored, failure) -> null)).toArray(CompletableFuture[]::new));
        boolean interrupted = false;
        while (true) {
            try {
                all.get(Math.max(0, end - ticker.read()), TimeUnit.NANOSECONDS);
                return interrupted;
            } catch (InterruptedException e) {
                interrupted = true;
            } catch (TimeoutException e) {
                return interrupted;
            } catch (ExecutionException | CancellationException e) {
                throw new IllegalStateException("unreachable: every stage was made to succeed", e);
            }
        }
    }

    /** A loss the backend reported, kept briefly for acquisitions whose reply was in flight. */
    private record ReportedLoss<S>(long epoch, Predicate<? super S> affected, String reason) {}

    @Override
    public String toString() {
        return "LockClient[" + backend.describe() + (closed.get() ? ", closed" : "") + "]";
    }
}
