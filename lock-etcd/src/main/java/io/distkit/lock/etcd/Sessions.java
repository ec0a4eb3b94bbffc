package io.distkit.lock.etcd;

import io.etcd.jetcd.Lease;
import io.etcd.jetcd.lease.LeaseKeepAliveResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client's sessions: one shared etcd lease per lease time for auto-renewed locks, and a private lease
 * per acquisition of a lock that is not renewed ({@link #fresh}), so that no renewal of other locks keeps
 * it alive. Leases are granted when first needed and kept alive only by the engine's renewals and by
 * acquire attempts ({@link #keepAlive}). A lease etcd reports gone ends its session, which is reported
 * ({@link #onEnded}); the next {@link #current} grants a new one. {@link #close()} revokes what is left.
 *
 * <p><b>Keep-alive streams.</b> jetcd's {@code keepAliveOnce} opens a stream that closes only when its
 * reply comes, and a timeout here cannot cancel it. So a session has at most one keep-alive in flight;
 * a keep-alive asked for meanwhile is queued behind it (one at most, shared by everyone who asks
 * meanwhile) and sent when it completes, so that it restarts the lease no earlier than it was asked for.
 * Only a keep-alive unanswered for twice the command timeout is given up on (its stream may hang on a
 * paused member until the connection breaks) and another one sent: a session whose keep-alives hang
 * opens one stream per two command timeouts, not one per renewal pass and acquire attempt.
 */
final class Sessions {

    private static final Logger LOG = LoggerFactory.getLogger(Sessions.class);

    /** A keep-alive's reply and when its request was sent. */
    record KeepAlive(long sentAt, LeaseKeepAliveResponse response) {}

    private final Lease leases;
    private final EtcdCalls calls;
    /** The current shared session per TTL in seconds: a grant in flight, a live session, or a failed or dead one to replace. */
    private final Map<Long, CompletableFuture<Session>> current = new ConcurrentHashMap<>();
    /** Every session granted and not yet known dead, for close() to revoke. */
    private final Map<Long, Session> granted = new ConcurrentHashMap<>();
    private volatile Consumer<Session> onEnded = s -> {};
    private volatile boolean closed;
    /** After this long without a reply a keep-alive's stream counts as stuck, and another one may be sent. */
    private final long staleNanos;

    Sessions(Lease leases, EtcdCalls calls) {
        this.leases = leases;
        this.calls = calls;
        this.staleNanos = calls.timeout().multipliedBy(2).toNanos();
    }

    /** Called with each session found dead (etcd said its lease is gone), once per session. */
    void onEnded(Consumer<Session> listener) {
        this.onEnded = listener;
    }

    /** The live shared session for this TTL, granting one if there is none (or only a dead one). */
    CompletableFuture<Session> current(long ttlSeconds) {
        if (closed) {
            return CompletableFuture.failedFuture(new IllegalStateException("the lock client is closed"));
        }
        return current.compute(ttlSeconds, (ttl, existing) -> usable(existing) ? existing : grant(ttl, true));
    }

    /** A new private session, for one acquisition of a lock that is not renewed. */
    CompletableFuture<Session> fresh(long ttlSeconds) {
        if (closed) {
            return CompletableFuture.failedFuture(new IllegalStateException("the lock client is closed"));
        }
        long now = System.nanoTime();
        // private sessions whose lease ran out by itself need no revoke at close
        granted.values().removeIf(s -> !s.shared && s.ranOut(now));
        return grant(ttlSeconds, false);
    }

    private static boolean usable(@Nullable CompletableFuture<Session> session) {
        if (session == null || session.isCompletedExceptionally()) {
            return false;
        }
        return !session.isDone() || !session.join().isDead();
    }

    private CompletableFuture<Session> grant(long ttlSeconds, boolean shared) {
        long sentAt = System.nanoTime();
        return calls.call(() -> leases.grant(ttlSeconds)).thenApply(response -> {
            if (response.getTTL() > ttlSeconds) {
                // the server's minimum lease (1.5 x its election timeout) is longer: a crashed holder's locks
                // stay that long; the engine still counts with the shorter lease, which is safe
                LOG.warn("{} granted a lease of {} s for a lease time of {} s: its minimum lease is longer", calls.describe(),
                        response.getTTL(), ttlSeconds);
            }
            Session session = new Session(response.getID(), ttlSeconds, shared, sentAt);
            granted.put(session.leaseId, session);
            if (closed) {
                revokeQuietly(session); // close() may have swept before this grant arrived
            }
            return session;
        });
    }

    /**
     * One keep-alive for the session, sent no earlier than this call: true if etcd restarted its time to
     * live (and it counts as refreshed from the moment the request was sent), false if the lease is gone,
     * which ends the session; exceptionally if etcd could not say within the command timeout.
     */
    CompletableFuture<Boolean> keepAlive(Session session) {
        if (session.isDead()) {
            return CompletableFuture.completedFuture(false);
        }
        CompletableFuture<KeepAlive> reply;
        synchronized (session) {
            CompletableFuture<?> inFlight = session.keepAliveInFlight;
            if (inFlight == null || inFlight.isDone() || System.nanoTime() - session.keepAliveSentAt > staleNanos) {
                // none in flight, or one so old that its stream is stuck (a paused member): a new one, and
                // whoever asks meanwhile queues behind this one, not behind the stuck one
                session.keepAliveQueued = null;
                reply = send(session);
            } else if (session.keepAliveQueued != null) {
                reply = session.keepAliveQueued; // not sent yet, so later than now: it serves this call too
            } else {
                CompletableFuture<KeepAlive> queued = new CompletableFuture<>();
                session.keepAliveQueued = queued; // before the callback below, which may run at once
                inFlight.whenComplete((ignored, failure) -> {
                    CompletableFuture<KeepAlive> sent;
                    synchronized (session) {
                        if (session.keepAliveQueued == queued) {
                            session.keepAliveQueued = null; // from now on nobody joins it: it is being sent
                        }
                        sent = send(session);
                    }
                    sent.whenComplete((answer, sendFailure) -> {
                        if (sendFailure != null) {
                            queued.completeExceptionally(sendFailure);
                        } else {
                            queued.complete(answer);
                        }
                    });
                });
                reply = queued;
            }
        }
        return calls.bound(reply).handle((KeepAlive answer, @Nullable Throwable failure) -> {
            if (failure != null) {
                if (EtcdCalls.isNotFound(failure)) {
                    ended(session);
                    return false;
                }
                throw new CompletionException(EtcdCalls.unwrap(failure));
            }
            if (answer.response().getTTL() <= 0) {
                ended(session);
                return false;
            }
            session.refreshed(answer.sentAt());
            return true;
        });
    }

    // guarded by session
    private CompletableFuture<KeepAlive> send(Session session) {
        long sentAt = System.nanoTime();
        CompletableFuture<LeaseKeepAliveResponse> started;
        try {
            started = leases.keepAliveOnce(session.leaseId);
        } catch (RuntimeException e) {
            started = CompletableFuture.failedFuture(e);
        }
        session.keepAliveInFlight = started;
        session.keepAliveSentAt = sentAt;
        return started.thenApply(response -> new KeepAlive(sentAt, response));
    }

    /** The session's lease is gone (expired, revoked): never use it again; reported once. */
    void ended(Session session) {
        granted.remove(session.leaseId, session);
        if (session.markDead() && !closed) {
            try {
                onEnded.accept(session);
            } catch (RuntimeException e) {
                LOG.warn("reporting the end of {} on {} failed", session, calls.describe(), e);
            }
        }
    }

    /** A private session whose acquisition is over (released or abandoned): revoke it now, in the background. */
    void retire(Session session) {
        if (!session.shared) {
            revokeQuietly(session);
        }
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
        session.markDead(); // ours to end: not a loss to report
        granted.remove(session.leaseId, session);
        return calls.call(() -> leases.revoke(session.leaseId)).handle((ok, failure) -> {
            if (failure != null && !EtcdCalls.isNotFound(failure)) {
                LOG.warn("could not revoke {} on {}; its keys stay until the lease runs out ({} s): {}", session,
                        calls.describe(), session.ttlSeconds, EtcdCalls.unwrap(failure).toString());
            }
            return null;
        });
    }
}
