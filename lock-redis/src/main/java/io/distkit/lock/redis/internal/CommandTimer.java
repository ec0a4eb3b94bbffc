package io.distkit.lock.redis.internal;

import io.lettuce.core.RedisFuture;
import io.lettuce.core.resource.ClientResources;
import io.netty.util.Timeout;
import io.netty.util.Timer;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Bounds the wait for each command's reply, on the Lettuce client's own timer ({@link ClientResources#timer()},
 * the hashed wheel Lettuce already runs for its command timeouts), as Lettuce's own command expiry does.
 *
 * <p>Why not {@code CompletableFuture.orTimeout}: it schedules on the JDK's single delayer thread, and since
 * each command's timeout is cancelled before the next one is scheduled, every command lands in an empty
 * queue and wakes that thread: one extra context switch per command, two per lock cycle, which the lock
 * benchmark measured as the whole of the backend's CPU and latency overhead over a bare Lettuce loop. A wheel
 * timeout is a queue insertion and no wake-up; it may fire up to one tick (100 ms by default) late, which a
 * bound of seconds does not notice.
 *
 * <p>On expiry the command's own future is completed with a {@link TimeoutException}, on the client's event
 * executors (the timer thread must stay quick); Lettuce never writes a completed command, so a command still
 * queued is not sent later. If the client's resources are already shut down, {@code orTimeout} is the
 * fallback, so every bounded stage still completes.
 */
public final class CommandTimer implements CommandBound {

    private final Timer timer;
    private final Executor executor;
    private final Duration timeout;

    /** @param timeout the bound of {@link #bound(RedisFuture)} */
    public CommandTimer(ClientResources resources, Duration timeout) {
        this.timer = resources.timer();
        this.executor = resources.eventExecutorGroup();
        this.timeout = timeout;
    }

    /** The command's own future, completed with a {@link TimeoutException} unless answered within the command timeout. */
    @Override
    public <T> CompletableFuture<T> bound(RedisFuture<T> command) {
        return bound(command, timeout);
    }

    /** The command's own future, completed with a {@link TimeoutException} unless answered within {@code limit}. */
    public <T> CompletableFuture<T> bound(RedisFuture<T> command, Duration limit) {
        CompletableFuture<T> future = command.toCompletableFuture();
        if (future.isDone()) {
            return future;
        }
        long nanos = limit.toNanos();
        Timeout expiry;
        try {
            expiry = timer.newTimeout(ignored -> expire(future, limit), nanos, TimeUnit.NANOSECONDS);
        } catch (RuntimeException timerStopped) {
            return future.orTimeout(nanos, TimeUnit.NANOSECONDS);
        }
        future.whenComplete((value, failure) -> expiry.cancel());
        return future;
    }

    private void expire(CompletableFuture<?> future, Duration limit) {
        if (future.isDone()) {
            return;
        }
        Runnable complete = () -> future.completeExceptionally(new TimeoutException("no reply within " + limit));
        try {
            executor.execute(complete);
        } catch (RuntimeException executorShutDown) {
            complete.run();
        }
    }
}
