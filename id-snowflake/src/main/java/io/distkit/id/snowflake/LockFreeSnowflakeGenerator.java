package io.distkit.id.snowflake;

import static io.distkit.id.snowflake.SnowflakeTime.NANOS_PER_MILLI;

import io.distkit.id.ClockMovedBackwardsException;
import io.distkit.id.IdGenerationException;
import io.distkit.id.IdGenerator;
import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link SnowflakeIdGenerator} on one worker lease: the compare-and-set hot path and the
 * generator's lifecycle (start, stop on loss, close). One {@link AtomicLong} holds the last issued
 * position, the timestamp and the sequence number packed as {@code timestamp << sequenceBits |
 * sequence}; every id is one compare-and-set that moves it forward. No locks, no allocation per id.
 * The time comes from {@link SnowflakeTime}; the bound on the timestamps from a {@link HighWaterMark}
 * ({@link TimestampReservation}).
 *
 * <p><b>Invariant.</b> The packed state only ever grows (apart from the seal bit, below), and each
 * successful compare-and-set hands the caller positions that no other caller got: so ids never repeat
 * and increase in the order the compare-and-sets succeed. Nothing else is needed for uniqueness; the
 * time only decides how far the state may move forward, so a wrong clock can stall the generator or
 * make it throw, never make it repeat. A caller may move the state
 * <ul>
 *   <li>to {@code (now, 0)} when the time {@code now} is past the last timestamp;
 *   <li>to the next sequence number of the last timestamp while that is at most {@code leadUnits}
 *       ahead of {@code now} (0 in strict mode: only within the current time unit);
 *   <li>to {@code (last + 1, 0)} while that is at most {@code leadUnits} ahead (logical mode only).
 * </ul>
 * Otherwise it waits for the time to allow one of those, or throws. A move to a new timestamp also
 * checks the lease and the high-water mark (one volatile read each; the mark's slow path saves).
 *
 * <p><b>Stopping.</b> Closing and losing the lease set the sign bit of the state ("sealed"): a
 * compare-and-set prepared before that fails, and the next attempt sees the seal and throws. So after
 * a close returns, or the loss listener has run, no id is issued. Close saves nothing: the mark
 * already covers every id issued.
 */
final class LockFreeSnowflakeGenerator implements SnowflakeIdGenerator {

    private static final Logger log = LoggerFactory.getLogger(SnowflakeIdGenerator.class);

    private static final long SEALED = Long.MIN_VALUE;
    /** Stands for "no rollback wait started in this call"; a ticker reading equal to it is nudged by 1 ns. */
    private static final long NOT_WAITING = Long.MIN_VALUE;

    private enum Stop {
        CLOSED("the generator is closed"),
        LOST("the lease's onLost listener fired: the lease expired or was taken over"),
        INVALID("the lease is no longer valid: it was closed, expired or taken over"),
        SAVE_REFUSED("saving the last timestamp found the lease lost");

        final String reason;

        Stop(String reason) {
            this.reason = reason;
        }
    }

    private final SnowflakeLayout layout;
    private final int sequenceBits;
    private final long sequenceMask;
    private final int timestampShift;
    private final long workerField;
    private final long maxTimestamp;
    private final long unitNanos;

    private final SnowflakeTime time;
    private final Waiter waiter;
    private final Duration maxBackwardWait;
    private final long maxBackwardWaitNanos;
    private final @Nullable Duration maxLogicalLead;
    private final long leadUnits;

    private final AtomicLong state;
    private final HighWaterMark mark;

    private final WorkerLease lease;
    private final boolean ownsLease;
    private final int workerId;
    private final AtomicReference<@Nullable Stop> stopped = new AtomicReference<>();
    private final AtomicBoolean closed = new AtomicBoolean();

    /**
     * @param floorTimestamp a timestamp no id may have or be below, as if issued already: the last
     *     timestamp of the generator this one replaces after a loss of its lease (0 for none), so
     *     that the ids the user sees keep increasing across the change of worker id
     * @param marks the high-water mark: {@code TimestampReservation::new} (tests pass unsafe designs)
     */
    LockFreeSnowflakeGenerator(SnowflakeIdGenerator.Builder b, WorkerLease lease, boolean ownsLease,
            long floorTimestamp, HighWaterMark.Factory marks) {
        this.layout = b.layout;
        this.lease = lease;
        this.ownsLease = ownsLease;
        this.waiter = b.waiter;
        this.workerId = layout.checkWorkerId(lease.workerId());
        if (!lease.isValid()) {
            throw new IllegalArgumentException("workerLease must be valid (not closed or lost), was " + lease);
        }
        sequenceBits = layout.sequenceBits();
        sequenceMask = layout.maxSequence();
        timestampShift = layout.workerBits() + sequenceBits;
        workerField = (long) workerId << sequenceBits;
        unitNanos = layout.unitNanos();
        // (maxTimestamp + 2) * unitNanos must not overflow: beyond 292 years after the epoch the
        // nanosecond arithmetic would, so such layouts end there for this generator
        maxTimestamp = Math.min(layout.maxTimestamp(), Long.MAX_VALUE / unitNanos - 2);
        maxBackwardWait = b.maxBackwardWait;
        maxBackwardWaitNanos = maxBackwardWait.toNanos();
        maxLogicalLead = b.maxLogicalLead;
        leadUnits = maxLogicalLead == null ? 0 : maxLogicalLead.toNanos() / unitNanos;

        LayoutChecks.usableAt(layout, b.clock.instant());
        long persistedBefore = lease.lastTimestamp();
        if (persistedBefore < 0 || persistedBefore > maxTimestamp) {
            throw new IllegalArgumentException("the lastTimestamp of worker id " + workerId + "'s lease must be between 0"
                    + " and " + maxTimestamp + " (the layout's maxTimestamp), was " + persistedBefore
                    + ": was it saved by a generator of another layout?");
        }
        long startAbove = Math.max(persistedBefore, floorTimestamp);
        // as if every id of that timestamp had been issued: the first id is above all of them
        state = new AtomicLong((startAbove << sequenceBits) | sequenceMask);
        time = new SnowflakeTime(layout, b.clock, b.ticker, b.resyncInterval, workerId, this::wallClockWentBack);
        lease.onLost(() -> {
            stop(Stop.LOST);
            log.warn("worker id {}: the lease is lost, no more ids from this generator; last timestamp {}", workerId,
                    lastTimestamp());
        });
        awaitStart(startAbove, persistedBefore >= floorTimestamp, b.maxStartupWait);
        if (stopped.get() != null) {
            throw stoppedException();
        }
        mark = marks.start(this, b.persistInterval, persistedBefore, startAbove); // saves a first mark: throws
        log.debug("{} started", this);
    }

    // --- hot path ---------------------------------------------------------------------------------

    @Override
    public long nextId() {
        return idOf(claim(1));
    }

    @Override
    public long[] nextIds(int count) {
        IdGenerator.checkBatchCount(count);
        long[] ids = new long[count];
        int filled = 0;
        while (filled < count) {
            long first = claim(count - filled);
            int run = runLength(first, count - filled);
            long id = idOf(first); // the run shares timestamp and worker: its ids are consecutive
            for (int i = 0; i < run; i++) {
                ids[filled + i] = id + i;
            }
            filled += run;
        }
        return ids;
    }

    /**
     * Claims, with one compare-and-set, a run of positions (timestamp and sequence) for up to {@code want}
     * ids, all in one time unit; returns the first. The run's length is {@link #runLength}: it follows from
     * the first position, since a run either starts a time unit or continues the last one to its end.
     */
    private long claim(int want) {
        long rollbackStart = NOT_WAITING;
        for (;;) {
            long s = state.get();
            if (s < 0) {
                throw stoppedException();
            }
            long last = s >>> sequenceBits;
            long t = time.read();
            long nanos = time.sinceEpoch(t);
            long now = Math.floorDiv(nanos, unitNanos);
            long first;
            if (now > last) {
                first = newTimestamp(now);
            } else if ((s & sequenceMask) != sequenceMask && last - now <= leadUnits) {
                first = s + 1;
            } else if (last - now < leadUnits) {
                first = newTimestamp(last + 1);
            } else {
                rollbackStart = awaitClock(s, last, t, nanos, now, rollbackStart);
                continue;
            }
            if (state.compareAndSet(s, first + runLength(first, want) - 1)) {
                return first;
            }
        }
    }

    /** How many of {@code want} ids a run starting at {@code first} holds: up to the end of its time unit. */
    private int runLength(long first, int want) {
        return (int) Math.min(want, sequenceMask + 1 - (first & sequenceMask));
    }

    private long idOf(long position) {
        return ((position >>> sequenceBits) << timestampShift) | workerField | (position & sequenceMask);
    }

    /** The state for sequence 0 of {@code timestamp}, after checking the layout's end, the lease and the mark. */
    private long newTimestamp(long timestamp) {
        if (timestamp > maxTimestamp) {
            throw new IdGenerationException("the timestamps of " + layout + " have run out at " + layout.endOfLife()
                    + " (timestamp " + timestamp + " is above " + maxTimestamp + "); no more ids of this layout");
        }
        if (!lease.isValid()) {
            stop(Stop.INVALID);
            throw stoppedException();
        }
        if (timestamp > mark.limit) {
            mark.reserveUpTo(timestamp); // the slow path: a save through the lease, or an exception
        }
        return timestamp << sequenceBits;
    }

    /**
     * Waits until the time allows the next position, or throws when that is a rollback wait beyond
     * {@code maxBackwardWait} (counted from the first rollback wait of the call).
     *
     * @param nanos the time read at ticker value {@code t}, in nanoseconds since the epoch
     * @return the ticker value at which this call's rollback wait began, or {@link #NOT_WAITING}
     */
    private long awaitClock(long s, long last, long t, long nanos, long now, long rollbackStart) {
        long target = (s & sequenceMask) != sequenceMask ? last : last + 1;
        long waitNanos = (target - leadUnits) * unitNanos - nanos; // positive: see the branches of the callers
        if (now < last && waitNanos > unitNanos) {
            // the time is behind the last timestamp, by more than a sequence overflow explains
            if (rollbackStart == NOT_WAITING) {
                rollbackStart = t == NOT_WAITING ? t + 1 : t;
            }
            if ((t - rollbackStart) + waitNanos > maxBackwardWaitNanos) {
                throw clockMovedBackwards(last, nanos, now);
            }
        }
        waiter.await(waitNanos);
        return rollbackStart;
    }

    // --- time, as far as the ids are concerned -------------------------------------------------------

    private ClockMovedBackwardsException clockMovedBackwards(long last, long nanos, long now) {
        String bound = maxLogicalLead == null
                ? "more than maxBackwardWait " + maxBackwardWait + " would be needed to wait it out"
                : "that is beyond the lead of maxLogicalLead " + maxLogicalLead + " plus maxBackwardWait "
                        + maxBackwardWait;
        return new ClockMovedBackwardsException(Duration.ofNanos(last * unitNanos - nanos),
                "worker id " + workerId + " issued ids up to timestamp " + last + " ("
                        + time.instantOfTimestamp(last) + "), the clock now reads " + time.instantAt(nanos)
                        + " (timestamp " + now + "); " + bound + "; ids resume once the clock passes the last timestamp"
                        + " again");
    }

    /** A re-sync followed the wall clock back by {@code nanos}. */
    private void wallClockWentBack(long nanos) {
        log.warn("worker id {}: the wall clock went back by {} ms; ids follow it only forward: no id until the time"
                + " passes the last issued timestamp {} ({})", workerId, nanos / NANOS_PER_MILLI,
                lastTimestamp(), maxLogicalLead == null ? "strict mode: waiting up to maxBackwardWait "
                        + maxBackwardWait + ", else ClockMovedBackwardsException"
                        : "logical mode: issuing ahead of the clock by up to " + maxLogicalLead);
    }

    /**
     * Waits, up to {@code maxStartupWait}, until the time allows an id above the persisted timestamp;
     * otherwise refuses to start.
     */
    private void awaitStart(long persistedTimestamp, boolean byPreviousHolder, Duration maxStartupWait) {
        long needed = persistedTimestamp + 1 - leadUnits; // the first id's timestamp may lead the time by leadUnits
        long nanos = time.awaitTimestamp(needed, maxStartupWait.toNanos(), waiter);
        long now = Math.floorDiv(nanos, unitNanos);
        if (now < needed) {
            throw new ClockMovedBackwardsException(Duration.ofNanos((persistedTimestamp + 1) * unitNanos - nanos),
                    "the clock reads " + time.instantAt(nanos) + " (timestamp " + now + "), not past the last"
                            + " timestamp " + persistedTimestamp + " (" + time.instantOfTimestamp(persistedTimestamp)
                            + (byPreviousHolder ? ") persisted for worker id " + workerId + " by its previous holder"
                                    : ") of the ids this generator issued before it had to lease worker id " + workerId)
                            + (leadUnits > 0 ? " less maxLogicalLead " + maxLogicalLead : "")
                            + "; waiting for it would take longer than maxStartupWait " + maxStartupWait
                            + "; refusing to start, since ids issued now could repeat the previous holder's");
        }
    }

    // --- lease and lifecycle ----------------------------------------------------------------------

    private void stop(Stop reason) {
        stopped.compareAndSet(null, reason);
        long s;
        while ((s = state.get()) >= 0 && !state.compareAndSet(s, s | SEALED)) {
            // another thread moved the state; seal what it left
        }
    }

    /** Why the generator issues no more ids, as the exception a call throws. */
    RuntimeException stoppedException() {
        Stop reason = stopped.get();
        if (reason == null || reason == Stop.CLOSED) {
            return new IllegalStateException("the snowflake generator of worker id " + workerId + " is closed");
        }
        return new WorkerLeaseLostException(workerId, reason.reason + "; no more ids from this generator"
                + (ownsLease ? "" : ": build a new one on a valid lease"), null);
    }

    /** Whether the generator has stopped issuing ids: closed, or its lease lost. */
    boolean isStopped() {
        return stopped.get() != null;
    }

    /** Stops the generator as if the lease's loss listener had fired (it may not have run yet). */
    void markLost() {
        stop(Stop.LOST);
    }

    /** Stops the generator because a save through the lease found the lease lost. */
    void saveFoundLeaseLost() {
        stop(Stop.SAVE_REFUSED);
    }

    /** The lease the worker id comes from. */
    WorkerLease lease() {
        return lease;
    }

    /** The generator's time. */
    SnowflakeTime time() {
        return time;
    }

    /** The last timestamp this generator can issue: the layout's, or less where nanoseconds would overflow. */
    long maxTimestamp() {
        return maxTimestamp;
    }

    /** The persisted high-water mark (tests). */
    long reservedTimestamp() {
        return mark.limit;
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        stop(Stop.CLOSED);
        try {
            mark.close(); // a save in progress completes before the lease is closed
        } finally {
            if (ownsLease) {
                lease.close();
            }
        }
        log.debug("{} closed", this);
    }

    @Override
    public SnowflakeLayout layout() {
        return layout;
    }

    @Override
    public int workerId() {
        return workerId;
    }

    @Override
    public long lastTimestamp() {
        return (state.get() & ~SEALED) >>> sequenceBits;
    }

    @Override
    public String toString() {
        return "SnowflakeIdGenerator[worker id " + workerId + ", " + layout + ", "
                + (maxLogicalLead == null ? "strict" : "logical, maxLogicalLead " + maxLogicalLead)
                + ", last timestamp " + lastTimestamp() + ", " + mark
                + (stopped.get() != null ? ", stopped: " + stopped.get() : "")
                + "]";
    }
}
