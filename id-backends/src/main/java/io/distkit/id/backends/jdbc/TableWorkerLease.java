package io.distkit.id.backends.jdbc;

import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import io.distkit.jdbc.internal.Database;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataAccessException;

/**
 * One row of the worker table held under one owner value. Valid until closed or lost; both are final.
 * The local deadline (ticker nanoseconds) only moves forward: to the send time of a successful renewal
 * plus the lease, less the drift allowance.
 */
final class TableWorkerLease implements WorkerLease {

    private static final Logger LOG = LoggerFactory.getLogger(TableWorkerLease.class);

    enum State { VALID, LOST, CLOSED }

    private final TableWorkerIdAssigner assigner;
    private final int workerId;
    private final String owner;
    private final long lastTimestamp;

    private volatile State state = State.VALID;
    private volatile long deadline;
    // guarded by this
    private @Nullable String lostReason;
    private final List<Runnable> listeners = new ArrayList<>();
    private boolean closeCalled;
    private @Nullable ScheduledFuture<?> deadlineTimer;

    TableWorkerLease(TableWorkerIdAssigner assigner, int workerId, String owner, long lastTimestamp, long claimSentAt) {
        this.assigner = assigner;
        this.workerId = workerId;
        this.owner = owner;
        this.lastTimestamp = lastTimestamp;
        this.deadline = claimSentAt + assigner.leaseNanos - assigner.driftNanos;
    }

    @Override
    public int workerId() {
        return workerId;
    }

    /** The owner value of this lease's row. */
    String owner() {
        return owner;
    }

    /** The local deadline, on the assigner's ticker. */
    long deadline() {
        return deadline;
    }

    @Override
    public long lastTimestamp() {
        return lastTimestamp;
    }

    /** Also checks the local deadline, so the answer is never later than the deadline, whatever the threads do. */
    @Override
    public boolean isValid() {
        return state == State.VALID && checkDeadline(assigner.ticker.getAsLong());
    }

    @Override
    public void saveLastTimestamp(long timestamp) {
        if (timestamp < 0) {
            throw new IllegalArgumentException("timestamp must not be negative, was " + timestamp);
        }
        if (!isValid()) {
            throw lostException();
        }
        int updated;
        try {
            updated = assigner.database.callRepeatable("save the last timestamp",
                    statements -> statements.update(assigner.saveSql, timestamp, workerId, owner));
        } catch (DataAccessException e) {
            throw new IdSourceUnavailableException(assigner.table, "saving last timestamp " + timestamp + " of worker id "
                    + workerId + " to " + assigner.description + " failed: " + Database.rootMessage(e)
                    + "; whether it was saved is unknown", e);
        }
        if (updated == 0) {
            lose("the row of worker id " + workerId + " in " + assigner.description + " is no longer held by this lease"
                    + " (another owner took it after it expired by the database clock, or an operator changed it);"
                    + " the last timestamp " + timestamp + " was not saved", false);
            throw lostException();
        }
    }

    @Override
    public void onLost(Runnable listener) {
        Objects.requireNonNull(listener, "listener");
        synchronized (this) {
            if (state == State.VALID) {
                listeners.add(listener);
                return;
            }
            if (state != State.LOST) {
                return; // closed normally: never runs
            }
        }
        assigner.runListeners(List.of(listener), this);
    }

    @Override
    public void close() {
        if (closeLocally()) {
            assigner.releaseQuietly(List.of(this));
        }
    }

    /**
     * Turns the lease closed (unless lost, which stays the reason given), once; true for the one call that
     * should release the row. Listeners registered so far will not run.
     */
    boolean closeLocally() {
        synchronized (this) {
            if (closeCalled) {
                return false;
            }
            closeCalled = true;
            if (state == State.VALID) {
                state = State.CLOSED;
            }
            listeners.clear();
            cancelTimer();
        }
        assigner.forget(this);
        return true; // a lost lease too: if the loss was local only, the row is still ours until it expires
    }

    /** True if the lease is valid at {@code now}; declares it lost if its deadline has passed. */
    boolean checkDeadline(long now) {
        if (state != State.VALID) {
            return false;
        }
        if (now - deadline >= 0) {
            lose("no renewal succeeded by the local lease deadline (the lease time " + assigner.leaseTime + " from the"
                    + " send time of the last successful claim or renewal, less " + TimeUnit.NANOSECONDS.toMillis(
                    assigner.driftNanos) + " ms for clock drift): " + assigner.description + " was unreachable or too"
                    + " slow, and the row may expire there and be leased to another process", true);
            return false;
        }
        return true;
    }

    /** The outcome of a renewal sent at {@code sentAt} whose reply came at {@code repliedAt}. */
    void renewed(boolean extended, long sentAt, long repliedAt) {
        if (!extended) {
            lose("a renewal found the row of worker id " + workerId + " in " + assigner.description + " no longer held"
                    + " by this lease (another owner took it after it expired by the database clock, or an operator"
                    + " changed it)", false);
            return;
        }
        if (state != State.VALID) {
            assigner.releaseInBackground(this); // the renewal extended a row this lease no longer uses
            return;
        }
        if (repliedAt - deadline >= 0) {
            // the row may have expired on the database before this renewal reached it, and been claimed by
            // someone else; loss is final even if the renewal reports success
            lose("the renewal reply came after the local lease deadline", true);
            return;
        }
        long extendedTo = sentAt + assigner.leaseNanos - assigner.driftNanos;
        synchronized (this) {
            if (extendedTo - deadline > 0) {
                deadline = extendedTo;
            }
        }
    }

    /** Schedules the deadline check on the assigner's watch thread. */
    void armDeadline() {
        synchronized (this) {
            if (state != State.VALID) {
                return;
            }
            deadlineTimer = assigner.scheduleDeadline(this::onDeadlineTimer, deadline - assigner.ticker.getAsLong());
        }
    }

    private void onDeadlineTimer() {
        if (checkDeadline(assigner.ticker.getAsLong())) {
            armDeadline(); // renewed meanwhile: check again at the new deadline
        }
    }

    /** Declares the lease lost, once; runs the listeners on a library thread. */
    private void lose(String reason, boolean rowMayStillBeOurs) {
        List<Runnable> toRun;
        synchronized (this) {
            if (state != State.VALID) {
                return;
            }
            state = State.LOST;
            lostReason = reason;
            toRun = List.copyOf(listeners);
            listeners.clear();
            cancelTimer();
        }
        assigner.forget(this);
        LOG.warn("lease on worker id {} lost: {}", workerId, reason);
        if (!toRun.isEmpty()) {
            assigner.runListeners(toRun, this);
        }
        if (rowMayStillBeOurs) {
            assigner.releaseInBackground(this); // owner-checked: frees the id early if the database is reachable again
        }
    }

    private void cancelTimer() {
        if (deadlineTimer != null) {
            deadlineTimer.cancel(false);
            deadlineTimer = null;
        }
    }

    private synchronized WorkerLeaseLostException lostException() {
        if (state == State.LOST) {
            return new WorkerLeaseLostException(workerId, Objects.requireNonNull(lostReason), null);
        }
        return new WorkerLeaseLostException(workerId, "the lease was closed", null);
    }

    @Override
    public String toString() {
        return "JdbcWorkerLease[worker id " + workerId + ", owner " + owner + ", " + state.name().toLowerCase(java.util.Locale.ROOT)
                + ", " + assigner.description + "]";
    }
}
