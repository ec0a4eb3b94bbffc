package io.distkit.lock.spi;

import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Where the engine runs its timers (renewal passes, deadline checks, retry delays) and callbacks
 * ({@code onLost} listeners, acquisition steps). Delays are in the nanoseconds of the engine's
 * {@link Ticker}, so a test can pair a manual ticker with a scheduler it advances by hand.
 */
public interface Scheduler {

    /** Runs {@code task} once after {@code delayNanos} (at once if not positive). */
    Cancellable schedule(Runnable task, long delayNanos);

    /** Runs {@code task} soon, on a scheduler thread, never on the caller's stack. */
    void execute(Runnable task);

    /** Stops the scheduler's threads; tasks not yet run are dropped. Idempotent. */
    void shutdown();

    /** A scheduled task that can be called off. */
    @FunctionalInterface
    interface Cancellable {
        /** Calls the task off if it has not started; does nothing otherwise. */
        void cancel();
    }

    /**
     * A scheduler on two daemon threads named {@code distkit-<purpose>-<n>}, measured on
     * {@link System#nanoTime()}: pair it with {@link Ticker#system()}.
     */
    static Scheduler daemon(String purpose) {
        return new DaemonScheduler(purpose);
    }

    /** The default scheduler: a small {@link ScheduledThreadPoolExecutor}. */
    final class DaemonScheduler implements Scheduler {
        private static final AtomicInteger THREADS = new AtomicInteger();
        private final ScheduledThreadPoolExecutor executor;

        private DaemonScheduler(String purpose) {
            ThreadFactory factory = task -> {
                Thread thread = new Thread(task, "distkit-" + purpose + "-" + THREADS.incrementAndGet());
                thread.setDaemon(true);
                return thread;
            };
            executor = new ScheduledThreadPoolExecutor(2, factory);
            executor.setRemoveOnCancelPolicy(true);
            executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
        }

        @Override
        public Cancellable schedule(Runnable task, long delayNanos) {
            var future = executor.schedule(task, Math.max(0, delayNanos), TimeUnit.NANOSECONDS);
            return () -> future.cancel(false);
        }

        @Override
        public void execute(Runnable task) {
            executor.execute(task);
        }

        @Override
        public void shutdown() {
            executor.shutdownNow();
        }
    }
}
