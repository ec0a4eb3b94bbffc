package io.distkit.common;

import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * Fails calls to a server that got no reply within one fixed timeout, cheaply enough to bound every call.
 *
 * <p>Every call has the same timeout, so calls time out in the order they were made: they wait in one
 * queue, and one timer thread looks at its head every tick (a tenth of the timeout, within 10 to 100 ms)
 * and hands each expiry to the given executor. Bounding a call costs a queue insertion, not a timer task:
 * scheduling and cancelling one per call wakes the timer thread on every round trip, a context switch each
 * on a small machine. A call times out at most one tick late.
 *
 * <p>The same timer thread runs the owner's delayed tasks ({@link #schedule}), so a backend needs no other.
 */
public final class CallTimeouts implements AutoCloseable {

    private final Duration timeout;
    private final Executor expiries;
    private final ScheduledThreadPoolExecutor timer;
    /** Calls not known to be answered, oldest first; answered ones leave when they reach the head. */
    private final Queue<Pending> pending = new ConcurrentLinkedQueue<>();

    /** A call's stage and when it times out ({@link System#nanoTime()}). */
    private record Pending(CompletableFuture<?> out, long deadline) {}

    /**
     * @param timeout  how long a call may go unanswered
     * @param expiries where a timed-out stage is failed (its continuations run there), never the timer thread
     * @param purpose  names the timer thread {@code distkit-<purpose>-timer-<n>}
     */
    public CallTimeouts(Duration timeout, Executor expiries, String purpose) {
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("a call timeout must be positive, was " + timeout);
        }
        this.timeout = timeout;
        this.expiries = expiries;
        this.timer = new ScheduledThreadPoolExecutor(1, DaemonThreads.factory(purpose + "-timer"));
        timer.setRemoveOnCancelPolicy(true);
        timer.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        long tick = Math.max(TimeUnit.MILLISECONDS.toNanos(10),
                Math.min(TimeUnit.MILLISECONDS.toNanos(100), timeout.toNanos() / 10));
        timer.scheduleAtFixedRate(this::expire, tick, tick, TimeUnit.NANOSECONDS);
    }

    public Duration timeout() {
        return timeout;
    }

    /**
     * Fails {@code call} with a {@link TimeoutException} ("no reply within ...") if it is not complete one
     * timeout from now (after {@link #close()} on the JDK's delay thread, so that every stage still completes).
     */
    public void bound(CompletableFuture<?> call) {
        if (call.isDone()) {
            return;
        }
        if (timer.isShutdown()) {
            call.orTimeout(timeout.toNanos(), TimeUnit.NANOSECONDS);
            return;
        }
        pending.add(new Pending(call, System.nanoTime() + timeout.toNanos()));
    }

    /** Runs {@code task} on the expiry executor after the delay; null if closed (nothing runs). */
    public @Nullable ScheduledFuture<?> schedule(Runnable task, long delayNanos) {
        try {
            return timer.schedule(() -> expiries.execute(task), delayNanos, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException closed) {
            return null;
        }
    }

    public boolean isClosed() {
        return timer.isShutdown();
    }

    /** Fails every call at the head of the queue whose timeout has passed; drops answered ones. */
    private void expire() {
        long now = System.nanoTime();
        for (Pending head = pending.peek(); head != null; head = pending.peek()) {
            if (!head.out.isDone() && now - head.deadline < 0) {
                return; // the oldest call still running has time left, and so do all later ones
            }
            pending.poll();
            CompletableFuture<?> expired = head.out;
            if (!expired.isDone()) {
                TimeoutException timedOut = new TimeoutException("no reply within " + timeout);
                try {
                    expiries.execute(() -> expired.completeExceptionally(timedOut));
                } catch (RejectedExecutionException closed) {
                    expired.completeExceptionally(timedOut);
                }
            }
        }
    }

    /**
     * Stops the timer thread: delayed tasks not yet due are dropped; calls still pending keep their timeout,
     * on the JDK's delay thread.
     */
    @Override
    public void close() {
        timer.shutdownNow();
        long now = System.nanoTime();
        for (Pending p = pending.poll(); p != null; p = pending.poll()) {
            p.out.orTimeout(Math.max(0, p.deadline - now), TimeUnit.NANOSECONDS);
        }
    }
}
