package io.distkit.lock.etcd;

import io.etcd.jetcd.Lease;
import io.etcd.jetcd.lease.LeaseKeepAliveResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client's sessions: one etcd lease per lease time, granted when first needed and kept alive only
 * by the engine's renewals and by acquire attempts ({@link #keepAlive}). A lease etcd reports gone ends
 * its session; the next {@link #current} grants a new one. {@link #close()} revokes what is left.
 */
final class Sessions {

    private static final Logger LOG = LoggerFactory.getLogger(Sessions.class);

    private final Lease leases;
    private final EtcdCalls calls;
    /** The current session per TTL in seconds: a grant in flight, a live session, or a failed or dead one to replace. */
    private final Map<Long, CompletableFuture<Session>> current = new ConcurrentHashMap<>();
    /** Every session granted and not yet known dead, for close() to revoke. */
    private final Map<Long, Session> granted = new ConcurrentHashMap<>();
    private volatile boolean closed;

    Sessions(Lease leases, EtcdCalls calls) {
        this.leases = leases;
        this.calls = calls;
    }

    /** The live session for this TTL, granting one if there is none (or only a dead one). */
    CompletableFuture<Session> current(long ttlSeconds) {
        if (closed) {
            return CompletableFuture.failedFuture(new IllegalStateException("the lock client is closed"));
        }
        return current.compute(ttlSeconds, (ttl, existing) -> usable(existing) ? existing : grant(ttl));
    }

    private static boolean usable(@org.jspecify.annotations.Nullable CompletableFuture<Session> session) {
        if (session == null || session.isCompletedExceptionally()) {
            return false;
        }
        return !session.isDone() || !session.join().isDead();
    }

    private CompletableFuture<Session> grant(long ttlSeconds) {
        long sentAt = System.nanoTime();
        return calls.call(() -> leases.grant(ttlSeconds)).thenApply(response -> {
            if (response.getTTL() > ttlSeconds) {
                // the server's minimum lease (1.5 x its election timeout) is longer: a crashed holder's locks
                // stay that long; the engine still counts with the shorter lease, which is safe
                LOG.warn("{} granted a lease of {} s for a lease time of {} s: its minimum lease is longer", calls.describe(),
                        response.getTTL(), ttlSeconds);
            }
            Session session = new Session(response.getID(), ttlSeconds, sentAt);
            granted.put(session.leaseId, session);
            if (closed) {
                revokeQuietly(session); // close() may have swept before this grant arrived
            }
            return session;
        });
    }

    /**
     * One keep-alive for the session: true if etcd restarted its time to live (and it counts as refreshed
     * from the moment this was sent), false if the lease is gone, which ends the session; exceptionally if
     * etcd could not say.
     */
    CompletableFuture<Boolean> keepAlive(Session session) {
        if (session.isDead()) {
            return CompletableFuture.completedFuture(false);
        }
        long sentAt = System.nanoTime();
        return calls.call(() -> leases.keepAliveOnce(session.leaseId)).handle((LeaseKeepAliveResponse response,
                @org.jspecify.annotations.Nullable Throwable failure) -> {
            if (failure != null) {
                if (EtcdCalls.isNotFound(failure)) {
                    ended(session);
                    return false;
                }
                throw new java.util.concurrent.CompletionException(EtcdCalls.unwrap(failure));
            }
            if (response.getTTL() <= 0) {
                ended(session);
                return false;
            }
            session.refreshed(sentAt);
            return true;
        });
    }

    /** The session's lease is gone (expired, revoked): never use it again. */
    void ended(Session session) {
        session.markDead();
        granted.remove(session.leaseId, session);
    }

    /** Revokes every session, all at once, waiting at most the command timeout; failures are logged. */
    void close() {
        closed = true;
        List<CompletableFuture<?>> revokes = new ArrayList<>();
        for (Session session : granted.values()) {
            revokes.add(revokeQuietly(session));
        }
        try {
            CompletableFuture.allOf(revokes.toArray(CompletableFuture[]::new))
                    .get(calls.timeout().toNanos() + TimeUnit.MILLISECONDS.toNanos(100), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            // each revoke logged its own failure
        }
    }

    private CompletableFuture<?> revokeQuietly(Session session) {
        ended(session);
        return calls.call(() -> leases.revoke(session.leaseId)).handle((ok, failure) -> {
            if (failure != null && !EtcdCalls.isNotFound(failure)) {
                LOG.warn("could not revoke {} on {}; its keys stay until the lease runs out ({} s): {}", session,
                        calls.describe(), session.ttlSeconds, EtcdCalls.unwrap(failure).toString());
            }
            return null;
        });
    }
}
