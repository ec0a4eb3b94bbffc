package io.distkit.lock;

import java.time.Instant;
import java.util.Optional;

/**
 * Proof of one acquisition. Not bound to a thread: it may be released from any thread.
 *
 * <p>A handle is <em>held</em> from its acquisition until it is released, its client is closed, or
 * its lease is known to be lost. The lease is lost when a renewal finds the lock gone from the
 * backend, when the backend reports it (session expiry, revoked lease), or when no renewal has
 * succeeded by the local {@link #leaseDeadline()}. Loss is final: a late renewal reply never revives
 * a handle.
 */
public interface LockHandle extends AutoCloseable {

    /** The name of the lock this handle holds. */
    String lockName();

    /**
     * The fencing token of this acquisition: strictly greater than the token of every earlier holder
     * of the same lock name (on the same backend). Reentrant handles of one hold share it. Pass it to
     * the protected resource and have it reject writes with a lower token than it has seen.
     */
    long fencingToken();

    /** False once released, once the client is closed, or once the lease is known to be lost. */
    boolean isHeld();

    /**
     * The instant up to which this client believes the lease valid, computed conservatively from the
     * moment the last successful acquire or renewal was <em>sent</em>, minus a clock-drift allowance.
     * Advances with every successful renewal. Measured on the client's monotonic clock and shown as
     * wall-clock time for convenience.
     */
    Instant leaseDeadline();

    /**
     * Registers a listener that runs once, on a library thread, when the lease is lost. It does not
     * run when the handle is released normally, by its {@link #release()} or by the client's close; it
     * does run when the close could not release the lock on the server (see {@link
     * io.distkit.lock.LockClient#close()}). Registered after the loss, it runs at once (still on a
     * library thread).
     */
    void onLost(Runnable listener);

    /**
     * Why the lease was lost, once it is: a renewal found the lock gone or taken over, the backend reported
     * it, no renewal succeeded by the deadline (a passed deadline is noticed by this call), or the client's
     * close could not release it. Empty while the handle is held, and after a normal release, by the owner
     * or by the client's close.
     */
    Optional<String> lostReason();

    /**
     * Releases this handle. Owner-only: it never removes a lock that another holder acquired since.
     * Idempotent: later calls do nothing.
     *
     * <p>A lease lost at its local deadline after renewals of unknown outcome (failed, timed out) may
     * still be this holder's on the server: such a renewal may have extended it by a whole lease. The
     * engine then sends the owner-checked release at the loss, in the background, and again on this call
     * if that one failed, so the lock frees early; the loss is reported all the same.
     *
     * @throws LockLostException if the lease had been lost before this release (the first call only)
     * @throws LockBackendException if the backend could not be told; the lease then runs out
     *     by itself on the server
     */
    void release();

    /** Same as {@link #release()}. */
    @Override
    void close();
}
