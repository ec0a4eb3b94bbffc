package io.distkit.id.snowflake;

import io.distkit.common.DaemonThreads;
import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Negative control: the design before the reservation, as the {@link HighWaterMark} of a real
 * {@link LockFreeSnowflakeGenerator}. Nothing bounds the timestamps ({@link #limit} is
 * {@code Long.MAX_VALUE}); the generator's last <em>issued</em> timestamp is saved through the lease
 * every persist interval (when it moved) and on close. So a holder paused or cut off after its last
 * save has issued ids its successor, starting above that save, can issue again; tests run it through
 * the same history as {@link TimestampReservation} to show that their checks catch that. Nothing of it
 * is in {@code src/main}: production generators always reserve.
 */
final class LastIssuedTimestampPersister extends HighWaterMark {

    private static final Logger log = LoggerFactory.getLogger(LastIssuedTimestampPersister.class);

    private final LockFreeSnowflakeGenerator generator;
    private final WorkerLease lease;
    private final Duration persistInterval;
    private final Object persistLock = new Object();
    private long persisted; // guarded by persistLock: the last save
    private final ScheduledExecutorService persister;

    private LastIssuedTimestampPersister(LockFreeSnowflakeGenerator generator, Duration persistInterval,
            long persistedBefore, long startAbove) {
        super(Long.MAX_VALUE);
        this.generator = generator;
        this.lease = generator.lease();
        this.persistInterval = persistInterval;
        this.persisted = persistedBefore;
        persister = Executors.newSingleThreadScheduledExecutor(DaemonThreads.factory("snowflake-persist"));
        long persistNanos = persistInterval.toNanos();
        persister.scheduleWithFixedDelay(this::persistQuietly, persistNanos, persistNanos, TimeUnit.NANOSECONDS);
    }

    /**
     * A generator on the settings and worker lease of {@code settings} (a lease, not an assigner) that
     * persists its last issued timestamp instead of reserving.
     */
    static SnowflakeIdGenerator generator(SnowflakeIdGenerator.Builder settings) {
        return new LockFreeSnowflakeGenerator(settings, Objects.requireNonNull(settings.lease, "workerLease"), false, 0,
                LastIssuedTimestampPersister::new);
    }

    @Override
    void reserveUpTo(long timestamp) {
        throw new AssertionError("no timestamp is above Long.MAX_VALUE, was " + timestamp);
    }

    /** The last issued timestamp, when it moved since the last save. */
    private void persist() {
        synchronized (persistLock) {
            long last = generator.lastTimestamp();
            if (last > persisted) {
                lease.saveLastTimestamp(last);
                persisted = last;
            }
        }
    }

    private void persistQuietly() {
        try {
            if (!generator.isStopped()) {
                persist();
            }
        } catch (WorkerLeaseLostException e) {
            generator.saveFoundLeaseLost();
            log.warn("worker id {}: the lease is lost, no more ids from this generator: {}", generator.workerId(),
                    e.getMessage());
        } catch (RuntimeException e) {
            log.warn("worker id {}: could not save the last timestamp {} through the lease, retrying in {}: {}",
                    generator.workerId(), generator.lastTimestamp(), persistInterval, e.toString());
        }
    }

    @Override
    void close() {
        persister.shutdown();
        try {
            synchronized (persistLock) { // a save in progress completes first
                if (lease.isValid()) {
                    persist();
                }
            }
        } catch (RuntimeException e) {
            log.warn("worker id {}: could not save the last timestamp {} on close: {}", generator.workerId(),
                    generator.lastTimestamp(), e.toString());
        }
    }

    @Override
    public String toString() {
        return "no reservation, the last issued timestamp persisted";
    }
}
