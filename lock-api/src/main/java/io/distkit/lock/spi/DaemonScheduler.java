package io.distkit.lock.spi;

import io.distkit.common.DaemonThreads;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/** The default {@link Scheduler}: a {@link ScheduledThreadPoolExecutor} on two daemon threads. */
final class DaemonScheduler implements Scheduler {

    private final ScheduledThreadPoolExecutor executor;

    DaemonScheduler(String purpose) {
        executor = new ScheduledThreadPoolExecutor(2, DaemonThreads.factory(purpose));
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
