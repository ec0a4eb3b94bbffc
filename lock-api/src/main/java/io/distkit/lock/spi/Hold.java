package io.distkit.lock.spi;

import io.distkit.lock.LockHandle;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/** One handle on a {@link Lease}: the first acquisition or one reentrant re-acquisition. */
final class Hold<S> implements LockHandle {

    private final Lease<S> lease;
    private final AtomicBoolean released = new AtomicBoolean();

    Hold(Lease<S> lease) {
        this.lease = lease;
    }

    @Override
    public String lockName() {
        return lease.name;
    }

    @Override
    public long fencingToken() {
        return lease.token;
    }

    @Override
    public boolean isHeld() {
        return !released.get() && lease.isHeld();
    }

    @Override
    public Instant leaseDeadline() {
        return lease.deadlineInstant();
    }

    @Override
    public void onLost(Runnable listener) {
        Objects.requireNonNull(listener, "listener");
        lease.addListener(() -> {
            if (!released.get()) { // judged at the loss: a release after it must not cancel the listener
                lease.client.losses.runListener(listener);
            }
        });
    }

    @Override
    public Optional<String> lostReason() {
        lease.isHeld(); // makes a passed deadline a loss
        return lease.state() == Lease.State.LOST ? Optional.ofNullable(lease.lostReason()) : Optional.empty();
    }

    @Override
    public void release() {
        lease.isHeld(); // declares a deadline the renewer has not reached yet: a loss before this release
        if (released.compareAndSet(false, true)) {
            lease.releaseHold();
        }
    }

    /** Gives the hold back without waiting or throwing: for a handle its caller never received. */
    void abandon() {
        if (released.compareAndSet(false, true)) {
            lease.dropHoldQuietly();
        }
    }

    @Override
    public void close() {
        release();
    }

    @Override
    public String toString() {
        return "LockHandle[" + lease.name + " token=" + lease.token + (released.get() ? " released" : "") + "]";
    }
}
