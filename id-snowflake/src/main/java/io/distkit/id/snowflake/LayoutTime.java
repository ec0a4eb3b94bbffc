package io.distkit.id.snowflake;

import java.math.BigInteger;
import java.time.DateTimeException;
import java.time.Instant;

/**
 * Exact conversions between a layout's timestamps (whole time units since its epoch) and instants.
 * The products of units and nanoseconds overflow a {@code long} for long-lived layouts, so the
 * arithmetic is in {@link BigInteger}; results beyond what the target type holds saturate
 * ({@link Instant#MAX}, {@link Long#MAX_VALUE}) rather than throw. Not on any hot path: generators
 * work in nanoseconds since the epoch ({@link SnowflakeTime}).
 */
final class LayoutTime {

    static final long NANOS_PER_SECOND = 1_000_000_000L;

    private LayoutTime() {}

    /** The start of timestamp {@code units} (not negative); {@link Instant#MAX} if beyond what {@code Instant} holds. */
    static Instant startOf(Instant epoch, long unitNanos, long units) {
        try {
            BigInteger[] secondsAndNanos = BigInteger.valueOf(units).multiply(BigInteger.valueOf(unitNanos))
                    .divideAndRemainder(BigInteger.valueOf(NANOS_PER_SECOND));
            return epoch.plusSeconds(secondsAndNanos[0].longValueExact()).plusNanos(secondsAndNanos[1].longValue());
        } catch (ArithmeticException | DateTimeException beyondInstant) {
            return Instant.MAX;
        }
    }

    /** Whole time units from {@code epoch} to {@code time} (not before it), rounded down; at most {@code Long.MAX_VALUE}. */
    static long unitsSince(Instant epoch, long unitNanos, Instant time) {
        BigInteger nanos = BigInteger.valueOf(time.getEpochSecond() - epoch.getEpochSecond())
                .multiply(BigInteger.valueOf(NANOS_PER_SECOND))
                .add(BigInteger.valueOf(time.getNano() - epoch.getNano()));
        BigInteger units = nanos.divide(BigInteger.valueOf(unitNanos));
        return units.bitLength() < 63 ? units.longValue() : Long.MAX_VALUE;
    }
}
