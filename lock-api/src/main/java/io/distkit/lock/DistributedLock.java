package io.distkit.lock;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * A named lock, valid for the life of its {@link LockClient}. Cheap to create; holds no state
 * between acquisitions, so it may be shared between threads.
 *
 * <p>Contention is a value, not an exception: the {@code tryAcquire} methods return
 * {@link Optional#empty()} when the lock is held by someone else. Exceptions are for failures.
 *
 * <p><b>Reentrancy.</b> With {@link LockOptions#reentrant()} (the default) a thread that already
 * holds this lock through the same client, having taken it with a blocking method, gets a new
 * handle at once, with the same fencing token and no server round trip; the lock is released when
 * every handle has been released. A thread that hands its handle to another thread must not take
 * the lock again while that handle is in use (both would run with one token): use
 * {@code reentrant(false)} for such code.
 */
public interface DistributedLock {

    /** The lock's name, as given to {@link LockClient#lock(String)}. */
    String name();

    /** The options this lock was made with. */
    LockOptions options();

    /**
     * Waits as long as it takes to hold the lock.
     *
     * @throws InterruptedException if the thread is interrupted while waiting; nothing is then
     *     held and no waiting state is left in the backend
     * @throws LockBackendException if the backend fails or cannot be reached
     * @throws IllegalStateException if the client is closed
     */
    LockHandle acquire() throws InterruptedException;

    /**
     * One attempt, no waiting.
     *
     * <p>A grant is used only if its reply arrives within the lease asked for, as measured here from the
     * moment the attempt was sent (less the drift allowance): a later one might already have run out on
     * the server. Such a grant is given back and reported as a {@link LockBackendException}, never as
     * empty: empty means that someone else holds the lock.
     *
     * @return the handle, or empty if someone else holds the lock
     * @throws InterruptedException if the thread is interrupted during the attempt
     * @throws LockBackendException if the backend fails or cannot be reached, or granted the lock but its
     *     reply came after the lease had run out here (the message gives the round trip and the lease;
     *     the lease is too short for the replies, make it longer)
     */
    Optional<LockHandle> tryAcquire() throws InterruptedException;

    /**
     * Waits at most {@code wait} for the lock. Waiting is driven by the backend's notifications
     * where it has them (the holder's release wakes one waiter), not by polling.
     *
     * <p>A grant whose reply came after its lease had run out here is given back and asked for again
     * while the wait lasts; if the wait ends on such a grant, the result is a {@link
     * LockBackendException} as for {@link #tryAcquire()}, not empty.
     *
     * @param wait how long to wait; zero means one attempt
     * @return the handle, or empty if the lock could not be had in time: the last answer was that someone
     *     else holds it, or none came in time
     * @throws NullPointerException if {@code wait} is null
     * @throws IllegalArgumentException if {@code wait} is negative
     * @throws InterruptedException if the thread is interrupted while waiting
     * @throws LockBackendException if the backend fails or cannot be reached, or the wait ended on a
     *     grant that came too late (see {@link #tryAcquire()})
     */
    Optional<LockHandle> tryAcquire(Duration wait) throws InterruptedException;

    /**
     * Acquires without blocking the caller. The future completes with the handle, or exceptionally
     * with {@link LockTimeoutException} if the lock could not be had within {@code wait}, or with
     * {@link LockBackendException} (also when the wait ended on a grant that came too late, see {@link
     * #tryAcquire()}). Cancelling the future abandons the attempt and leaves nothing
     * held. Reentrancy, if enabled, is judged by the thread that calls this method.
     *
     * @throws NullPointerException if {@code wait} is null
     * @throws IllegalArgumentException if {@code wait} is negative
     */
    CompletableFuture<LockHandle> acquireAsync(Duration wait);
}
