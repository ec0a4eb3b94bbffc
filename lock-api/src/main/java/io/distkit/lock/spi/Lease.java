package io.distkit.lock.spi;

import io.distkit.lock.LockLostException;
import io.distkit.lock.LockOptions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * One acquisition held by the engine: the backend's lease record plus everything the engine keeps
 * about it. Shared by the reentrant {@link Hold}s of one thread.
 *
 * <p>State moves forward by CAS, from HELD to RELEASED or to LOST, or, when the client closes, from
 * HELD through CLOSING (its release sent, the answer awaited) to RELEASED or LOST; whoever wins a CAS
 * does the work of that transition (backend release, listeners), so nothing runs twice.
 */
final class Lease<S> {

    enum State { HELD, CLOSING, RELEASED, LOST }

    final EngineClient<S> client;
    final String name;
    final LockMode mode;
    final LockOptions options;
    final long token;
    final S backendLease;
    final @Nullable ReentrancyKey reentrancyKey;
    final long leaseNanos;
    final long renewIntervalNanos;

    private final AtomicReference<State> state = new AtomicReference<>(State.HELD);
    private final AtomicInteger holds = new AtomicInteger(1);
    private @Nullable List<Runnable> listeners; // guarded by this; most leases never get one
    private volatile long deadline;
    private volatile @Nullable String lostReason;
    /** Lost, but maybe still ours on the server (a renewal of unknown outcome): worth an owner-checked release. */
    private volatile boolean serverMayHold;
    /** The latest owner-checked release sent after the loss ({@link Releases#afterLoss}); null if none was. */
    volatile @Nullable CompletableFuture<Boolean> releaseAfterLoss;

    // written by the renewer's pass and by renewal replies; the pass is serialised
    volatile long nextRenewAt;
    volatile boolean renewing;
    /**
     * A renewal was sent whose outcome is unknown (it failed or answered nothing usable) and none has
     * succeeded since: the server may have extended the lease beyond the local deadline.
     */
    volatile boolean renewalUnconfirmed;

    /** Cheap hash for the client's concurrent sets: identity hash codes cost a header inflation per object. */
    private final int hash = java.util.concurrent.ThreadLocalRandom.current().nextInt();

    Lease(EngineClient<S> client, EngineLock<S> lock, @Nullable ReentrancyKey key, long token, S backendLease,
            long sentAt) {
        this.client = client;
        this.name = lock.name();
        this.mode = lock.mode;
        this.options = lock.options();
        this.token = token;
        this.backendLease = backendLease;
        this.reentrancyKey = key;
        this.leaseNanos = options.leaseTime().toNanos();
        this.renewIntervalNanos = options.renewInterval().toNanos();
        this.deadline = localDeadline(sentAt, leaseNanos);
        this.nextRenewAt = sentAt + renewIntervalNanos;
    }

    /** {@link LockEngine#driftNanos}: the local deadline is this much earlier than the server's expiry can be. */
    static long driftNanos(long leaseNanos) {
        return LockEngine.driftNanos(leaseNanos);
    }

    /** When a lease granted to a request sent at {@code sentAt} is over as far as this client knows. */
    static long localDeadline(long sentAt, long leaseNanos) {
        return sentAt + leaseNanos - driftNanos(leaseNanos);
    }

    long deadline() {
        return deadline;
    }

    /** Pushes the deadline to {@code sentAt + lease - drift} if that is later; never shortens it. */
    void extendFrom(long sentAt) {
        renewalUnconfirmed = false;
        long candidate = localDeadline(sentAt, leaseNanos);
        synchronized (this) {
            if (candidate - deadline > 0) {
                deadline = candidate;
            }
        }
        nextRenewAt = sentAt + renewIntervalNanos;
    }

    /** When the renewer next has to look at this lease: its renewal, or its deadline. */
    long nextEventAt() {
        long d = deadline;
        if (!options.autoRenew() || renewing) {
            return d;
        }
        long r = nextRenewAt;
        return r - d < 0 ? r : d;
    }

    State state() {
        return state.get();
    }

    @Nullable String lostReason() {
        return lostReason;
    }

    /**
     * Whether the server may keep this lease past its local deadline: a renewal is in flight, or one of
     * unknown outcome was sent since the last that succeeded.
     */
    boolean renewedUnknowingly() {
        return renewing || renewalUnconfirmed;
    }

    /** HELD and before the local deadline. Finding the deadline passed makes the loss official. */
    boolean isHeld() {
        if (state.get() != State.HELD) {
            return false;
        }
        if (client.ticker.read() - deadline >= 0) {
            client.losses.atDeadline(this);
            return false;
        }
        return true;
    }

