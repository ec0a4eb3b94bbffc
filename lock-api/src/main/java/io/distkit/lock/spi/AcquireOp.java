package io.distkit.lock.spi;

import io.distkit.lock.LockBackendException;
import io.distkit.lock.spi.Attempt.Acquired;
import io.distkit.lock.spi.Attempt.Busy;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
import org.jspecify.annotations.Nullable;

/**
 * One acquire call: attempt, and while busy wait for the backend's wake-up or a retry timer, until
 * the caller's deadline. The result completes with the hold, with null when the wait ran out, or
 * exceptionally on backend failure. The deadline is kept even while an attempt is in flight (a zero
 * wait is one attempt, whose answer is awaited); what that attempt brings back afterwards is
 * released, and the backend's waiting state is cleaned up in the background ({@link
 * Acquisition#finish}), never holding up the caller.
 *
 * <p>Invariants, kept under this object's monitor: at most one attempt in flight; {@code finish}
 * called exactly once; every lease an attempt brings back is either handed to the caller or
 * released. The first attempt runs on the caller's thread; later ones are handed to the scheduler,
 * so a backend callback thread never runs a chain of retries. Timed retries are capped at the
 * lease time (a lost notification delays a waiter by at most one lease), floored at 1 ms and
 * jittered by up to 10%, so waiters told the same expiry do not retry in lockstep; an explicit zero
 * retries at once.
 *
 * <p>A grant whose reply comes after the lease it grants is over here (measured from the send) is given
 * back and asked for again once that release is answered. If the call ends on such a grant, it fails with
 * a {@link LockBackendException} that says so: an empty result must mean that someone else holds the lock.
 */
final class AcquireOp<S> {

    private static final System.Logger LOG = System.getLogger(AcquireOp.class.getName());
    private static final long MIN_RETRY_NANOS = 1_000_000L;

    final CompletableFuture<Hold<S>> result = new CompletableFuture<>();
    /** Completes when the call is over and the backend's cleanup of it is done: what close() waits for. */
    final CompletableFuture<Void> settled = new CompletableFuture<>();
    private final EngineClient<S> client;
    private final EngineLock<S> lock;
    private final @Nullable ReentrancyKey key;
    private final Acquisition<S> acquisition;
    private final boolean bounded;
    private final boolean oneAttempt; // a zero wait: the answer of its one attempt is awaited
    private final long deadline;

    // guarded by this
    private boolean inFlight;
    private boolean finished;
    private boolean waiting; // between a busy answer and the wake-up that ends it
    private boolean signalMissed; // a wake-up fired while an attempt was in flight
    private int round;
    private long lateGrantRoundTrip = -1; // of the latest answer, if it was a grant too late to use; else -1
    private @Nullable Throwable unavailable; // the latest answer's, if the backend could not say for the moment
    private long unavailableSince; // ticker time of the first of the latest unavailable answers in a row; 0 if none
    private Scheduler.@Nullable Cancellable retryTimer;
    private Scheduler.@Nullable Cancellable deadlineTimer;
    private @Nullable CompletionStage<?> lastWakeUp;

    /** Cheap hash for the client's concurrent sets: identity hash codes cost a header inflation per object. */
    private final int hash = java.util.concurrent.ThreadLocalRandom.current().nextInt();

    AcquireOp(EngineClient<S> client, EngineLock<S> lock, @Nullable ReentrancyKey key, LockRequest request,
            long waitNanos) {
        this.client = client;
        this.lock = lock;
        this.key = key;
        this.acquisition = client.backend.newAcquisition(request);
        this.bounded = waitNanos != EngineLock.FOREVER;
        this.oneAttempt = waitNanos == 0;
        this.deadline = client.ticker.read() + (bounded ? waitNanos : 0);
    }

    void start() {
        client.pending.add(this); // from the start, so that close() fails it even during its first attempt
        if (client.isClosed()) {
            // close() swept pending before we joined it: fail here, or we would wait on a closed backend
            result.completeExceptionally(client.closedWhileWaiting());
        }
        attempt();
        synchronized (this) {
            if (finished) {
                return; // the common case: answered at once
            }
            if (bounded && !oneAttempt) {
                deadlineTimer = client.scheduler.schedule(this::waitRanOut, deadline - client.ticker.read());
            }
        }
        // from now on the caller may give up (deadline, interrupt, cancel, close) at any moment
        result.whenComplete((hold, failure) -> abandonIfIdle());
    }

    private void attempt() {
        synchronized (this) {
            if (finished) {
                return;
            }
            if (result.isDone()) {
                finishLocked();
                finishBackend(false);
                return;
            }
            inFlight = true;
            signalMissed = false;
        }
        long sentAt = client.ticker.read();
        long lossEpoch = client.losses.epoch();
        CompletionStage<Attempt<S>> stage;
        try {
            stage = acquisition.attempt();
        } catch (RuntimeException e) {
            stage = CompletableFuture.failedFuture(e);
        }
        stage.whenComplete((attempt, failure) -> {
            try {
                onAttempt(sentAt, lossEpoch, attempt, failure);
            } catch (RuntimeException | Error e) {
                fail(e); // a bug here must end the call, not leave the caller waiting forever
            }
        });
    }

