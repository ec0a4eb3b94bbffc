/**
 * Ids on Redis: {@link io.distkit.id.backends.redis.RedisIdStore} gives counters ({@code INCRBY}), segment
 * allocators and worker-id assigners on one server, guarded against a server that lost writes
 * ({@link io.distkit.id.backends.redis.RewindGuard}).
 */
@NullMarked
package io.distkit.id.backends.redis;

import org.jspecify.annotations.NullMarked;
