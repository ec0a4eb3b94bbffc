package io.distkit.lock.spi;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The client's one renewal pass. A single timer is armed for the earliest event of any held lease
 * (a renewal due, or a deadline); each pass sends one batch with every lease whose renewal is due
 * or due within half its interval, so locks taken at different moments fall into step and a client
 * holding many locks makes one round trip per interval. The same pass declares lost every lease
 * whose local deadline has passed, so a holder that cannot reach its backend is told in time.
 */
final class Renewer<S> {

    private static final System.Logger LOG = System.getLogger(Renewer.class.getName());
    private static final long NONE = Long.MAX_VALUE;

    private final EngineClient<S> client;
    private final Set<Lease<S>> leases;

    // guarded by this
    private Scheduler.@Nullable Cancellable armed;
    private long armedAt;
    private boolean stopped;

    /** @param leases the client's held leases, which the client adds to and removes from */
    Renewer(EngineClient<S> client, Set<Lease<S>> leases) {
        this.client = client;
        this.leases = leases;
    }

    /** Called after a lease joined the held set; a lease that leaves it is simply not seen by the next pass. */
    void track(Lease<S> lease) {
        armBy(lease.nextEventAt());
    }

    synchronized void stop() {
        stopped = true;
        if (armed != null) {
            armed.cancel();
            armed = null;
        }
    }

    /** Makes sure a pass runs no later than {@code at}. */
    private void armBy(long at) {
        synchronized (this) {
            if (stopped || (armed != null && at - armedAt >= 0)) {
                return;
            }
            if (armed != null) {
                armed.cancel();
            }
            armedAt = at;
            armed = client.scheduler.schedule(this::pass, at - client.ticker.read());
        }
    }

    /**
     * One pass. Serialised (a pass armed by {@link #track} may fire while another runs on the second
     * scheduler thread); quick, since renewals are only sent here. A failure cannot kill the renewer:
     * it is logged and the pass re-armed, or leases would never be declared lost.
     */
    synchronized void pass() {
        armed = null;
        try {
            passLocked();
        } catch (RuntimeException | Error e) {
            LOG.log(Level.ERROR, "renewal pass failed; retrying", e);
            armBy(client.ticker.read() + 10_000_000L);
        }
    }

    private void passLocked() {
        long now = client.ticker.read();
        List<Lease<S>> batch = new ArrayList<>();
        long next = NONE;
        for (Lease<S> lease : leases) {
            if (lease.state() != Lease.State.HELD) {
                leases.remove(lease);
                continue;
            }
            if (now - lease.deadline() >= 0) {
                client.losses.atDeadline(lease);
                continue;
            }
            if (lease.options.autoRenew() && !lease.renewing
                    && now - (lease.nextRenewAt - lease.renewIntervalNanos / 2) >= 0) {
                lease.renewing = true;
                batch.add(lease);
            }
            next = earlier(next, lease.nextEventAt());
        }
        if (!batch.isEmpty()) {
            send(batch, now);
        }
        if (next != NONE) {
            armBy(next);
        }
    }

    private void send(List<Lease<S>> batch, long sentAt) {
        List<S> backendLeases = new ArrayList<>(batch.size());
        List<java.time.Duration> leaseTimes = new ArrayList<>(batch.size());
        for (Lease<S> lease : batch) {
            backendLeases.add(lease.backendLease);
            leaseTimes.add(lease.options.leaseTime());
        }
        java.util.concurrent.CompletionStage<List<Boolean>> stage;
        try {
            stage = client.backend.renewAll(backendLeases, leaseTimes);
            if (stage == null) {
                throw new IllegalStateException(client.backend.describe() + " returned no renewal stage");
            }
        } catch (RuntimeException | Error e) {
            // even an Error: the batch must come out of "renewing", or it is never renewed again
            stage = java.util.concurrent.CompletableFuture.failedFuture(e);
        }
        stage.whenComplete((results, failure) -> onRenewed(batch, sentAt, results, failure));
    }

    private void onRenewed(List<Lease<S>> batch, long sentAt, @Nullable List<Boolean> results,
            @Nullable Throwable failure) {
        if (failure == null && (results == null || results.size() != batch.size())) {
            failure = new IllegalStateException(client.backend.describe() + " answered " + batch.size()
                    + " renewals with " + results);
            results = null;
        }
        long now = client.ticker.read();
        long next = NONE;
        if (failure != null) {
            LOG.log(Level.WARNING, () -> "renewal of " + batch.size() + " lock(s) on " + client.backend.describe()
                    + " failed; retrying before the lease deadline", failure);
        }
        for (int i = 0; i < batch.size(); i++) {
            Lease<S> lease = batch.get(i);
            if (lease.state() != Lease.State.HELD) {
                lease.renewing = false;
                if (lease.state() == Lease.State.LOST && results != null && Boolean.TRUE.equals(results.get(i))) {
                    client.releases.afterLoss(lease, false); // the renewal extended on the server a lease already declared lost
                }
                continue;
            }
            if (failure != null || results == null || results.get(i) == null) {
                // unknown (the whole batch, or this lease): keep the deadline, try again soon enough before it
                lease.renewalUnconfirmed = true;
                long retryIn = Math.max(1_000_000L, Math.min(lease.renewIntervalNanos, (lease.deadline() - now) / 2));
                lease.nextRenewAt = now + retryIn;
            } else if (!results.get(i)) {
                client.losses.declare(lease, "a renewal found the lock gone from " + client.backend.describe(), false);
            } else if (now - lease.deadline() >= 0) {
                // too late: the lease may have lapsed and been taken meanwhile; loss is final
                client.losses.declare(lease, "the renewal reply came after the lease deadline", true);
            } else {
                lease.extendFrom(sentAt);
            }
            lease.renewing = false;
            if (lease.state() == Lease.State.HELD) {
                next = earlier(next, lease.nextEventAt());
            }
        }
        if (next != NONE) {
            armBy(next);
        }
    }

    private static long earlier(long a, long b) {
        if (a == NONE) {
            return b;
        }
        return b - a < 0 ? b : a;
    }
}