    Instant deadlineInstant() {
        return client.clock.instant().plusNanos(deadline - client.ticker.read());
    }

    /** Adds a reentrant hold; false if the lease is no longer held or its last hold is being released. */
    boolean tryAddHold() {
        for (;;) {
            int h = holds.get();
            if (h <= 0 || !isHeld()) {
                return false;
            }
            if (holds.compareAndSet(h, h + 1)) {
                return true;
            }
        }
    }

    /**
     * Drops one hold (a user's release); the last one releases the lease in the backend and waits for the
     * answer ({@link Releases#forCaller}). A lost lease throws, after asking the backend once more to drop
     * what may still be ours there ({@link Releases#afterLoss}).
     */
    void releaseHold() {
        int left = holds.decrementAndGet();
        if (state.get() == State.LOST) {
            throw lostOnRelease();
        }
        if (left > 0) {
            return;
        }
        if (!state.compareAndSet(State.HELD, State.RELEASED)) {
            if (state.get() == State.LOST) {
                throw lostOnRelease();
            }
            return; // released, or being released, by close()
        }
        client.forget(this);
        boolean wasOurs = client.releases.forCaller(this);
        if (!wasOurs) {
            throw new LockLostException(name, "the lock was no longer held when released: its lease had expired"
                    + " or it was removed from " + client.backend.describe());
        }
    }

    private LockLostException lostOnRelease() {
        if (serverMayHold) {
            client.releases.afterLoss(this, true); // best effort, in the background: never hides the loss
        }
        return new LockLostException(name, "the lease was lost before release: " + lostReason);
    }

    /**
     * Drops one hold without waiting for the backend: for paths that must not block (a backend
     * callback thread) and whose caller never saw the handle. The last hold releases the lease in
     * the background.
     */
    void dropHoldQuietly() {
        if (holds.decrementAndGet() == 0) {
            releaseInBackground();
        }
    }

    /**
     * HELD to RELEASED without waiting for the backend, whose release goes out in the background: for an
     * acquisition nobody wants (its last hold dropped quietly, or registered after the client closed).
     */
    void releaseInBackground() {
        if (state.compareAndSet(State.HELD, State.RELEASED)) {
            client.forget(this);
            client.releases.inBackground(name, backendLease);
        }
    }

    /**
     * HELD to LOST; returns whether this call made the transition. Listeners are then fired. {@code
     * serverMayHold}: the server may still keep the lock for us, so a release after the loss is worth sending.
     */
    boolean markLost(String reason, boolean serverMayHold) {
        return toLost(State.HELD, reason, serverMayHold);
    }

    /** HELD to CLOSING: close() is releasing it; no longer held, not yet known to be released. */
    boolean beginClose() {
        if (!state.compareAndSet(State.HELD, State.CLOSING)) {
            return false;
        }
        client.forget(this);
        return true;
    }

    /** CLOSING to RELEASED: the backend confirmed close()'s release. */
    void closeReleased() {
        state.compareAndSet(State.CLOSING, State.RELEASED);
    }

    /** CLOSING to LOST: close() could not release it on the server; listeners are fired. */
    boolean closeFailed(String reason) {
        return toLost(State.CLOSING, reason, false); // the client is closed: nothing more is sent
    }

    private boolean toLost(State from, String reason, boolean mayHold) {
        if (state.get() != from) {
            return false;
        }
        // before the CAS, so whoever sees LOST sees a reason (two racing losers: either)
        lostReason = reason;
        serverMayHold = mayHold;
        if (!state.compareAndSet(from, State.LOST)) {
            return false;
        }
        List<Runnable> toRun;
        synchronized (this) {
            toRun = listeners;
            listeners = null;
        }
        if (toRun != null) {
            toRun.forEach(Runnable::run);
        }
        return true;
    }

    /**
     * Adds a loss hook: run once, on the thread that declares the loss (or at once if it is already
     * lost). Hooks must be quick and must not throw; {@link Hold} hands the user's listener to the
     * scheduler from its hook.
     */
    void addListener(Runnable hook) {
        synchronized (this) {
            if (state.get() != State.LOST) {
                if (listeners == null) {
                    listeners = new ArrayList<>(1);
                }
                listeners.add(hook);
                return;
            }
        }
        hook.run();
    }

    @Override
    public String toString() {
        return "Lease[" + name + " " + mode + " token=" + token + " " + state.get() + "]";
    }

    @Override
    public int hashCode() {
        return hash;
    }

    @Override
    public boolean equals(@Nullable Object other) {
        return this == other;
    }
}
