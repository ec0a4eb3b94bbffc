package io.distkit.lock.etcd;

/**
 * One etcd lease shared by every lock of a client with the same lease time, like etcd's own
 * {@code concurrency.Session}. A session that etcd reported gone is dead for good: keys put with it
 * were deleted with it, and the next acquire grants a new one.
 */
final class Session {

    final long leaseId;
    final long ttlSeconds;
    private volatile boolean dead;
    /** {@link System#nanoTime()} when the latest successful grant or keep-alive was sent. */
    private volatile long refreshedAt;

    Session(long leaseId, long ttlSeconds, long grantSentAt) {
        this.leaseId = leaseId;
        this.ttlSeconds = ttlSeconds;
        this.refreshedAt = grantSentAt;
    }

    boolean isDead() {
        return dead;
    }

    void markDead() {
        dead = true;
    }

    /**
     * Whether etcd has restarted this lease's time to live at or after {@code nanos}: only then does
     * the lease last a full TTL from that moment, as the engine's deadline assumes.
     */
    boolean refreshedSince(long nanos) {
        return refreshedAt - nanos >= 0;
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
        return "session " + hex() + " (" + ttlSeconds + " s" + (dead ? ", dead" : "") + ")";
    }
}