    private void onAttempt(long sentAt, long lossEpoch, @Nullable Attempt<S> attempt, @Nullable Throwable failure) {
        if (failure == null && attempt == null) {
            failure = new IllegalStateException(client.backend.describe() + " answered an attempt with null");
        }
        long lateRoundTrip = -1;
        if (attempt instanceof Acquired<S> acquired) {
            long now = client.ticker.read();
            // the lease runs from the attempt, or from earlier if the backend granted under an older lease
            long leaseStart = sentAt - saturatedNanos(acquired.leaseAge());
            if (now - Lease.localDeadline(leaseStart, lock.options().leaseTime().toNanos()) < 0) {
                onAcquired(leaseStart, lossEpoch, acquired);
                return;
            }
            // the answer came after the lease it grants would already be over here: useless, give it
            // back (a late "success" must never be reported; docs/failures.md, F2) and ask again once the
            // backend has dropped it, so that the next answer is not about our own grant
            lateRoundTrip = now - leaseStart;
            LOG.log(Level.WARNING, () -> "lock '" + lock.name() + "': " + lateGrantMessage(now - leaseStart)
                    + "; asking again while the wait lasts");
            attempt = Attempt.busy(null, client.releases.inBackground(lock.name(), acquired.lease()));
        }
        long endedOnLateGrant;
        @Nullable Throwable endedUnavailable;
        synchronized (this) {
            inFlight = false;
            if (failure == null) {
                lateGrantRoundTrip = lateRoundTrip;
                unavailable = ((Busy<S>) attempt).unavailable();
                if (unavailable == null) {
                    unavailableSince = 0;
                } else {
                    long now = client.ticker.read();
                    if (unavailableSince == 0) {
                        unavailableSince = now | 1;
                    }
                    if (now - unavailableSince >= saturatedNanos(client.backend.unavailableLimit())) {
                        failure = unavailable; // not a passing moment any more: an outage the caller must hear of
                    }
                }
            }
            if (failure == null && !result.isDone() && (!bounded || client.ticker.read() - deadline < 0)) {
                waitForRetry((Busy<S>) attempt);
                return;
            }
            finishLocked();
            endedOnLateGrant = lateGrantRoundTrip;
            endedUnavailable = unavailable;
        }
        finishBackend(false);
        if (failure != null) {
            result.completeExceptionally(client.backendFailure(lock.name(), "acquire", failure));
        } else {
            endEmpty(endedOnLateGrant, endedUnavailable);
        }
    }

    /**
     * The caller's wait is over: empty, unless the latest answer was a grant that came too late or the
     * backend's "cannot say for the moment".
     */
    private void waitRanOut() {
        long endedOnLateGrant;
        @Nullable Throwable endedUnavailable;
        synchronized (this) {
            endedOnLateGrant = lateGrantRoundTrip;
            endedUnavailable = unavailable;
        }
        endEmpty(endedOnLateGrant, endedUnavailable);
    }

    private void endEmpty(long lateGrantRoundTrip, @Nullable Throwable unavailable) {
        if (unavailable != null) {
            result.completeExceptionally(client.backendFailure(lock.name(), "acquire", unavailable));
        } else if (lateGrantRoundTrip < 0) {
            result.complete(null);
        } else {
            result.completeExceptionally(new LockBackendException(lock.name(), lateGrantMessage(lateGrantRoundTrip)
                    + ". Use a longer leaseTime, or find what delays the replies (server load, network, pauses of"
                    + " this JVM)", null));
        }
    }

    private String lateGrantMessage(long roundTripNanos) {
        Duration lease = lock.options().leaseTime();
        Duration usable = Duration.ofNanos(lease.toNanos() - Lease.driftNanos(lease.toNanos()));
        return "the lock was granted, but the reply took " + millis(roundTripNanos) + ", longer than the lease of "
                + millis(lease.toNanos()) + " allows here (" + millis(usable.toNanos()) + " after the clock-drift"
                + " allowance), so it may already have run out on " + client.backend.describe()
                + "; the grant was given back";
    }

    private static String millis(long nanos) {
        return nanos % 1_000_000 == 0 ? nanos / 1_000_000 + " ms"
                : String.format(java.util.Locale.ROOT, "%.3f ms", nanos / 1e6);
    }

