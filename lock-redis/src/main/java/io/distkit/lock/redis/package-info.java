/**
 * Distributed locks with fencing tokens on Redis (standalone, Sentinel, Cluster) through Lettuce: start
 * at {@link io.distkit.lock.redis.RedisLockClient}, or connect by URI with
 * {@link io.distkit.lock.LockClients#connect(String)} ({@code redis://}, {@code rediss://},
 * {@code redis-sentinel://}).
 *
 * <p>Only {@code RedisLockClient} and the {@link java.util.ServiceLoader} provider are public; the
 * backend the engine runs on is package-private.
 */
@NullMarked
package io.distkit.lock.redis;

import org.jspecify.annotations.NullMarked;
