package io.distkit.id.snowflake;

import static io.distkit.id.snowflake.SnowflakeLayout.MAX_TIME_UNIT;
import static io.distkit.id.snowflake.SnowflakeLayout.MIN_REMAINING_YEARS;
import static io.distkit.id.snowflake.SnowflakeLayout.MIN_TIME_UNIT;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The argument checks of {@link SnowflakeLayout} and its builder, each naming the argument, the bad
 * value and the allowed range in its message ({@link IllegalArgumentException}; a missing epoch is an
 * {@link IllegalStateException}): the fields one by one, how they fit together, a layout's lifetime
 * against the clock, and values against a layout's fields.
 */
final class LayoutChecks {

    private LayoutChecks() {}

    /** The builder's epoch, which has no default. */
    static Instant required(@Nullable Instant epoch) {
        if (epoch == null) {
            throw new IllegalStateException("epoch is required: call epoch(Instant) with an instant shortly"
                    + " before the layout's first use");
        }
        return epoch;
    }

    /** An epoch no earlier than 1970. */
    static Instant epoch(Instant epoch) {
        Objects.requireNonNull(epoch, "epoch");
        if (epoch.isBefore(Instant.EPOCH)) {
            throw new IllegalArgumentException("epoch must not be before " + Instant.EPOCH + ", was " + epoch);
        }
        return epoch;
    }

    /** A time unit between {@link SnowflakeLayout#MIN_TIME_UNIT} and {@link SnowflakeLayout#MAX_TIME_UNIT}. */
    static Duration timeUnit(Duration timeUnit) {
        Objects.requireNonNull(timeUnit, "timeUnit");
        if (timeUnit.compareTo(MIN_TIME_UNIT) < 0 || timeUnit.compareTo(MAX_TIME_UNIT) > 0) {
            throw new IllegalArgumentException("timeUnit must be between " + MIN_TIME_UNIT + " and " + MAX_TIME_UNIT
                    + ", was " + timeUnit);
        }
        return timeUnit;
    }

    /** An int setting in {@code [min, max]}. */
    static int range(String name, int value, int min, int max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(name + " must be between " + min + " and " + max + ", was " + value);
        }
        return value;
    }

    /** The three fields fit {@code maxBits}. */
    static void shape(int timestampBits, int workerBits, int sequenceBits, int maxBits) {
        int total = timestampBits + workerBits + sequenceBits;
        if (total > maxBits) {
            throw new IllegalArgumentException("timestampBits + workerBits + sequenceBits must be at most " + maxBits
                    + " (maxBits), was " + timestampBits + " + " + workerBits + " + " + sequenceBits + " = " + total);
        }
    }

    /**
     * Refuses a layout whose timestamps run out within {@value SnowflakeLayout#MIN_REMAINING_YEARS} years
     * of {@code now}, or whose epoch lies after {@code now}.
     */
    static void usableAt(SnowflakeLayout layout, Instant now) {
        Instant epoch = layout.epoch();
        if (epoch.isAfter(now)) {
            throw new IllegalArgumentException("epoch must not be in the future, was " + epoch + ", now is " + now);
        }
        Instant required = now.atOffset(ZoneOffset.UTC).plusYears(MIN_REMAINING_YEARS).toInstant();
        Instant end = layout.endOfLife();
        if (end.isBefore(required)) {
            throw new IllegalArgumentException("timestampBits " + layout.timestampBits() + " of " + layout.timeUnit()
                    + " from epoch " + epoch + " run out at " + end + ", less than " + MIN_REMAINING_YEARS
                    + " years after now (" + now + "); use more timestampBits, a longer timeUnit or a later epoch");
        }
    }

    /** An instant no earlier than the epoch. */
    static Instant notBefore(Instant epoch, Instant time) {
        Objects.requireNonNull(time, "time");
        if (time.isBefore(epoch)) {
            throw new IllegalArgumentException("time must not be before the epoch " + epoch + ", was " + time);
        }
        return time;
    }

    /** A timestamp in {@code [0, maxTimestamp()]}. */
    static long timestamp(SnowflakeLayout layout, long timestampUnits) {
        if (timestampUnits < 0 || timestampUnits > layout.maxTimestamp()) {
            throw new IllegalArgumentException("timestampUnits must be between 0 and " + layout.maxTimestamp()
                    + " (maxTimestamp), was " + timestampUnits);
        }
        return timestampUnits;
    }

    /** A worker id in {@code [0, maxWorkerIds())}. */
    static int workerId(SnowflakeLayout layout, int workerId) {
        if (workerId < 0 || workerId >= layout.maxWorkerIds()) {
            throw new IllegalArgumentException("workerId must be in [0, " + layout.maxWorkerIds() + ") for "
                    + layout.workerBits() + " worker bits, was " + workerId);
        }
        return workerId;
    }

    /** A sequence number in {@code [0, maxSequence()]}. */
    static int sequence(SnowflakeLayout layout, int sequence) {
        if (sequence < 0 || sequence > layout.maxSequence()) {
            throw new IllegalArgumentException("sequence must be between 0 and " + layout.maxSequence()
                    + " (maxSequence), was " + sequence);
        }
        return sequence;
    }

    /** An id in {@code [0, maxId()]}. */
    static long id(SnowflakeLayout layout, long id) {
        if (id < 0 || id > layout.maxId()) {
            throw new IllegalArgumentException("id must be between 0 and " + layout.maxId() + " ("
                    + layout.totalBits() + " bits of this layout), was " + id);
        }
        return id;
    }
}
