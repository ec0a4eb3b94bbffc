package io.distkit.lock.redis.internal;

import io.lettuce.core.RedisFuture;
import java.util.concurrent.CompletableFuture;

/**
 * Bounds the wait for one command's reply. Implementations complete the command's own future with a
 * {@link java.util.concurrent.TimeoutException} when the bound passes, so Lettuce never writes a command
 * that is still queued after its caller gave up.
 */
@FunctionalInterface
public interface CommandBound {

    /** The command's own future, failed with a {@code TimeoutException} unless answered in time. */
    <T> CompletableFuture<T> bound(RedisFuture<T> command);
}
