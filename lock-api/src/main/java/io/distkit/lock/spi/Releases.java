package io.distkit.lock.spi;

import io.distkit.lock.LockBackendException;
import java.lang.System.Logger.Level;
import java.util.Collection;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Every release the engine sends to its backend goes through here, by one of three paths. Each is
 * owner-checked by the backend, so each is safe whoever holds the lock by the time it arrives.
 *
 * <ul>
 *   <li>{@link #forCaller}: a user's {@code release()} of a lease's last hold ({@link Lease#releaseHold}).
 *       Sent through {@link LockBackend#releaseOnCallerThread}; the caller's thread waits for the answer,
 *       at most the operation timeout and not interruptibly. The answer is the caller's ("no longer
 *       ours" becomes a {@code LockLostException} there); a failure or no answer is thrown.
 *   <li>{@link #inBackground}: every release nobody waits for: a grant that came too late to use
 *       ({@link AcquireOp}), a hold whose caller never received it or a grant registered after close
 *       ({@link Lease#releaseInBackground}), and the releases of {@link CloseSequence}. Never throws:
 *       failures are logged (the server-side lease then runs out by itself). Tracked until answered, so
 *       that close waits for it before it closes the backend; the answer is returned for callers that
 *       act on it.
 *   <li>{@link #afterLoss}: {@link #inBackground} for a lease already declared lost that the server may
 *       still keep for us (renewals of unknown outcome went out before the deadline, or a renewal landed
 *       after the loss), so that the lock frees early. The latest is kept on the lease; the owner's
 *       {@code release()} of the lost lease sends it again only if that one failed.
 * </ul>
 */
final class Releases<S> {

    private static final System.Logger LOG = System.getLogger(Releases.class.getName());

    private final EngineClient<S> client;
    private final SpinWait callerSpin;
    private final Set<CompletableFuture<?>> inFlight = ConcurrentHashMap.newKeySet();

    Releases(EngineClient<S> client, long spinWaitNanos) {
        this.client = client;
        this.callerSpin = new SpinWait(spinWaitNanos);
    }

    /**
     * The release of a user's {@code release()}: waits for the backend to confirm, at most the operation
     * timeout. Not interruptible: a release in a {@code finally} or try-with-resources of an interrupted
     * thread must still happen (the interrupt status is kept).
     *
     * @return whether the lease was still ours
     * @throws io.distkit.lock.LockException on failure or no answer in time
     */
    boolean forCaller(Lease<S> lease) {
        CompletionStage<Boolean> sent;
        try {
            sent = client.backend.releaseOnCallerThread(lease.backendLease);
        } catch (RuntimeException e) {
            sent = CompletableFuture.failedFuture(e);
        }
        CompletableFuture<Boolean> stage = sent.toCompletableFuture();
        callerSpin.spin(stage);
        boolean interrupted = false;
        long end = client.ticker.read() + client.operationTimeout.toNanos();
        try {
            while (true) {
                try {
                    return stage.get(Math.max(0, end - client.ticker.read()), TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (TimeoutException e) {
                    throw new LockBackendException(lease.name, "release got no answer from "
                            + client.backend.describe() + " within " + client.operationTimeout
                            + "; the server-side lease will run out by itself", e);
                } catch (ExecutionException e) {
                    throw client.backendFailure(lease.name, "release", e.getCause());
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * A release nobody waits for. Failures are logged; the returned stage completes with the backend's
     * answer or its failure and is tracked until then (see {@link #inFlight()}).
     */
    CompletableFuture<Boolean> inBackground(String lockName, S backendLease) {
        CompletableFuture<Boolean> started;
        try {
            started = client.backend.release(backendLease).toCompletableFuture();
        } catch (RuntimeException e) {
            started = CompletableFuture.failedFuture(e);
        }
        CompletableFuture<Boolean> stage = started;
        inFlight.add(stage);
        stage.whenComplete((ignored, failure) -> {
            inFlight.remove(stage);
            if (failure != null) {
                logCleanupFailure(lockName, failure);
            }
        });
        return stage;
    }

    /**
     * A background release of a lease declared lost that the server may still hold for us, remembered on
     * the lease. With {@code onOwnersRelease} (the owner released the lost lease) it is sent only while
     * the client is open and only if the last one failed: none on its way, none answered (the first may
     * have failed along with the renewals, say when the backend was unreachable).
     */
    void afterLoss(Lease<S> lease, boolean onOwnersRelease) {
        if (onOwnersRelease) {
            CompletableFuture<Boolean> last = lease.releaseAfterLoss;
            if (client.isClosed() || (last != null && (!last.isDone() || !last.isCompletedExceptionally()))) {
                return;
            }
        }
        lease.releaseAfterLoss = inBackground(lease.name, lease.backendLease);
    }

    /** The background releases not answered yet: what close waits for before the backend goes. */
    Collection<CompletableFuture<?>> inFlight() {
        return inFlight;
    }

    /** Logs a failed background cleanup (a release, an acquisition's finish): the lease runs out by itself. */
    void logCleanupFailure(String lockName, Throwable failure) {
        LOG.log(Level.DEBUG, () -> "cleanup of lock '" + lockName + "' on " + client.backend.describe()
                + " failed; the server-side lease will run out by itself", failure);
    }
}
