package io.distkit.id.snowflake;

import io.distkit.id.IdGenerationException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A fixed worker id, configured by hand: for a single process, for tests, or for deployments that
 * assign worker ids themselves (one per host or pod ordinal).
 *
 * <p>The assigner hands out one lease at a time: a second {@link #acquire(int)} while a lease is
 * open is refused, so two generators of one process cannot share the worker id by mistake. A lease
 * never expires; it ends when it or the assigner is closed. The last timestamp a lease saves is kept
 * in memory (the highest value saved wins) and given to the next lease of the same assigner, so a
 * generator re-created in the same process starts above the ids of the one before.
 *
 * <p>Nothing is persisted across processes: a restarted process whose clock went back can repeat ids
 * of its previous life, and two processes configured with the same worker id repeat each other's
 * ids. Where either can happen, lease worker ids from a shared store instead.
 */
public final class StaticWorkerIdAssigner implements WorkerIdAssigner {

    private final int workerId;
    private final Object lock = new Object();
    private long lastTimestamp;
    private @Nullable StaticLease open;
    private boolean closed;

    private StaticWorkerIdAssigner(int workerId) {
        this.workerId = workerId;
    }

    /**
     * An assigner of {@code workerId}.
     *
     * @param workerId not negative; checked against the layout's range at {@link #acquire(int)}
     * @throws IllegalArgumentException if {@code workerId} is negative
     */
    public static StaticWorkerIdAssigner of(int workerId) {
        if (workerId < 0) {
            throw new IllegalArgumentException("workerId must not be negative, was " + workerId);
        }
        return new StaticWorkerIdAssigner(workerId);
    }

    /** The worker id every lease of this assigner carries. */
    public int workerId() {
        return workerId;
    }

    /** The highest timestamp any lease of this assigner saved; 0 if none did. */
    public long lastTimestamp() {
        synchronized (lock) {
            return lastTimestamp;
        }
    }

    /**
     * Leases the configured worker id.
     *
     * @throws IllegalArgumentException if {@code maxWorkerIds} is below 1 or not above the worker id
     * @throws IdGenerationException if a lease of this assigner is still open
     * @throws IllegalStateException if the assigner is closed
     */
    @Override
    public WorkerLease acquire(int maxWorkerIds) {
        if (maxWorkerIds < 1) {
            throw new IllegalArgumentException("maxWorkerIds must be at least 1, was " + maxWorkerIds);
        }
        if (workerId >= maxWorkerIds) {
            throw new IllegalArgumentException("workerId must be in [0, " + maxWorkerIds + ") (maxWorkerIds of the"
                    + " layout), was " + workerId);
        }
        synchronized (lock) {
            if (closed) {
                throw new IllegalStateException("the StaticWorkerIdAssigner of worker id " + workerId + " is closed");
            }
            if (open != null) {
                throw new IdGenerationException("worker id " + workerId + " is already leased from this"
                        + " StaticWorkerIdAssigner and that lease is still open; close it (or its generator) first:"
                        + " one worker id serves one generator at a time");
            }
            StaticLease lease = new StaticLease(lastTimestamp);
            open = lease;
            return lease;
        }
    }

    /** Closes the open lease, if any; further {@link #acquire(int)} calls are refused. Idempotent. */
    @Override
    public void close() {
        StaticLease lease;
        synchronized (lock) {
            closed = true;
            lease = open;
        }
        if (lease != null) {
            lease.close();
        }
    }

    @Override
    public String toString() {
        return "StaticWorkerIdAssigner[workerId=" + workerId + "]";
    }

    private final class StaticLease implements WorkerLease {
        private final long lastTimestampAtAcquire;
        private volatile boolean valid = true;

        StaticLease(long lastTimestampAtAcquire) {
            this.lastTimestampAtAcquire = lastTimestampAtAcquire;
        }

        @Override
        public int workerId() {
            return workerId;
        }

        @Override
        public boolean isValid() {
            return valid;
        }

        @Override
        public long lastTimestamp() {
            return lastTimestampAtAcquire;
        }

        @Override
        public void saveLastTimestamp(long timestamp) {
            if (timestamp < 0) {
                throw new IllegalArgumentException("timestamp must not be negative, was " + timestamp);
            }
            synchronized (lock) {
                if (!valid) {
                    throw new WorkerLeaseLostException(workerId, "the lease was closed", null);
                }
                lastTimestamp = Math.max(lastTimestamp, timestamp);
            }
        }

        /** The lease is never lost (only closed), so the listener never runs. */
        @Override
        public void onLost(Runnable listener) {
            Objects.requireNonNull(listener, "listener");
        }

        @Override
        public void close() {
            synchronized (lock) {
                valid = false;
                if (open == this) {
                    open = null;
                }
            }
        }

        @Override
        public String toString() {
            return "StaticWorkerIdAssigner.Lease[workerId=" + workerId + ", valid=" + valid + "]";
        }
    }
}
