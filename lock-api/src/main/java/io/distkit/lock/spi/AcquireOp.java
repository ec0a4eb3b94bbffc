package io.distkit.lock.spi;

import io.distkit.lock.spi.Attempt.Acquired;
import io.distkit.lock.spi.Attempt.Busy;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.jspecify.annotations.Nullable;

/**
 * One acquire call: attempt, and while busy wait for the backend's wake-up or the retry timer,
 * within the caller's deadline. The result completes with the hold, with null when the wait ran
 * out, or exceptionally on backend failure; it completes only after the backend's acquisition
 * state was cleaned up, so an empty answer leaves nothing behind.
 *
 * <p>Invariants, kept under this object's monitor: at most one attempt in flight; {@code
 * Acquisition.finish} called exactly once; a cancelled or closed call that acquires anyway releases
 * what it got. The first attempt runs on the caller's thread; later ones are handed to the
 * scheduler, so a backend callback thread never runs a long chain of retries.
 */
final class AcquireOp<S> {

    final CompletableFuture<Hold<S>> result = new CompletableFuture<>();
    private final EngineClient<S> client;
    private final EngineLock<S> lock;
    private final @Nullable ReentrancyKey key;
    private final Acquisition<S> acquisition;
    private final boolean bounded;
    private final long deadline;

    private boolean inFlight;
    private boolean finished;
    private boolean waiting;
    private int round;
    private Scheduler.@Nullable Cancellable timer;

    AcquireOp(EngineClient<S> client, EngineLock<S> lock, @Nullable ReentrancyKey key, LockRequest request,
            long waitNanos) {
        this.client = client;
        this.lock = lock;
        this.key = key;
        this.acquisition = client.backend.newAcquisition(request);
        this.bounded = waitNanos != EngineLock.FOREVER;
        this.deadline = client.ticker.read() + (bounded ? waitNanos : 0);
    }

    void start() {
        client.pending.add(this); // from the start, so that close() fails it even during its first attempt
        if (client.isClosed()) {
            // close() swept pending before we joined it: fail here, or we would wait on a closed backend
            synchronized (this) {
                finishLocked();
            }
            finishBackend(false);
            result.completeExceptionally(client.closedWhileWaiting());
            return;
        }
        attempt();
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
        }
        long sentAt = client.ticker.read();
        CompletionStage<Attempt<S>> stage;
        try {
            stage = acquisition.attempt();
        } catch (RuntimeException e) {
            stage = CompletableFuture.failedFuture(e);
        }
        stage.whenComplete((attempt, failure) -> onAttempt(sentAt, attempt, failure));
    }

    private void onAttempt(long sentAt, @Nullable Attempt<S> attempt, @Nullable Throwable failure) {
        if (attempt instanceof Acquired<S> acquired) {
            onAcquired(sentAt, acquired);
            return;
        }
        boolean done;
        boolean firstWait = false;
        synchronized (this) {
            inFlight = false;
            long now = client.ticker.read();
            done = failure != null || result.isDone() || (bounded && now - deadline >= 0);
            if (done) {
                finishLocked();
            } else {
                firstWait = waitForRetry((Busy<S>) attempt, now);
            }
        }
        if (!done) {
            if (firstWait) {
                // from now on the caller may give up while nothing is in flight: clean up then
                result.whenComplete((hold, ignored) -> abandonIfIdle());
            }
            return;
        }
        finishBackend(false).whenComplete((ignored, cleanupFailure) -> {
            if (failure != null) {
                result.completeExceptionally(client.backendFailure(lock.name(), "acquire", failure));
            } else {
                result.complete(null);
            }
        });
    }

    private void onAcquired(long sentAt, Acquired<S> acquired) {
        Lease<S> lease = client.register(lock, key, acquired.fencingToken(), acquired.lease(), sentAt);
        synchronized (this) {
            inFlight = false;
            finishLocked();
        }
        finishBackend(true);
        if (!result.complete(new Hold<>(lease))) {
            client.releaseQuietly(lease); // cancelled, timed out by the caller, or the client closed meanwhile
        }
    }

    /** Arms the wake-ups of one waiting round; true the first time the call waits. Guarded by this. */
    private boolean waitForRetry(Busy<S> busy, long now) {
        boolean first = !waiting;
        if (first) {
            waiting = true;
        }
        int myRound = ++round;
        long delay = bounded ? deadline - now : Long.MAX_VALUE;
        if (busy.retryAfter() != null) {
            delay = Math.min(delay, busy.retryAfter().toNanos());
        }
        if (delay != Long.MAX_VALUE) {
            timer = client.scheduler.schedule(() -> wake(myRound), delay);
        }
        if (busy.wakeUp() != null) {
            busy.wakeUp().whenComplete((ignored, failure) -> wake(myRound));
        }
        return first;
    }

    private void wake(int forRound) {
        synchronized (this) {
            if (finished || inFlight || round != forRound) {
                return; // a stale timer or a second signal for a round already woken
            }
            round++;
            cancelTimer();
        }
        client.scheduler.execute(this::attempt);
    }

    /** The caller gave up (interrupt, cancel, client close): clean up now unless an attempt is in flight. */
    private void abandonIfIdle() {
        synchronized (this) {
            if (finished || inFlight) {
                return; // onAttempt will see the completed result
            }
            finishLocked();
        }
        finishBackend(false);
    }

    // guarded by this
    private void finishLocked() {
        finished = true;
        cancelTimer();
        client.pending.remove(this);
    }

    private void cancelTimer() {
        if (timer != null) {
            timer.cancel();
            timer = null;
        }
    }

    private CompletionStage<Void> finishBackend(boolean acquired) {
        CompletionStage<Void> done;
        try {
            done = acquisition.finish(acquired);
        } catch (RuntimeException e) {
            done = CompletableFuture.failedFuture(e);
        }
        if (done instanceof CompletableFuture<Void> future && future.isDone() && !future.isCompletedExceptionally()) {
            return future; // the common case (nothing to clean up): no callbacks on the hot path
        }
        return done.whenComplete((ignored, failure) -> {
            if (failure != null) {
                client.logCleanupFailure(lock.name(), failure);
            }
        }).exceptionally(failure -> null);
    }
}
