package io.distkit.lock.spi;

import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** The default {@link Scheduler}: a {@link ScheduledThreadPoolExecutor} on two daemon threads. */
final class DaemonScheduler implements Scheduler {

    private static final AtomicInteger THREADS = new AtomicInteger();
    private final ScheduledThreadPoolExecutor executor;

    DaemonScheduler(String purpose) {
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
        executor.shutdown(); // onLost listeners already queued still run; pending timers are dropped
    }
}
