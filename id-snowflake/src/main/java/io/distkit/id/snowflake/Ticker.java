package io.distkit.id.snowflake;

/**
 * A monotonic clock in nanoseconds: what a {@link SnowflakeIdGenerator} advances its time with
 * between readings of the wall clock, and what its waits are measured on, so that a step of the
 * wall clock between two readings cannot reach the ids. Injected, so that tests can drive time by
 * hand.
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
