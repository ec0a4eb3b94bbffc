package io.distkit.lock.spi;

import io.distkit.lock.LockException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * Closes one client, once ({@link EngineClient#close()} makes sure of that), in steps, each with its own
 * share of the operation timeout, so that one that hangs cannot starve the next: (1) waiters fail and
 * attempts in flight get up to half of it to settle; (2) the releases of every lock still held are sent
 * whatever came of that, each lease moving from HELD to CLOSING; (3) they and the other background
 * releases get the rest; (4) the backend is closed, and the scheduler if the client owns it. A lease whose
 * release the backend confirms is released; one it refuses, fails or leaves unanswered by the end is lost
 * (its listeners run).
 */
final class CloseSequence<S> {

    private static final System.Logger LOG = System.getLogger(CloseSequence.class.getName());

    private final EngineClient<S> client;

    CloseSequence(EngineClient<S> client) {
        this.client = client;
    }

    void run() {
        long start = client.ticker.read();
        long budget = client.operationTimeout.toNanos();
        boolean interrupted = false;
        try {
            // 1. waiters give up; attempts in flight settle (a late grant is given back by its op)
            LockException closing = client.closedWhileWaiting();
            List<CompletableFuture<?>> settling = new ArrayList<>();
            for (AcquireOp<S> op : client.pending) {
                op.result.completeExceptionally(closing);
                settling.add(op.settled);
            }
            interrupted |= awaitAll(settling, start + budget / 2);
            if (!settling.stream().allMatch(CompletableFuture::isDone)) {
                LOG.log(Level.WARNING, () -> "close of " + client.backend.describe() + ": acquire attempts still in"
                        + " flight after " + Duration.ofNanos(budget / 2) + "; what they bring back is given back");
            }
            // 2. every lock still held is released, whatever step 1 came to
            client.renewer.stop();
            List<Lease<S>> releasing = new ArrayList<>();
            List<CompletableFuture<?>> answers = new ArrayList<>();
            for (Lease<S> lease : client.held) {
                if (lease.beginClose()) {
                    releasing.add(lease);
                    answers.add(client.releases.inBackground(lease.name, lease.backendLease)
                            .whenComplete((wasOurs, failure) -> answered(lease, wasOurs, failure)));
                }
            }
            // 3. the releases and the other background releases finish, within what is left
            answers.addAll(client.releases.inFlight());
            interrupted |= awaitAll(answers, start + budget);
            for (Lease<S> lease : releasing) {
                if (lease.closeFailed("the client's close got no answer to its release from "
                        + client.backend.describe() + " within the operation timeout (" + client.operationTimeout
                        + "); the server-side lease runs out by itself")) {
                    logLost(lease);
                }
            }
        } finally {
            client.renewer.stop();
            try {
                client.backend.close(); // 4. only now: nothing of ours is in flight any more (or the time is up)
            } finally {
                if (client.ownsScheduler) {
                    client.scheduler.shutdown(); // listeners already handed to it still run
                }
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** The backend's answer to a release of step 2: CLOSING to released, or to lost if it could not be done. */
    private void answered(Lease<S> lease, @Nullable Boolean wasOurs, @Nullable Throwable failure) {
        if (failure == null && Boolean.TRUE.equals(wasOurs)) {
            lease.closeReleased();
            return;
        }
        String reason = failure == null
                ? "the client's close found the lock no longer held: its lease had expired or it was removed from "
                        + client.backend.describe()
                : "the client's close could not release it on " + client.backend.describe() + ": "
                        + client.backendFailure(lease.name, "release", failure).getMessage()
                        + "; the server-side lease runs out by itself";
        if (lease.closeFailed(reason)) {
            logLost(lease);
        }
    }

    private static void logLost(Lease<?> lease) {
        LOG.log(Level.WARNING, () -> "lock '" + lease.name + "' (token " + lease.token + ") lost on close: "
                + lease.lostReason());
    }

    /**
     * Waits until every one of {@code work} is done, failed ones included, or until {@code end} on the
     * ticker. Not interruptible, as close must still release: returns whether the thread was interrupted
     * meanwhile, for the caller to restore the flag.
     */
    private boolean awaitAll(List<? extends CompletableFuture<?>> work, long end) {
        CompletableFuture<Void> all = CompletableFuture.allOf(work.stream()
                .map(each -> each.handle((ignored, failure) -> null)).toArray(CompletableFuture[]::new));
        boolean interrupted = false;
        while (true) {
            try {
                all.get(Math.max(0, end - client.ticker.read()), TimeUnit.NANOSECONDS);
                return interrupted;
            } catch (InterruptedException e) {
                interrupted = true;
            } catch (TimeoutException e) {
                return interrupted;
            } catch (ExecutionException | CancellationException e) {
                throw new IllegalStateException("unreachable: every stage was made to succeed", e);
            }
        }
    }
}
