package io.distkit.id.snowflake;

import io.distkit.common.DaemonThreads;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reservation of one generator: no id above the persisted high-water mark. {@link #limit} is the
 * highest timestamp the generator has <em>successfully</em> saved through
 * {@link WorkerLease#saveLastTimestamp} (set only after the save returned), and no id gets a timestamp
 * above it. A new holder of the worker id starts above the mark it reads from the store, so two
 * holders of one worker id can never issue the same timestamp, whatever their clocks say and however
 * long the old one was paused or cut off: every timestamp the old one issued is at or below a mark it
 * saved while it still held the lease (the store refuses a save once the lease is gone), and the new
 * one starts above every such mark.
 *
 * <p>A first mark is saved before any id, when this is created. Then a background task on a daemon
 * thread {@code distkit-snowflake-persist-<n>} keeps the mark ahead of the time: every half
 * {@code persistInterval} it saves {@code max(now, last) + 2 × persistInterval} when less than one
 * interval is left. A caller that finds the mark used up (the store was slow or unreachable, or the
 * clock jumped forward) saves a new one itself, holding {@code persistLock}: callers that queue up
 * behind a failed save throw its failure instead of trying again, so an unreachable store costs each
 * wave of callers one save timeout, not one each. Close saves nothing: the mark already covers every
 * id issued.
 */
final class TimestampReservation extends HighWaterMark {

    private static final Logger log = LoggerFactory.getLogger(SnowflakeIdGenerator.class);
    private static final ThreadFactory PERSIST_THREADS = DaemonThreads.factory("snowflake-persist");

    private final LockFreeSnowflakeGenerator generator;
    private final WorkerLease lease;
    private final SnowflakeTime time;
    private final int workerId;
    private final long maxTimestamp;
    private final long unitNanos;
    private final Duration persistInterval;
    /** How far ahead of {@code max(now, last)} a save puts the mark: 2 persist intervals. */
    private final long reserveUnits;
    /** A save is due when less than this is left: 1 persist interval. */
    private final long refillUnits;

    /** Orders the saves through the lease, and close after them. */
    private final Object persistLock = new Object();
    /** Saves completed so far, failed ones included; written under {@link #persistLock}, read before taking it. */
    private volatile long savesCompleted;
    private @Nullable RuntimeException reserveFailure; // guarded by persistLock: the last attempt's, or null
    private final ScheduledExecutorService persister;

    /**
     * Saves the first mark, before any id, and starts the background task.
     *
     * @throws RuntimeException as {@link WorkerLease#saveLastTimestamp} throws it; no thread is started then
     */
    TimestampReservation(LockFreeSnowflakeGenerator generator, Duration persistInterval, long persistedBefore,
            long startAbove) {
        super(persistedBefore); // nothing above the old mark until a save
        this.generator = generator;
        this.lease = generator.lease();
        this.time = generator.time();
        this.workerId = generator.workerId();
        this.maxTimestamp = generator.maxTimestamp();
        this.unitNanos = generator.layout().unitNanos();
        this.persistInterval = persistInterval;
        long persistNanos = persistInterval.toNanos();
        reserveUnits = Math.max(1, ceilDiv(2 * persistNanos, unitNanos));
        refillUnits = Math.max(1, ceilDiv(persistNanos, unitNanos));
        synchronized (persistLock) {
            reserve(Math.max(time.currentTimestamp(), startAbove)); // throws
        }
        persister = Executors.newSingleThreadScheduledExecutor(PERSIST_THREADS);
        long checkNanos = Math.max(1, persistNanos / 2);
        persister.scheduleWithFixedDelay(this::keepReserve, checkNanos, checkNanos, TimeUnit.NANOSECONDS);
    }

    private static long ceilDiv(long x, long y) {
        return -Math.floorDiv(-x, y);
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
        if (target > limit) {
            limit = target;
        }
    }

    /**
     * Saves a new mark on the caller's thread (bounded by the store's own timeout), or throws; never
     * returns without the mark covering {@code timestamp}.
     */
    @Override
    void reserveUpTo(long timestamp) {
        long completedBefore = savesCompleted;
        synchronized (persistLock) {
            if (timestamp <= limit) {
                return; // another thread saved meanwhile
            }
            if (generator.isStopped()) {
                throw generator.stoppedException();
            }
            RuntimeException failed = reserveFailure;
            if (failed != null && savesCompleted != completedBefore) {
                throw unavailable(timestamp, failed); // a save failed while this caller waited for it
            }
            try {
                reserve(Math.max(timestamp, time.currentTimestamp()));
            } catch (WorkerLeaseLostException e) {
                generator.saveFoundLeaseLost();
                throw e;
            } catch (RuntimeException e) {
                throw unavailable(timestamp, e);
            }
        }
    }

    private IdSourceUnavailableException unavailable(long timestamp, RuntimeException cause) {
        String source = cause instanceof IdSourceUnavailableException unavailable ? unavailable.source()
                : "worker id " + workerId;
        long reserved = limit;
        return new IdSourceUnavailableException(source, "worker id " + workerId + " has used up its persisted"
                + " high-water mark " + reserved + " (" + time.instantOfTimestamp(reserved) + ") and could not persist"
                + " one covering timestamp " + timestamp + " through " + lease + ": " + cause
                + "; no id is issued above the persisted mark", cause);
    }

    /** The background task: saves a new mark when less than one persist interval is left. */
    private void keepReserve() {
        synchronized (persistLock) {
            if (generator.isStopped()) {
                return;
            }
            long base = Math.max(time.currentTimestamp(), generator.lastTimestamp());
            if (limit - base >= refillUnits || limit >= maxTimestamp) {
                return;
            }
            boolean wasFailing = reserveFailure != null;
            try {
                reserve(base);
                if (wasFailing) {
                    log.info("worker id {}: the high-water mark is persisted again, up to timestamp {}", workerId,
                            limit);
                }
            } catch (WorkerLeaseLostException e) {
                generator.saveFoundLeaseLost();
                log.warn("worker id {}: the lease is lost, no more ids from this generator: {}", workerId,
                        e.getMessage());
            } catch (RuntimeException e) {
                if (!wasFailing) {
                    log.warn("worker id {}: could not persist the high-water mark through the lease; ids stop at the"
                            + " persisted mark {} ({} of reserve left) until a save succeeds; retrying every {}: {}",
                            workerId, limit, Duration.ofNanos(Math.max(0, limit - base) * unitNanos),
                            persistInterval.dividedBy(2), e.toString());
                } else {
                    log.debug("worker id {}: persisting the high-water mark failed again: {}", workerId, e.toString());
                }
            }
        }
    }

    @Override
    void close() {
        persister.shutdown();
        synchronized (persistLock) {
            // a save in progress has completed: the generator may close the lease now
        }
    }

    @Override
    public String toString() {
        return "persisted mark " + limit;
    }
}
