package io.distkit.lock.spi;

import java.time.Duration;

/**
 * One acquire call as the backend sees it.
 *
 * @param name the lock name, already checked (non-blank, at most 200 characters); the backend
 *     encodes it so that no two names share a key and no name escapes its prefix
 * @param mode exclusive, or one side of a read-write lock
 * @param leaseTime how long the backend should keep the lock without a renewal
 * @param owner unique among all acquisitions of all clients (a random client id and a sequence
 *     number); store it so that release and renew can prove ownership
 * @param willWait whether the caller waits when the lock is busy (false for {@code tryAcquire()}
 *     and zero waits): a backend may prepare its wake-up (subscribe, watch) only when it will be used
 * @param callerBlocks whether the calling thread is blocked until the acquisition is answered
 *     ({@code acquire}, {@code tryAcquire}; false for {@code acquireAsync}). The engine makes the
 *     first {@link Acquisition#attempt()} on that thread: a backend whose I/O blocks anyway (JDBC)
 *     may run that attempt right there instead of handing it to a thread of its own. Later attempts
 *     come from the engine's timer threads and must not block.
 * @param autoRenew whether the engine will renew the lease while the lock is held ({@link
 *     io.distkit.lock.LockOptions#autoRenew()}). A lease that is not renewed must run out on the
 *     backend by itself: a backend that shares one server-side lease between locks (an etcd session)
 *     must not put such a lock under a lease that other locks keep alive.
 */
public record LockRequest(String name, LockMode mode, Duration leaseTime, String owner, boolean willWait,
        boolean callerBlocks, boolean autoRenew) {}
