package io.distkit.lock.spi;

import java.lang.System.Logger.Level;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

/**
 * Declares leases lost, and runs what a loss sets off: the lease leaves the client, a release goes out
 * if the server may still hold it for us, the user's {@code onLost} listeners run on a library thread.
 *
 * <p>It also keeps the losses the backend reports ({@link LockBackend.LeaseEvents}) for a while, numbered
 * by an epoch, so that an acquisition whose reply was on its way when a loss was reported gets it too:
 * a session that ended meanwhile must not leave a handle that looks held.
 */
final class Losses<S> {

    private static final System.Logger LOG = System.getLogger(Losses.class.getName());
    private static final int MAX_RECENT = 64;

    private final EngineClient<S> client;
    private final AtomicLong epoch = new AtomicLong();
    private final ArrayDeque<ReportedLoss<S>> recent = new ArrayDeque<>(); // guarded by itself

    Losses(EngineClient<S> client) {
        this.client = client;
    }

    /**
     * Declares a lease lost. With {@code cleanUp} also asks the backend to drop it, for when the backend
     * may still hold it for us. Not when the backend said it is gone (a renewal answered "not held", a
     * reported session end): there is nothing of ours left to release.
     */
    void declare(Lease<S> lease, String reason, boolean cleanUp) {
        if (!lease.markLost(reason, cleanUp)) {
            return;
        }
        client.forget(lease);
        LOG.log(Level.WARNING, () -> "lock '" + lease.name + "' (token " + lease.token + ") lost: " + reason);
        if (cleanUp) {
            client.releases.afterLoss(lease, false);
        }
    }

    /**
     * The local deadline passed with no renewal confirmed. If renewals of unknown outcome were sent (failed,
     * timed out, still in flight), they may have reached the server and extended the lease by a whole
     * lease, so the lock could stay blocked that long after we gave it up: the owner-checked release goes
     * out at once, in the background. It is safe whoever holds the lock now: every backend releases only
     * if the lock still has this acquisition's owner value, which is unique to it, so it never frees a lock
     * another holder took meanwhile. Without such renewals the server-side lease runs out by itself
     * moments after the local deadline; a release there would gain little and would hide a server that
     * never expires anything (the contract's negative control).
     */
    void atDeadline(Lease<S> lease) {
        declare(lease, "no renewal succeeded before the lease deadline", lease.renewedUnknowingly());
    }

    /** The backend's {@link LockBackend.LeaseEvents}: every held lease it matches is lost. */
    void reported(Predicate<? super S> affected, String reason) {
        synchronized (recent) {
            recent.addLast(new ReportedLoss<>(epoch.incrementAndGet(), affected, reason));
            if (recent.size() > MAX_RECENT) {
                recent.removeFirst();
            }
        }
        for (Lease<S> lease : client.held) {
            if (affected.test(lease.backendLease)) {
                declare(lease, reason, false);
            }
        }
    }

    /** The epoch of the latest reported loss: an acquisition reads it when it sends its attempt. */
    long epoch() {
        return epoch.get();
    }

    /** Applies to a newly registered lease the reported losses that came after {@code sinceEpoch}. */
    void applyReported(Lease<S> lease, long sinceEpoch) {
        if (epoch.get() == sinceEpoch) {
            return;
        }
        synchronized (recent) {
            for (ReportedLoss<S> loss : recent) {
                if (loss.epoch > sinceEpoch && loss.affected.test(lease.backendLease)) {
                    declare(lease, loss.reason, false);
                }
            }
        }
    }

    /** Runs a user's {@code onLost} listener on the scheduler; what it throws is logged. */
    void runListener(Runnable listener) {
        Runnable guarded = () -> {
            try {
                listener.run();
            } catch (RuntimeException | Error e) {
                LOG.log(Level.ERROR, "an onLost listener threw", e);
            }
        };
        client.executeOrRun(guarded); // registered after close() shut our scheduler down: still runs, once
    }

    /** A loss the backend reported, kept briefly for acquisitions whose reply was in flight. */
    private record ReportedLoss<S>(long epoch, Predicate<? super S> affected, String reason) {}
}