    private void onAcquired(long leaseStart, long lossEpoch, Acquired<S> acquired) {
        Lease<S> lease = client.register(lock, key, acquired.fencingToken(), acquired.lease(), leaseStart, lossEpoch);
        synchronized (this) {
            inFlight = false;
            finishLocked();
        }
        CompletableFuture<Void> cleanup = finishBackendStage(true);
        if (client.isClosed()) {
            result.completeExceptionally(client.closedWhileWaiting());
        }
        if (!result.complete(new Hold<>(lease))) {
            // cancelled, timed out or closed meanwhile: drop our hold; a reentrant hold taken in the
            // meantime by the same thread keeps the lease
            lease.dropHoldQuietly();
        }
        // settled only now, so that close() sees the release a failed hand-over started
        cleanup.whenComplete((ignored, failure) -> settled.complete(null));
    }

    // guarded by this
    private void waitForRetry(Busy<S> busy) {
        waiting = true;
        int myRound = ++round;
        long leaseNanos = lock.options().leaseTime().toNanos();
        long delay = busy.retryAfter() == null ? leaseNanos : saturatedNanos(busy.retryAfter());
        if (delay > 0) { // an explicit zero is the backend's "at once" (it just prepared its wake-up)
            delay = Math.max(MIN_RETRY_NANOS, Math.min(delay, leaseNanos));
            delay += ThreadLocalRandom.current().nextLong(delay / 10 + 1);
        }
        if (signalMissed) {
            signalMissed = false;
            delay = 0; // the busy answer may predate a wake-up that fired meanwhile: try again now
        }
        retryTimer = client.scheduler.schedule(() -> wake(myRound, false), delay);
        CompletionStage<?> wakeUp = busy.wakeUp();
        if (wakeUp != null && wakeUp != lastWakeUp) {
            lastWakeUp = wakeUp; // one callback per signal, however many rounds it spans
            // a backend's I/O thread that delivers the signal may send the next attempt itself (it only sends
            // requests): one thread hand-off less per hand-over. Never on this thread, which holds our monitor
            // (the signal was already there) or could be a caller's
            Thread registering = Thread.currentThread();
            boolean ioThreads = client.backend.completesOnIoThreads();
            wakeUp.whenComplete((ignored, failure) -> wake(-1, ioThreads && Thread.currentThread() != registering));
        }
    }

    /**
     * Ends the waiting round {@code forRound} (-1: whichever is current) with a new attempt, made on this thread
     * if {@code here} (a backend's I/O thread), else on the scheduler.
     */
    private void wake(int forRound, boolean here) {
        synchronized (this) {
            if (finished || !waiting || (forRound != -1 && round != forRound)) {
                signalMissed |= forRound == -1 && inFlight;
                return; // a stale timer, or a second signal for a round already woken
            }
            waiting = false;
            cancelRetryTimer();
        }
        if (here) {
            attempt();
        } else {
            client.scheduler.execute(this::attempt);
        }
    }

    /** The caller gave up (deadline, interrupt, cancel, client close): clean up now unless an attempt is in flight. */
    private void abandonIfIdle() {
        synchronized (this) {
            if (finished || inFlight) {
                return; // onAttempt will see the completed result
            }
            finishLocked();
        }
        finishBackend(false);
    }

    private void fail(Throwable failure) {
        synchronized (this) {
            inFlight = false;
            if (finished) {
                result.completeExceptionally(failure);
                return;
            }
            finishLocked();
        }
        finishBackend(false);
        result.completeExceptionally(failure);
    }

    // guarded by this
    private void finishLocked() {
        finished = true;
        waiting = false;
        cancelRetryTimer();
        if (deadlineTimer != null) {
            deadlineTimer.cancel();
            deadlineTimer = null;
        }
        client.pending.remove(this);
    }

    private void cancelRetryTimer() {
        if (retryTimer != null) {
            retryTimer.cancel();
            retryTimer = null;
        }
    }

    private static long saturatedNanos(java.time.Duration duration) {
        try {
            return duration.toNanos();
        } catch (ArithmeticException tooLong) {
            return Long.MAX_VALUE;
        }
    }

    /** Ends the backend's acquisition; {@link #settled} completes when that cleanup is done. */
    private void finishBackend(boolean acquired) {
        finishBackendStage(acquired).whenComplete((ignored, failure) -> settled.complete(null));
    }

    /** The backend's cleanup of this call, as a stage that never fails (failures are logged). */
    private CompletableFuture<Void> finishBackendStage(boolean acquired) {
        CompletionStage<Void> done;
        try {
            done = acquisition.finish(acquired);
        } catch (RuntimeException e) {
            done = CompletableFuture.failedFuture(e);
        }
        if (done instanceof CompletableFuture<Void> future && future.isDone() && !future.isCompletedExceptionally()) {
            return future; // the common case (nothing to clean up): no callbacks on the hot path
        }
        return done.toCompletableFuture().handle((ignored, failure) -> {
            if (failure != null) {
                client.releases.logCleanupFailure(lock.name(), failure);
            }
            return null;
        });
    }

    @Override
    public int hashCode() {
        return hash;
    }

    @Override
    public boolean equals(@Nullable Object other) {
        return this == other;
    }
}
