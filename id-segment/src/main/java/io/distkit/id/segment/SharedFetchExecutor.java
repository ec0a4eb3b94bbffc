package io.distkit.id.segment;

import io.distkit.common.DaemonThreads;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Runs the fetches of every generator built without an executor of its own, on daemon threads shared by the JVM.
 *
 * <p>A cached pool for the fetches: each may block in the store for as long as the store's timeout, and
 * one tag's hung store must not hold up another's fetch, so there is one thread per fetch in flight
 * ({@code distkit-segment-fetch-<n>}), and idle ones end after 30 s. One more thread
 * ({@code distkit-segment-retry-timer-<n>}) only times the pauses before retries and hands the retry to
 * the pool, so that a pause holds no fetch thread.
 */
final class SharedFetchExecutor {

    private static final ExecutorService FETCHES =
            Executors.newCachedThreadPool(DaemonThreads.factory("segment-fetch"));
    private static final ScheduledExecutorService PAUSES =
            Executors.newSingleThreadScheduledExecutor(DaemonThreads.factory("segment-retry-timer"));

    private SharedFetchExecutor() {}

    /** Runs {@code task} on a fetch thread, at once or after {@code delayNanos}. */
    static void run(Runnable task, long delayNanos) {
        if (delayNanos <= 0) {
            FETCHES.execute(task);
        } else {
            PAUSES.schedule(() -> FETCHES.execute(task), delayNanos, TimeUnit.NANOSECONDS);
        }
    }
}
