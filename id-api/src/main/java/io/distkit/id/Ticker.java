package io.distkit.id;

/**
 * A monotonic clock in nanoseconds, injected into the id generators so that tests can drive time by
 * hand: what a snowflake generator advances its time with between readings of the wall clock (so a
 * step of the wall clock between two readings cannot reach the ids) and measures its waits on, and
 * what a segment generator measures how long its segments last with.
 *
 * <p>The same shape as the lock engine's ticker; the id modules do not depend on the lock API.
 * A dedicated type rather than a {@code LongSupplier}: the contract (nanoseconds, monotonic,
 * arbitrary origin) is in the type, and a wall clock cannot be passed where a ticker is meant
 * without saying so.
 */
@FunctionalInterface
public interface Ticker {

    /**
     * Nanoseconds from an arbitrary origin; only differences mean anything, and they must not
     * decrease. Values may wrap around {@code Long.MAX_VALUE}: only differences are used.
     */
    long read();

    /** {@link System#nanoTime()}. */
    static Ticker system() {
        return System::nanoTime;
    }
}
