package io.distkit.id.backends;

import io.distkit.common.DaemonThreads;
import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import io.distkit.lock.LockHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A worker id held as a lock by a {@link LockedWorkerIdAssigner}. Valid while this lease is open and its
 * lock is held: the lock engine ends the hold at the local deadline or when a renewal finds the lock
 * gone, and runs the loss listeners; this class adds the one loss the engine cannot see, a save of the
 * mark that the store refused because a later holder has the worker id.
 */
public final class LockedWorkerLease implements WorkerLease {

    private static final Logger LOG = LoggerFactory.getLogger(LockedWorkerLease.class);

    /**
     * OPEN until one of: LOST (the lock's loss, seen by a listener or by close), REFUSED_BY_STORE (a save the
     * store refused), CLOSED (closed while nothing was lost: listeners never run). Set under the monitor.
     */
    private enum State { OPEN, LOST, REFUSED_BY_STORE, CLOSED }

    private final LockedWorkerIdAssigner assigner;
    private final int workerId;
    private final LockHandle handle;
    private final long lastTimestamp;

    // guarded by this
    private State state = State.OPEN;
    private boolean closeCalled;
    private @Nullable String refusal;
    private final List<Runnable> listeners = new ArrayList<>();

    LockedWorkerLease(LockedWorkerIdAssigner assigner, int workerId, LockHandle handle, long lastTimestamp) {
        this.assigner = assigner;
        this.workerId = workerId;
        this.handle = handle;
        this.lastTimestamp = lastTimestamp;
    }

    @Override
    public int workerId() {
        return workerId;
    }

    /** The name of the lock that holds the worker id. */
    public String lockName() {
        return handle.lockName();
    }

    /**
     * The fencing token of the lock that holds the worker id: greater than that of every earlier holder of
     * the worker id. The mark is fenced with it; pass it on where ids feed a store that can fence too.
     */
    public long fencingToken() {
        return handle.fencingToken();
    }

    @Override
    public long lastTimestamp() {
        return lastTimestamp;
    }

    /** Also asks the lock, which declares the loss at its local deadline, whatever the threads do. */
    @Override
    public boolean isValid() {
        synchronized (this) {
            if (state != State.OPEN || closeCalled) {
                return false;
            }
        }
        return handle.isHeld();
    }

    @Override
    public void saveLastTimestamp(long timestamp) {
        if (timestamp < 0) {
            throw new IllegalArgumentException("timestamp must not be negative, was " + timestamp);
        }
        if (!isValid()) {
            throw lostException();
        }
        if (!assigner.marks().save(handle.lockName(), handle.fencingToken(), timestamp)) {
            refused("a later holder has taken worker id " + workerId + " in " + assigner.marks().describe()
                    + " (its lock expired, or an operator changed it); the last timestamp " + timestamp
                    + " was not saved");
            throw lostException();
        }
    }

    @Override
    public void onLost(Runnable listener) {
        Objects.requireNonNull(listener, "listener");
        Runnable once = new Once(listener);
        boolean lostAlready = handle.lostReason().isPresent(); // notices a passed deadline too
        boolean runNow;
        synchronized (this) {
            if (state == State.CLOSED) {
                return; // closed normally: never runs
            }
            if (state == State.OPEN && lostAlready) {
                state = State.LOST;
            }
            runNow = state != State.OPEN;
            if (!runNow) {
                listeners.add(once);
            }
        }
        if (runNow) { // on a thread of ours: the engine's may be gone with a closed client
            DaemonThreads.start("worker-lease", once);
            return;
        }
        handle.onLost(() -> lostByLock(once));
    }

    /** The lock's loss listener: runs {@code once} unless the lease was closed before the loss. */
    private void lostByLock(Runnable once) {
        synchronized (this) {
            if (state == State.CLOSED) {
                return;
            }
            if (state == State.OPEN) {
                state = State.LOST;
            }
        }
        once.run();
    }

    /** Stops the lease and releases its lock; never throws because the backend is unreachable. */
    @Override
    public void close() {
        if (closeLocally()) {
            LockedWorkerIdAssigner.releaseQuietly(handle);
        }
    }

    /**
     * Ends the lease, once; true for the call that should release the lock. A lease still held turns CLOSED
     * and its listeners will not run; one already lost (by the lock, or refused by the store) stays lost,
     * with its reason, and listeners not run yet still run: the loss came first.
     */
    boolean closeLocally() {
        boolean lostFirst = handle.lostReason().isPresent(); // notices a passed deadline too
        synchronized (this) {
            if (closeCalled) {
                return false;
            }
            closeCalled = true;
            if (state == State.OPEN) { // a loss a listener saw meanwhile has made it LOST already
                state = lostFirst ? State.LOST : State.CLOSED;
                if (!lostFirst) {
                    listeners.clear();
                }
            }
        }
        assigner.forget(this);
        return true;
    }

    LockHandle handle() {
        return handle;
    }

    /** The store refused a save: the lease ends here, the lock is given up, the listeners run on a library thread. */
    private void refused(String reason) {
        List<Runnable> toRun;
        synchronized (this) {
            if (state != State.OPEN || closeCalled) {
                return;
            }
            state = State.REFUSED_BY_STORE;
            refusal = reason;
            toRun = List.copyOf(listeners);
            listeners.clear();
        }
        assigner.forget(this);
        LOG.warn("lease on worker id {} lost: {}", workerId, reason);
        DaemonThreads.start("worker-lease", () -> {
            LockedWorkerIdAssigner.releaseQuietly(handle); // owner-checked: it touches no later holder's lock
            toRun.forEach(Runnable::run);
        });
    }

    private WorkerLeaseLostException lostException() {
        String reason;
        synchronized (this) {
            reason = state == State.REFUSED_BY_STORE ? refusal
                    : state == State.CLOSED ? "the lease was closed" : null;
        }
        if (reason == null) {
            reason = handle.lostReason().map(lost -> "its lock " + handle.lockName() + " was lost: " + lost)
                    .orElse("the lease was closed");
        }
        return new WorkerLeaseLostException(workerId, reason, null);
    }

    @Override
    public String toString() {
        State now;
        synchronized (this) {
            now = state;
        }
        String shown = now == State.OPEN ? (handle.isHeld() ? "valid" : "lost") : now.name().toLowerCase(Locale.ROOT);
        return "WorkerLease[worker id " + workerId + ", lock " + handle.lockName() + " token " + handle.fencingToken()
                + ", " + shown + ", " + assigner.marks().describe() + "]";
    }

    /** A listener run at most once, whichever of the engine and the store reports the loss; one that throws is logged. */
    private final class Once implements Runnable {
        private final Runnable listener;
        private final AtomicBoolean ran = new AtomicBoolean();

        Once(Runnable listener) {
            this.listener = listener;
        }

        @Override
        public void run() {
            if (ran.compareAndSet(false, true)) {
                try {
                    listener.run();
                } catch (RuntimeException | Error e) {
                    LOG.error("a loss listener of {} threw", LockedWorkerLease.this, e);
                }
            }
        }
    }
}
