package io.distkit.lock.redis.internal;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * Counts a backend's operations in flight, so that closing it can wait for their answers (at most a bound)
 * before closing the connections they run on: an acquire answered during close then still gives its lock back
 * over an open connection.
 */
public final class InFlight {

    private final Object lock = new Object();
    private int count; // guarded by lock

    /** Runs an operation counted as in flight until its stage completes; a throwing supplier yields a failed stage. */
    public <T> CompletableFuture<T> track(Supplier<CompletableFuture<T>> operation) {
        synchronized (lock) {
            count++;
        }
        CompletableFuture<T> stage;
        try {
            stage = operation.get();
        } catch (RuntimeException e) {
            stage = CompletableFuture.failedFuture(e);
        }
        stage.whenComplete((ignored, failure) -> {
            synchronized (lock) {
                if (--count == 0) {
                    lock.notifyAll();
                }
            }
        });
        return stage;
    }

    /** Waits until nothing is in flight or {@code limit} has passed; keeps the interrupt status. */
    public void awaitIdle(Duration limit) {
        long end = System.nanoTime() + limit.toNanos();
        try {
            synchronized (lock) {
                while (count > 0 && end - System.nanoTime() > 0) {
                    lock.wait(Math.max(1, (end - System.nanoTime()) / 1_000_000));
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
