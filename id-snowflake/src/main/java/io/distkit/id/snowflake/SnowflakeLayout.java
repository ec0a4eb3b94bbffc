package io.distkit.id.snowflake;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * How a snowflake id is cut into fields: from the most significant bit down, a timestamp (time
 * units since an epoch), a worker id and a sequence number within the time unit. The sign bit is
 * never used, so ids are never negative.
 *
 * <pre>
 *  0 | timestamp (timestampBits) | worker (workerBits) | sequence (sequenceBits)
 * </pre>
 *
 * <p>Immutable. Build one with {@link #builder()}, which checks every argument and refuses a
 * layout that would run out within {@value #MIN_REMAINING_YEARS} years (uid-generator's default
 * layout ran out in 2024 and went negative), or use a preset:
 * {@link #TWITTER}, {@link #SONYFLAKE}, {@link #JS_SAFE}; the {@linkplain io.distkit.id.snowflake
 * package description} compares them and the trade-offs between the fields.
 *
 * <p>The presets are checked for their shape only, not against the clock, so that loading this
 * class never fails; a generator checks the remaining lifetime of its layout when it is built.
 */
public final class SnowflakeLayout {

    /** Bits an id may use at most: all but the sign bit. */
    public static final int MAX_BITS = 63;
    /**
     * Bits an id may use to stay a safe integer in JavaScript ({@code Number.MAX_SAFE_INTEGER} is
     * 2<sup>53</sup>&minus;1): the limit {@link Builder#jsSafe()} sets.
     */
    public static final int JS_SAFE_BITS = 53;
    /** A layout must still have this many years of timestamps left when it is built. */
    public static final int MIN_REMAINING_YEARS = 10;
    /** The shortest time unit: one millisecond. */
    public static final Duration MIN_TIME_UNIT = Duration.ofMillis(1);
    /** The longest time unit: one day. */
    public static final Duration MAX_TIME_UNIT = Duration.ofDays(1);
    /** The time unit a builder starts with: one millisecond. */
    public static final Duration DEFAULT_TIME_UNIT = MIN_TIME_UNIT;
    /** Largest {@code workerBits}: the number of worker ids must fit an {@code int}. */
    public static final int MAX_WORKER_BITS = 30;
    /** Largest {@code sequenceBits}: a sequence number must fit an {@code int}. */
    public static final int MAX_SEQUENCE_BITS = 31;
    /** Largest {@code timestampBits}: the other two fields need one bit at least between them. */
    public static final int MAX_TIMESTAMP_BITS = 62;

    /**
     * Twitter's original layout: 41 bits of milliseconds since Twitter's epoch
     * 2010-11-04T01:42:54.657Z, 10 bits of worker id, 12 bits of sequence. 1,024 workers,
     * 4,096 ids per millisecond per worker (4,096,000 ids/s); timestamps run out on
     * 2080-07-10T17:30:30.209Z, 69.7 years after the epoch.
     */
    public static final SnowflakeLayout TWITTER = preset("TWITTER",
            Instant.ofEpochMilli(1_288_834_974_657L), Duration.ofMillis(1), 41, 10, 12, MAX_BITS);

    /**
     * Sony's Sonyflake layout: 39 bits of 10-millisecond units since 2014-09-01T00:00:00Z, 16 bits of
     * worker (machine) id, 8 bits of sequence. 65,536 workers, 256 ids per 10 ms per worker
     * (25,600 ids/s); timestamps run out on 2188-11-16T03:28:58.880Z, 174.2 years after the epoch.
     */
    public static final SnowflakeLayout SONYFLAKE = preset("SONYFLAKE",
            Instant.parse("2014-09-01T00:00:00Z"), Duration.ofMillis(10), 39, 16, 8, MAX_BITS);

    /**
     * Ids that are safe integers in JavaScript (at most 2<sup>53</sup>&minus;1 =
     * 9,007,199,254,740,991), so a browser can hold them in a {@code Number} without rounding:
     * 37 bits of 10-millisecond units since 2024-01-01T00:00:00Z, 6 bits of worker id, 10 bits of
     * sequence. 64 workers, 1,024 ids per 10 ms per worker (102,400 ids/s); timestamps run out on
     * 2067-07-21T06:52:14.720Z, 43.6 years after the epoch.
     */
    public static final SnowflakeLayout JS_SAFE = preset("JS_SAFE",
            Instant.parse("2024-01-01T00:00:00Z"), Duration.ofMillis(10), 37, 6, 10, JS_SAFE_BITS);

    private final @Nullable String preset;
    private final Instant epoch;
    private final Duration timeUnit;
    private final int timestampBits;
    private final int workerBits;
    private final int sequenceBits;
    private final int maxBits;
    private final long unitNanos;

    private SnowflakeLayout(@Nullable String preset, Instant epoch, Duration timeUnit, int timestampBits,
            int workerBits, int sequenceBits, int maxBits) {
        this.preset = preset;
        this.epoch = epoch;
        this.timeUnit = timeUnit;
        this.timestampBits = timestampBits;
        this.workerBits = workerBits;
        this.sequenceBits = sequenceBits;
        this.maxBits = maxBits;
        this.unitNanos = timeUnit.toNanos();
    }

    private static SnowflakeLayout preset(String name, Instant epoch, Duration unit, int timestampBits,
            int workerBits, int sequenceBits, int maxBits) {
        LayoutChecks.shape(timestampBits, workerBits, sequenceBits, maxBits);
        return new SnowflakeLayout(name, epoch, unit, timestampBits, workerBits, sequenceBits, maxBits);
    }

    /** A builder with no epoch (required), 1 ms units, Twitter's 41/10/12 bits and 63 bits at most. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this layout's settings, to derive a variant (another epoch, say). */
    public Builder toBuilder() {
        return new Builder().epoch(epoch).timeUnit(timeUnit).timestampBits(timestampBits).workerBits(workerBits)
                .sequenceBits(sequenceBits).maxBits(maxBits);
    }

    /** The instant of timestamp 0. */
    public Instant epoch() {
        return epoch;
    }

    /** The length of one timestamp unit; at least 1 ms. */
    public Duration timeUnit() {
        return timeUnit;
    }

    /** Bits of the timestamp field. */
    public int timestampBits() {
        return timestampBits;
    }

    /** Bits of the worker id field; 0 for a layout with a single worker. */
    public int workerBits() {
        return workerBits;
    }

    /** Bits of the sequence field. */
    public int sequenceBits() {
        return sequenceBits;
    }

    /** The most bits an id of this layout may use: 63, or 53 for a JavaScript-safe layout. */
    public int maxBits() {
        return maxBits;
    }

    /** Bits the three fields use together; at most {@link #maxBits()}. */
    public int totalBits() {
        return timestampBits + workerBits + sequenceBits;
    }

    /** The largest timestamp, in time units since the epoch: 2<sup>timestampBits</sup>&minus;1. */
    public long maxTimestamp() {
        return (1L << timestampBits) - 1;
    }

    /** How many worker ids the layout has room for: 2<sup>workerBits</sup>. Worker ids are {@code [0, maxWorkerIds())}. */
    public int maxWorkerIds() {
        return 1 << workerBits;
    }

    /** The largest sequence number: 2<sup>sequenceBits</sup>&minus;1. */
    public int maxSequence() {
        return (int) ((1L << sequenceBits) - 1);
    }

    /** The largest id the layout can produce: 2<sup>totalBits</sup>&minus;1. */
    public long maxId() {
        return (1L << totalBits()) - 1;
    }

    /**
     * The most ids one worker can issue per second: 2<sup>sequenceBits</sup> per time unit, rounded
     * down. 4,096,000 for {@link #TWITTER}. This is the limit no correct generator of one worker can
     * exceed over time.
     */
    public long maxIdsPerSecond() {
        return (1L << sequenceBits) * LayoutTime.NANOS_PER_SECOND / unitNanos;
    }

    /**
     * The instant the timestamps run out: the start of timestamp 2<sup>timestampBits</sup>, which no
     * longer fits. No id can be issued at or after it. {@link Instant#MAX} if that lies beyond what
     * {@code Instant} can hold.
     */
    public Instant endOfLife() {
        return LayoutTime.startOf(epoch, unitNanos, 1L << timestampBits);
    }

    /**
     * The start of a timestamp.
     *
     * @param timestampUnits time units since the epoch, in {@code [0, maxTimestamp()]}
     * @throws IllegalArgumentException if out of that range
     */
    public Instant instantOf(long timestampUnits) {
        return LayoutTime.startOf(epoch, unitNanos, LayoutChecks.timestamp(this, timestampUnits));
    }

    /**
     * The timestamp of an instant: whole time units since the epoch, rounded down. May exceed
     * {@link #maxTimestamp()} (then no id can carry it).
     *
     * @throws IllegalArgumentException if {@code time} is before the epoch
     */
    public long timestampOf(Instant time) {
        return LayoutTime.unitsSince(epoch, unitNanos, LayoutChecks.notBefore(epoch, time));
    }

    /**
     * Builds an id from its fields.
     *
     * @param timestampUnits time units since the epoch, in {@code [0, maxTimestamp()]}
     * @param worker in {@code [0, maxWorkerIds())}
     * @param sequence in {@code [0, maxSequence()]}
     * @return the id, in {@code [0, maxId()]}
     * @throws IllegalArgumentException naming the field that is out of range
     */
    public long encode(long timestampUnits, int worker, int sequence) {
        LayoutChecks.timestamp(this, timestampUnits);
        LayoutChecks.workerId(this, worker);
        LayoutChecks.sequence(this, sequence);
        return (timestampUnits << (workerBits + sequenceBits)) | ((long) worker << sequenceBits) | sequence;
    }

    /**
     * Takes an id apart.
     *
     * @param id an id of this layout, in {@code [0, maxId()]}
     * @throws IllegalArgumentException if {@code id} is negative or uses more bits than the layout
     */
    public Decoded decode(long id) {
        LayoutChecks.id(this, id);
        long timestamp = id >>> (workerBits + sequenceBits);
        int worker = (int) ((id >>> sequenceBits) & ((1L << workerBits) - 1));
        int sequence = (int) (id & ((1L << sequenceBits) - 1));
        return new Decoded(LayoutTime.startOf(epoch, unitNanos, timestamp), timestamp, worker, sequence);
    }

    /**
     * The fields of an id.
     *
     * @param time the start of the id's time unit
     * @param timestampUnits time units since the layout's epoch
     * @param worker the worker id
     * @param sequence the sequence number within the time unit
     */
    public record Decoded(Instant time, long timestampUnits, int worker, int sequence) {

        public Decoded {
            Objects.requireNonNull(time, "time");
        }
    }

    /**
     * Checks a worker id against this layout.
     *
     * @return {@code workerId}
     * @throws IllegalArgumentException if not in {@code [0, maxWorkerIds())}, naming the range
     */
    public int checkWorkerId(int workerId) {
        return LayoutChecks.workerId(this, workerId);
    }

    long unitNanos() {
        return unitNanos;
    }

    @Override
    public boolean equals(@Nullable Object o) {
        return o instanceof SnowflakeLayout other
                && epoch.equals(other.epoch)
                && timeUnit.equals(other.timeUnit)
                && timestampBits == other.timestampBits
                && workerBits == other.workerBits
                && sequenceBits == other.sequenceBits
                && maxBits == other.maxBits;
    }

    @Override
    public int hashCode() {
        return Objects.hash(epoch, timeUnit, timestampBits, workerBits, sequenceBits, maxBits);
    }

    @Override
    public String toString() {
        return (preset != null ? preset + " " : "") + "SnowflakeLayout[" + timestampBits + "/" + workerBits + "/"
                + sequenceBits + " bits of " + maxBits + ", unit " + timeUnit + ", epoch " + epoch + "]";
    }

    /**
     * Configures a layout. Only the epoch is required. Each setter checks its argument at once;
     * {@link #build()} checks how the fields fit together and the lifetime against the clock.
     */
    public static final class Builder {
        private @Nullable Instant epoch;
        private Duration timeUnit = DEFAULT_TIME_UNIT;
        private int timestampBits = 41;
        private int workerBits = 10;
        private int sequenceBits = 12;
        private int maxBits = MAX_BITS;
        private Clock clock = Clock.systemUTC();

        private Builder() {}

        /**
         * The instant of timestamp 0. Pick one shortly before the layout's first use: every year
         * between epoch and first use is a year of timestamps thrown away.
         *
         * @throws IllegalArgumentException if before 1970-01-01T00:00:00Z
         */
        public Builder epoch(Instant epoch) {
            this.epoch = LayoutChecks.epoch(epoch);
            return this;
        }

        /**
         * The length of one timestamp unit; default {@link #DEFAULT_TIME_UNIT} (1 ms).
         *
         * @throws IllegalArgumentException if shorter than 1 ms or longer than one day
         */
        public Builder timeUnit(Duration timeUnit) {
            this.timeUnit = LayoutChecks.timeUnit(timeUnit);
            return this;
        }

        /**
         * Bits of the timestamp; default 41.
         *
         * @throws IllegalArgumentException if not between 1 and {@value SnowflakeLayout#MAX_TIMESTAMP_BITS}
         */
        public Builder timestampBits(int bits) {
            this.timestampBits = LayoutChecks.range("timestampBits", bits, 1, MAX_TIMESTAMP_BITS);
            return this;
        }

        /**
         * Bits of the worker id; default 10. 0 makes a single-worker layout.
         *
         * @throws IllegalArgumentException if not between 0 and {@value SnowflakeLayout#MAX_WORKER_BITS}
         */
        public Builder workerBits(int bits) {
            this.workerBits = LayoutChecks.range("workerBits", bits, 0, MAX_WORKER_BITS);
            return this;
        }

        /**
         * Bits of the sequence number; default 12.
         *
         * @throws IllegalArgumentException if not between 1 and {@value SnowflakeLayout#MAX_SEQUENCE_BITS}
         */
        public Builder sequenceBits(int bits) {
            this.sequenceBits = LayoutChecks.range("sequenceBits", bits, 1, MAX_SEQUENCE_BITS);
            return this;
        }

        /**
         * The most bits the three fields may use together; default {@value SnowflakeLayout#MAX_BITS}.
         *
         * @throws IllegalArgumentException if not between 3 and {@value SnowflakeLayout#MAX_BITS}
         */
        public Builder maxBits(int maxBits) {
            this.maxBits = LayoutChecks.range("maxBits", maxBits, 3, MAX_BITS);
            return this;
        }

        /** Ids must stay within 2<sup>53</sup>&minus;1, a safe integer in JavaScript: {@code maxBits(53)}. */
        public Builder jsSafe() {
            return maxBits(JS_SAFE_BITS);
        }

        /** The clock that says what "now" is for the epoch and lifetime checks; default the system clock. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Checks the fields together and returns the layout.
         *
         * @throws IllegalStateException if no epoch was set
         * @throws IllegalArgumentException if the bits do not fit {@code maxBits}, the epoch is in the
         *     future, or the timestamps run out within {@value SnowflakeLayout#MIN_REMAINING_YEARS}
         *     years of now; the message names the field and its value
         */
        public SnowflakeLayout build() {
            Instant epoch = LayoutChecks.required(this.epoch);
            LayoutChecks.shape(timestampBits, workerBits, sequenceBits, maxBits);
            SnowflakeLayout layout = new SnowflakeLayout(null, epoch, timeUnit, timestampBits, workerBits,
                    sequenceBits, maxBits);
            LayoutChecks.usableAt(layout, clock.instant());
            return layout;
        }
    }
}
