package io.distkit.id.snowflake;

import io.distkit.id.Ticker;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The time of one snowflake generator: {@code time = ticker + offset}, in nanoseconds since the
 * layout's epoch, and the waits for it. The offset is set from the wall clock when this is created and
 * corrected about once per resync interval, so the hot path reads the monotonic ticker and two volatile
 * fields, never the wall clock.
 *
 * <p><b>Re-sync.</b> A wall-clock reading, taken between ticker values t1 and t2 and truncated to the
 * millisecond, says the true offset lies in {@code [wall - t2, wall + 1 ms - t1)}. The time moves
 * forward to the low end when it is below (never ahead of the wall clock after a forward move), and
 * back to the high end when it is above by more than {@link #RESYNC_TOLERANCE_NANOS} (the least move
 * back that agrees with the reading). Inside the range the ticker is trusted and nothing changes, so
 * repeated readings never make the time jitter. One caller per interval re-syncs: the one whose
 * compare-and-set of {@code nextResync} succeeds.
 */
final class SnowflakeTime {

    private static final Logger log = LoggerFactory.getLogger(SnowflakeIdGenerator.class);

    static final long NANOS_PER_MILLI = 1_000_000L;
    private static final long NANOS_PER_SECOND = 1_000_000_000L;
    /** A wall clock behind the time by less than this (beyond the millisecond a reading is vague by) is not followed back. */
    static final long RESYNC_TOLERANCE_NANOS = NANOS_PER_MILLI;
    /** A wall-clock reading that took longer than this (the thread was descheduled) is not trusted. */
    static final long MAX_RESYNC_READ_NANOS = NANOS_PER_MILLI;
    private static final VarHandle NEXT_RESYNC;

    static {
        try {
            NEXT_RESYNC = MethodHandles.lookup().findVarHandle(SnowflakeTime.class, "nextResync", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Clock clock;
    private final Ticker ticker;
    private final Instant epoch;
    private final long epochNanos;
    private final long unitNanos;
    private final long resyncNanos;
    private final int workerId;
    private final LongConsumer onStepBack;

    /** The time is {@code ticker.read() + offset}: nanoseconds since the layout's epoch. */
    private volatile long offset;
    /** Ticker value at which the next call re-reads the wall clock. */
    private volatile long nextResync;

    /**
     * Reads the wall clock once, to set the offset.
     *
     * @param workerId for the log lines
     * @param onStepBack told how many nanoseconds the time moved back when a re-sync followed the wall
     *     clock back (the generator says what that means for its ids)
     */
    SnowflakeTime(SnowflakeLayout layout, Clock clock, Ticker ticker, Duration resyncInterval, int workerId,
            LongConsumer onStepBack) {
        this.clock = clock;
        this.ticker = ticker;
        this.epoch = layout.epoch();
        this.epochNanos = Math.addExact(Math.multiplyExact(epoch.getEpochSecond(), NANOS_PER_SECOND), epoch.getNano());
        this.unitNanos = layout.unitNanos();
        this.resyncNanos = resyncInterval.toNanos();
        this.workerId = workerId;
        this.onStepBack = onStepBack;
        anchor();
    }

    /** The ticker, re-syncing with the wall clock first when that is due: the hot path's reading. */
    long read() {
        long t = ticker.read();
        if (t - nextResync >= 0) {
            resync(t);
        }
        return t;
    }

    /** The time at ticker value {@code t}: nanoseconds since the layout's epoch. */
    long sinceEpoch(long t) {
        return t + offset;
    }

    /** The time in whole time units of the layout, as the hot path computes it (without a re-sync). */
    long currentTimestamp() {
        return Math.floorDiv(ticker.read() + offset, unitNanos);
    }

    /**
     * Waits until the time reaches timestamp {@code needed}, unless that takes longer than
     * {@code maxWaitNanos} in all: then returns at once, without waiting. Each park ends at the next
     * re-sync at the latest, so a wall clock corrected forward meanwhile (the step back that made the
     * wait necessary undone) ends the wait then, not when the wait computed from the wrong clock runs out.
     *
     * @return the time of the last reading, in nanoseconds since the epoch: at or past {@code needed}
     *     if the wait succeeded, before it if it would take too long
     */
    long awaitTimestamp(long needed, long maxWaitNanos, Waiter waiter) {
        long start = ticker.read();
        for (;;) {
            long t = read();
            long time = sinceEpoch(t);
            if (Math.floorDiv(time, unitNanos) >= needed) {
                return time;
            }
            long waitNanos = needed * unitNanos - time;
            if ((t - start) + waitNanos > maxWaitNanos) {
                return time;
            }
            long untilResync = nextResync - t;
            waiter.await(resyncNanos > 0 && untilResync > 0 && untilResync < waitNanos ? untilResync : waitNanos);
        }
    }

    /** The instant of a time in nanoseconds since the epoch. */
    Instant instantAt(long sinceEpoch) {
        return epoch.plusNanos(sinceEpoch);
    }

    /** The start of a timestamp. */
    Instant instantOfTimestamp(long timestamp) {
        return epoch.plusNanos(timestamp * unitNanos);
    }

    /**
     * Sets the offset from a fresh wall-clock reading: an {@code Instant}, finer than the millisecond
     * re-syncs read (the system clock gives microseconds), so that a generator starts within its clock's
     * precision of the wall time rather than up to a millisecond behind.
     */
    private void anchor() {
        long t1 = ticker.read();
        Instant now = clock.instant();
        long t2 = ticker.read();
        long wall = Math.addExact(Math.multiplyExact(now.getEpochSecond(), NANOS_PER_SECOND), now.getNano()) - epochNanos;
        offset = wall - t2; // the lowest offset the reading allows: the time never runs ahead of the wall clock
        nextResync = t2 + resyncNanos;
        if (t2 - t1 > MAX_RESYNC_READ_NANOS) {
            nextResync = t2; // a vague first reading: improve it on the first call
        }
    }

    /** Re-reads the wall clock when due; see the class description. */
    private void resync(long t) {
        long due = nextResync;
        if (t - due < 0 || !NEXT_RESYNC.compareAndSet(this, due, t + resyncNanos)) {
            return;
        }
        long t1 = ticker.read();
        long wall = Math.multiplyExact(clock.millis(), NANOS_PER_MILLI) - epochNanos;
        long t2 = ticker.read();
        if (t2 - t1 > MAX_RESYNC_READ_NANOS) {
            return; // descheduled between the readings; the next interval tries again
        }
        long low = wall - t2;
        long high = wall + NANOS_PER_MILLI - 1 - t1;
        long current = offset;
        if (current < low) {
            offset = low;
            if (low - current > RESYNC_TOLERANCE_NANOS) {
                log.info("worker id {}: the wall clock is {} ms ahead of the generator's time (a forward step, or a"
                        + " suspended machine); ids follow it", workerId, (low - current) / NANOS_PER_MILLI);
            }
        } else if (current > high + RESYNC_TOLERANCE_NANOS) {
            offset = high;
            onStepBack.accept(current - high);
        }
    }
}
