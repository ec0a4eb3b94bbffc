package io.distkit.lock.spi;

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

    /** Stops the scheduler: timers not yet due are dropped, tasks already handed to {@link #execute} still run. Idempotent. */
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
}
