package io.distkit.lock.etcd;

import org.jspecify.annotations.Nullable;

/**
 * One etcd lease. A shared session is used by every auto-renewed lock of a client with the same lease time,
 * like etcd's own {@code concurrency.Session}; a private one by one acquisition of a lock that is not
 * renewed, so that nothing else keeps its lease alive. A session that etcd reported gone is dead for good:
 * keys put with it were deleted with it, and the next acquire grants a new one.
 */
final class Session {

    final long leaseId;
    final long ttlSeconds;
    /** Whether other acquisitions may use it (auto-renewed locks); false: one acquisition's own. */
    final boolean shared;
    private volatile boolean dead;
    // guarded by this: the keep-alive stream in flight (jetcd's own future) and the one queued behind it
    java.util.concurrent.@Nullable CompletableFuture<?> keepAliveInFlight;
    java.util.concurrent.@Nullable CompletableFuture<Sessions.KeepAlive> keepAliveQueued;
    long keepAliveSentAt;
    /** {@link System#nanoTime()} when the latest successful grant or keep-alive was sent. */
    private volatile long refreshedAt;

    Session(long leaseId, long ttlSeconds, boolean shared, long grantSentAt) {
        this.leaseId = leaseId;
        this.ttlSeconds = ttlSeconds;
        this.shared = shared;
        this.refreshedAt = grantSentAt;
    }

    boolean isDead() {
        return dead;
    }

    /** Marks the session dead; true if it was alive until now. */
    synchronized boolean markDead() {
        boolean wasAlive = !dead;
        dead = true;
        return wasAlive;
    }

    /** Whether its lease has run out here even if nobody said so: no refresh for longer than its TTL. */
    boolean ranOut(long now) {
        return now - refreshedAt > java.util.concurrent.TimeUnit.SECONDS.toNanos(ttlSeconds + 1);
    }

    /**
     * Whether etcd has restarted this lease's time to live at or after {@code nanos}: only then does
     * the lease last a full TTL from that moment, as the engine's deadline assumes.
     */
    boolean refreshedSince(long nanos) {
        return refreshedAt - nanos >= 0;
    }

    /** {@link System#nanoTime()} when the latest successful grant or keep-alive was sent. */
    long refreshedAt() {
        return refreshedAt;
    }

    void refreshed(long sentAt) {
        synchronized (this) {
            if (sentAt - refreshedAt > 0) {
                refreshedAt = sentAt;
            }
        }
    }

    /** The lease id as the lock keys show it. */
    String hex() {
        return Long.toHexString(leaseId);
    }

    @Override
    public String toString() {
        return "session " + hex() + " (" + ttlSeconds + " s" + (shared ? "" : ", private") + (dead ? ", dead" : "") + ")";
    }
}
