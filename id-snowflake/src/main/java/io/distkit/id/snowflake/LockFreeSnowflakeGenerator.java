package io.distkit.id.snowflake;

import io.distkit.id.ClockMovedBackwardsException;
import io.distkit.id.IdGenerationException;
import io.distkit.id.IdGenerator;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.Ticker;
import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link SnowflakeIdGenerator}: one {@link AtomicLong} holds the last issued position, the
 * timestamp and the sequence number packed as {@code timestamp << sequenceBits | sequence}; every id
 * is one compare-and-set that moves it forward. No locks, no allocation per id.
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
 * Otherwise it waits for the time to allow one of those, or throws.
 *
 * <p><b>Reservation.</b> No id above the persisted high-water mark: {@code reserved} is the highest
 * timestamp this generator has <em>successfully</em> saved through {@link WorkerLease#saveLastTimestamp}
 * (set only after the save returned), and no id gets a timestamp above it. A new holder of the worker
 * id starts above the mark it reads from the store, so two holders of one worker id can never issue
 * the same timestamp, whatever their clocks say and however long the old one was paused or cut off:
 * every timestamp the old one issued is at or below a mark it saved while it still held the lease
 * (the store refuses a save once the lease is gone), and the new one starts above every such mark.
 * The check is on the hot path only when a call moves to a new timestamp, and it is one read of a
 * volatile field. The mark is kept ahead of the time by a background task: every half
 * {@code persistInterval} it saves {@code max(now, last) + 2 × persistInterval} when less than one
 * interval is left. A caller that finds the mark used up (the store was slow or unreachable, or the
 * clock jumped forward) saves a new one itself, holding {@code persistLock}: callers that queue up
 * behind a failed save throw its failure instead of trying again, so an unreachable store costs each
 * wave of callers one save timeout, not one each.
 *
 * <p><b>Stopping.</b> Closing and losing the lease set the sign bit of the state ("sealed"): a
 * compare-and-set prepared before that fails, and the next attempt sees the seal and throws. So after
 * a close returns, or the loss listener has run, no id is issued. Close saves nothing: the mark
 * already covers every id issued.
 *
 * <p><b>Time.</b> {@code time = ticker + offset}, in nanoseconds since the layout's epoch; the offset is
 * set from the wall clock at build and corrected by {@link #resync(long)}.
 */
final class LockFreeSnowflakeGenerator implements SnowflakeIdGenerator {

    private static final Logger log = LoggerFactory.getLogger(SnowflakeIdGenerator.class);

    private static final long SEALED = Long.MIN_VALUE;
    private static final long NANOS_PER_MILLI = 1_000_000L;
    /** A wall clock behind the time by less than this (beyond the millisecond a reading is vague by) is not followed back. */
    static final long RESYNC_TOLERANCE_NANOS = NANOS_PER_MILLI;
    /** A wall-clock reading that took longer than this (the thread was descheduled) is not trusted. */
    static final long MAX_RESYNC_READ_NANOS = NANOS_PER_MILLI;
    /** Stands for "no rollback wait started in this call"; a ticker reading equal to it is nudged by 1 ns. */
    private static final long NOT_WAITING = Long.MIN_VALUE;
    private static final AtomicInteger THREADS = new AtomicInteger();
    private static final VarHandle NEXT_RESYNC;

    static {
        try {
            NEXT_RESYNC = MethodHandles.lookup().findVarHandle(LockFreeSnowflakeGenerator.class, "nextResync", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

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
    private final long epochNanos;

    private final Clock clock;
    private final Ticker ticker;
    private final Waiter waiter;
    private final long resyncNanos;
    private final Duration maxBackwardWait;
    private final long maxBackwardWaitNanos;
    private final @Nullable Duration maxLogicalLead;
    private final long leadUnits;
    private final boolean rollbackGuard;

    /** The time is {@code ticker.read() + offset}: nanoseconds since the layout's epoch. */
    private volatile long offset;
    /** Ticker value at which the next call re-reads the wall clock. */
    private volatile long nextResync;

    private final AtomicLong state;

    private final WorkerLease lease;
    private final boolean ownsLease;
    private final int workerId;
    private final AtomicReference<@Nullable Stop> stopped = new AtomicReference<>();
    private final AtomicBoolean closed = new AtomicBoolean();

    /** Orders the saves through the lease, and close after them. */
    private final Object persistLock = new Object();
    /**
     * The persisted high-water mark: no id has a timestamp above it. Written under {@link #persistLock}
     * after a save returned, only upwards; read without it on the hot path.
     */
    private volatile long reserved;
    /** Saves completed so far, failed ones included; written under {@link #persistLock}, read before taking it. */
    private volatile long savesCompleted;
    private @Nullable RuntimeException reserveFailure; // guarded by persistLock: the last attempt's, or null
    private final boolean reservation; // false: the negative control, persisting the last issued timestamp
    private long persisted; // guarded by persistLock; the negative control's last save
    /** How far ahead of {@code max(now, last)} a save puts the mark: 2 persist intervals. */
    private final long reserveUnits;
    /** A save is due when less than this is left: 1 persist interval. */
    private final long refillUnits;
    private final Duration persistInterval;
    private final ScheduledExecutorService persister;

    /**
     * @param floorTimestamp a timestamp no id may have or be below, as if issued already: the last
     *     timestamp of the generator this one replaces after a loss of its lease (0 for none), so
     *     that the ids the user sees keep increasing across the change of worker id
     */
    LockFreeSnowflakeGenerator(SnowflakeIdGenerator.Builder b, WorkerLease lease, boolean ownsLease,
            long floorTimestamp) {
        this.layout = b.layout;
        this.lease = lease;
        this.ownsLease = ownsLease;
        this.clock = b.clock;
        this.ticker = b.ticker;
        this.waiter = b.waiter;
        this.rollbackGuard = b.rollbackGuard;
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
        epochNanos = Math.addExact(Math.multiplyExact(layout.epoch().getEpochSecond(), 1_000_000_000L),
                layout.epoch().getNano());
        resyncNanos = b.resyncInterval.toNanos();
        maxBackwardWait = b.maxBackwardWait;
        maxBackwardWaitNanos = maxBackwardWait.toNanos();
        maxLogicalLead = b.maxLogicalLead;
        leadUnits = maxLogicalLead == null ? 0 : maxLogicalLead.toNanos() / unitNanos;

        layout.checkUsableAt(clock.instant());
        long persistedBefore = lease.lastTimestamp();
        if (persistedBefore < 0 || persistedBefore > maxTimestamp) {
            throw new IllegalArgumentException("the lastTimestamp of worker id " + workerId + "'s lease must be between 0"
                    + " and " + maxTimestamp + " (the layout's maxTimestamp), was " + persistedBefore
                    + ": was it saved by a generator of another layout?");
        }
        long startAbove = Math.max(persistedBefore, floorTimestamp);
        // as if every id of that timestamp had been issued: the first id is above all of them
        state = new AtomicLong((startAbove << sequenceBits) | sequenceMask);
        persisted = persistedBefore;
        persistInterval = b.persistInterval;
        long persistNanos = persistInterval.toNanos();
        reserveUnits = Math.max(1, ceilDiv(2 * persistNanos, unitNanos));
        refillUnits = Math.max(1, ceilDiv(persistNanos, unitNanos));
        reservation = b.reservation;
        reserved = reservation ? persistedBefore : Long.MAX_VALUE; // nothing above the old mark until a save
        anchor();
        lease.onLost(() -> {
            stop(Stop.LOST);
            log.warn("worker id {}: the lease is lost, no more ids from this generator; last timestamp {}", workerId,
                    lastTimestamp());
        });
        awaitStart(startAbove, persistedBefore >= floorTimestamp, b.maxStartupWait);
        if (stopped.get() != null) {
            throw stoppedException();
        }
        if (reservation) {
            synchronized (persistLock) {
                reserve(Math.max(currentTimestamp(), startAbove)); // the first mark, before any id; throws
            }
        }
        persister = Executors.newSingleThreadScheduledExecutor(task -> {
            Thread thread = new Thread(task, "distkit-snowflake-persist-" + THREADS.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
        if (reservation) {
            long checkNanos = Math.max(1, persistNanos / 2);
            persister.scheduleWithFixedDelay(this::keepReserve, checkNanos, checkNanos, TimeUnit.NANOSECONDS);
        } else {
            persister.scheduleWithFixedDelay(this::persistQuietly, persistNanos, persistNanos, TimeUnit.NANOSECONDS);
        }
        log.debug("{} started", this);
    }

    private static long ceilDiv(long x, long y) {
        return -Math.floorDiv(-x, y);
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
            long t = ticker.read();
            if (t - nextResync >= 0) {
                resync(t);
            }
            long time = t + offset;
            long now = Math.floorDiv(time, unitNanos);
            long first;
            if (now > last) {
                first = newTimestamp(now);
            } else if ((s & sequenceMask) != sequenceMask && last - now <= leadUnits) {
                first = s + 1;
            } else if (last - now < leadUnits) {
                first = newTimestamp(last + 1);
            } else if (!rollbackGuard && now < last) {
                first = newTimestamp(Math.max(now, 0));
            } else {
                rollbackStart = awaitClock(s, last, t, time, now, rollbackStart);
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

    /** The state for sequence 0 of {@code timestamp}, after checking the lease and the layout's end. */
    private long newTimestamp(long timestamp) {
        if (timestamp > maxTimestamp) {
            throw new IdGenerationException("the timestamps of " + layout + " have run out at " + layout.endOfLife()
                    + " (timestamp " + timestamp + " is above " + maxTimestamp + "); no more ids of this layout");
        }
        if (!lease.isValid()) {
            stop(Stop.INVALID);
            throw stoppedException();
        }
        if (timestamp > reserved) {
            reserveUpTo(timestamp); // the slow path: a save through the lease, or an exception
        }
        return timestamp << sequenceBits;
    }

    /**
     * Waits until the time allows the next position, or throws when that is a rollback wait beyond
     * {@code maxBackwardWait} (counted from the first rollback wait of the call).
     *
     * @return the ticker value at which this call's rollback wait began, or {@link #NOT_WAITING}
     */
    private long awaitClock(long s, long last, long t, long time, long now, long rollbackStart) {
        long target = (s & sequenceMask) != sequenceMask ? last : last + 1;
        long waitNanos = (target - leadUnits) * unitNanos - time; // positive: see the branches of the callers
        if (now < last && waitNanos > unitNanos) {
            // the time is behind the last timestamp, by more than a sequence overflow explains
            if (rollbackStart == NOT_WAITING) {
                rollbackStart = t == NOT_WAITING ? t + 1 : t;
            }
            if ((t - rollbackStart) + waitNanos > maxBackwardWaitNanos) {
                throw clockMovedBackwards(last, time, now);
            }
        }
        waiter.await(waitNanos);
        return rollbackStart;
    }

    // --- time -------------------------------------------------------------------------------------

    /**
     * Sets the offset from a fresh wall-clock reading, at build: an {@code Instant}, finer than the
     * millisecond re-syncs read (the system clock gives microseconds), so that a generator starts
     * within its clock's precision of the wall time rather than up to a millisecond behind.
     */
    private void anchor() {
        long t1 = ticker.read();
        Instant now = clock.instant();
        long t2 = ticker.read();
        long wall = Math.addExact(Math.multiplyExact(now.getEpochSecond(), 1_000_000_000L), now.getNano()) - epochNanos;
        offset = wall - t2; // the lowest offset the reading allows: the time never runs ahead of the wall clock
        nextResync = t2 + resyncNanos;
        if (t2 - t1 > MAX_RESYNC_READ_NANOS) {
            nextResync = t2; // a vague first reading: improve it on the first call
        }
    }

    /**
     * Re-reads the wall clock when due; one caller per interval does it. The reading, taken between
     * ticker values t1 and t2 and truncated to the millisecond, says the true offset lies in
     * {@code [wall - t2, wall + 1 ms - t1)}. The time moves forward to the low end when it is below
     * (never ahead of the wall clock after a forward move), and back to the high end when it is
     * above by more than {@link #RESYNC_TOLERANCE_NANOS} (the least move back that agrees with the
     * reading). Inside the range, the ticker is trusted and nothing changes: repeated readings never
     * make the time jitter.
     */
    private void resync(long t) {
        long due = nextResync;
        if (t - due < 0 || !NEXT_RESYNC.compareAndSet(this, due, t + resyncNanos)) {
            return;
        }
        long t1 = ticker.read();
        long wall = wallSinceEpoch(clock.millis());
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
            log.warn("worker id {}: the wall clock went back by {} ms; ids follow it only forward: no id until the time"
                    + " passes the last issued timestamp {} ({})", workerId, (current - high) / NANOS_PER_MILLI,
                    lastTimestamp(), maxLogicalLead == null ? "strict mode: waiting up to maxBackwardWait "
                            + maxBackwardWait + ", else ClockMovedBackwardsException"
                            : "logical mode: issuing ahead of the clock by up to " + maxLogicalLead);
        }
    }

    private long wallSinceEpoch(long wallMillis) {
        return Math.multiplyExact(wallMillis, NANOS_PER_MILLI) - epochNanos;
    }

    private Instant instantAt(long timeSinceEpoch) {
        return layout.epoch().plusNanos(timeSinceEpoch);
    }

    private Instant instantOfTimestamp(long timestamp) {
        return layout.epoch().plusNanos(timestamp * unitNanos);
    }

    private ClockMovedBackwardsException clockMovedBackwards(long last, long time, long now) {
        String bound = maxLogicalLead == null
                ? "more than maxBackwardWait " + maxBackwardWait + " would be needed to wait it out"
                : "that is beyond the lead of maxLogicalLead " + maxLogicalLead + " plus maxBackwardWait "
                        + maxBackwardWait;
        return new ClockMovedBackwardsException(Duration.ofNanos(last * unitNanos - time),
                "worker id " + workerId + " issued ids up to timestamp " + last + " (" + instantOfTimestamp(last)
                        + "), the clock now reads " + instantAt(time) + " (timestamp " + now + "); " + bound
                        + "; ids resume once the clock passes the last timestamp again");
    }

    /**
     * Waits, up to {@code maxStartupWait}, until the time allows an id above the persisted timestamp.
     * Each park ends at the next re-sync at the latest, so a wall clock corrected forward meanwhile (the
     * step back that made the wait necessary undone) ends the wait then, not when the wait computed from
     * the wrong clock runs out.
     */
    private void awaitStart(long persistedTimestamp, boolean byPreviousHolder, Duration maxStartupWait) {
        long needed = persistedTimestamp + 1 - leadUnits; // the first id's timestamp may lead the time by leadUnits
        long start = ticker.read();
        for (;;) {
            long t = ticker.read();
            if (t - nextResync >= 0) {
                resync(t);
            }
            long time = t + offset;
            long now = Math.floorDiv(time, unitNanos);
            if (now >= needed) {
                return;
            }
            long waitNanos = needed * unitNanos - time;
            if ((t - start) + waitNanos > maxStartupWait.toNanos()) {
                throw new ClockMovedBackwardsException(Duration.ofNanos((persistedTimestamp + 1) * unitNanos - time),
                        "the clock reads " + instantAt(time) + " (timestamp " + now + "), not past the last timestamp "
                                + persistedTimestamp + " (" + instantOfTimestamp(persistedTimestamp)
                                + (byPreviousHolder ? ") persisted for worker id " + workerId + " by its previous holder"
                                        : ") of the ids this generator issued before it had to lease worker id "
                                        + workerId)
                                + (leadUnits > 0 ? " less maxLogicalLead " + maxLogicalLead : "")
                                + "; waiting for it would take longer than maxStartupWait " + maxStartupWait
                                + "; refusing to start, since ids issued now could repeat the previous holder's");
            }
            long untilResync = nextResync - t;
            waiter.await(resyncNanos > 0 && untilResync > 0 && untilResync < waitNanos ? untilResync : waitNanos);
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

    private RuntimeException stoppedException() {
        Stop reason = stopped.get();
        if (reason == null || reason == Stop.CLOSED) {
            return new IllegalStateException("the snowflake generator of worker id " + workerId + " is closed");
        }
        return new WorkerLeaseLostException(workerId, reason.reason + "; no more ids from this generator"
                + (ownsLease ? "" : ": build a new one on a valid lease"), null);
    }

    // --- the reservation -----------------------------------------------------------------------------

    /** The time in whole time units of the layout, as the hot path computes it (without a re-sync). */
    private long currentTimestamp() {
        return Math.floorDiv(ticker.read() + offset, unitNanos);
    }

    /**
     * Saves {@code base + reserveUnits} (at most the layout's last timestamp) as the high-water mark and,
     * once the save has returned, lets ids go up to it. Holding {@link #persistLock}.
     *
     * @throws RuntimeException as {@link WorkerLease#saveLastTimestamp} throws it; the mark is unchanged
     */
    private void reserve(long base) {
        long target = Math.min(maxTimestamp, base + reserveUnits);
        try {
            lease.saveLastTimestamp(target);
        } catch (RuntimeException e) {
            reserveFailure = e;
            throw e;
        } finally {
            savesCompleted++; // a volatile write by the one thread holding persistLock
        }
        reserveFailure = null;
        if (target > reserved) {
            reserved = target;
        }
    }

    /**
     * The slow path of {@link #newTimestamp}: {@code timestamp} is above the mark. Saves a new mark on
     * the caller's thread (bounded by the store's own timeout), or throws; never returns without the mark
     * covering {@code timestamp}.
     */
    private void reserveUpTo(long timestamp) {
        long completedBefore = savesCompleted;
        synchronized (persistLock) {
            if (timestamp <= reserved) {
                return; // another thread saved meanwhile
            }
            if (stopped.get() != null) {
                throw stoppedException();
            }
            RuntimeException failed = reserveFailure;
            if (failed != null && savesCompleted != completedBefore) {
                throw reserveUnavailable(timestamp, failed); // a save failed while this caller waited for it
            }
            try {
                reserve(Math.max(timestamp, currentTimestamp()));
            } catch (WorkerLeaseLostException e) {
                stop(Stop.SAVE_REFUSED);
                throw e;
            } catch (RuntimeException e) {
                throw reserveUnavailable(timestamp, e);
            }
        }
    }

    private IdSourceUnavailableException reserveUnavailable(long timestamp, RuntimeException cause) {
        String source = cause instanceof IdSourceUnavailableException unavailable ? unavailable.source()
                : "worker id " + workerId;
        return new IdSourceUnavailableException(source, "worker id " + workerId + " has used up its persisted"
                + " high-water mark " + reserved + " (" + instantOfTimestamp(reserved) + ") and could not persist one"
                + " covering timestamp " + timestamp + " through " + lease + ": " + cause
                + "; no id is issued above the persisted mark", cause);
    }

    /** The background task: saves a new mark when less than one persist interval is left. */
    private void keepReserve() {
        synchronized (persistLock) {
            if (stopped.get() != null) {
                return;
            }
            long base = Math.max(currentTimestamp(), lastTimestamp());
            if (reserved - base >= refillUnits || reserved >= maxTimestamp) {
                return;
            }
            boolean wasFailing = reserveFailure != null;
            try {
                reserve(base);
                if (wasFailing) {
                    log.info("worker id {}: the high-water mark is persisted again, up to timestamp {}", workerId,
                            reserved);
                }
            } catch (WorkerLeaseLostException e) {
                stop(Stop.SAVE_REFUSED);
                log.warn("worker id {}: the lease is lost, no more ids from this generator: {}", workerId,
                        e.getMessage());
            } catch (RuntimeException e) {
                if (!wasFailing) {
                    log.warn("worker id {}: could not persist the high-water mark through the lease; ids stop at the"
                            + " persisted mark {} ({} of reserve left) until a save succeeds; retrying every {}: {}",
                            workerId, reserved, Duration.ofNanos(Math.max(0, reserved - base) * unitNanos),
                            persistInterval.dividedBy(2), e.toString());
                } else {
                    log.debug("worker id {}: persisting the high-water mark failed again: {}", workerId, e.toString());
                }
            }
        }
    }

    /** The negative control's save: the last issued timestamp, when it moved since the last save. */
    private void persist() {
        synchronized (persistLock) {
            long last = lastTimestamp();
            if (last > persisted) {
                lease.saveLastTimestamp(last);
                persisted = last;
            }
        }
    }

    private void persistQuietly() {
        try {
            if (stopped.get() == null) {
                persist();
            }
        } catch (WorkerLeaseLostException e) {
            stop(Stop.SAVE_REFUSED);
            log.warn("worker id {}: the lease is lost, no more ids from this generator: {}", workerId, e.getMessage());
        } catch (RuntimeException e) {
            log.warn("worker id {}: could not save the last timestamp {} through the lease, retrying in {}: {}",
                    workerId, lastTimestamp(), persistInterval, e.toString());
        }
    }

    /** Stops the generator as if the lease's loss listener had fired (it may not have run yet). */
    void markLost() {
        stop(Stop.LOST);
    }

    /** The lease the worker id comes from. */
    WorkerLease lease() {
        return lease;
    }

    /** The persisted high-water mark (tests). */
    long reservedTimestamp() {
        return reserved;
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        stop(Stop.CLOSED);
        persister.shutdown();
        try {
            synchronized (persistLock) { // a save in progress completes before the lease is closed
                if (!reservation && lease.isValid()) {
                    persist();
                }
            }
        } catch (RuntimeException e) {
            log.warn("worker id {}: could not save the last timestamp {} on close; the next holder of the worker id"
                    + " relies on the last periodic save: {}", workerId, lastTimestamp(), e.toString());
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
                + ", last timestamp " + lastTimestamp() + (reservation ? ", persisted mark " + reserved : "")
                + (stopped.get() != null ? ", stopped: " + stopped.get() : "")
                + "]";
    }
}
