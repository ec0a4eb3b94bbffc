package io.distkit.id.snowflake;

import java.util.concurrent.locks.LockSupport;

/**
 * How a generator lets time pass while it waits for the clock: for the next tick after a sequence
 * overflow, out a small backward step, or past a persisted timestamp at start. The generator calls
 * it in a loop and re-reads the clock after each call, so a waiter may return early. Injected only
 * by tests (a manual clock advances itself instead of sleeping).
 */
@FunctionalInterface
interface Waiter {

    /** Waits shorter than this spin instead of parking: a park costs some 50-100 µs of timer slack and wake-up. */
    long SPIN_NANOS = 20_000;

    /** Parks for {@code nanos}, or spins once for very short waits (and when interrupted: the waits are bounded). */
    Waiter PARK = nanos -> {
        if (nanos <= SPIN_NANOS || Thread.currentThread().isInterrupted()) {
            Thread.onSpinWait();
        } else {
            LockSupport.parkNanos(nanos);
        }
    };

    /**
     * Lets about {@code nanos} pass, possibly less.
     *
     * @param nanos how long until the clock reaches what the caller waits for; positive
     */
    void await(long nanos);
}
