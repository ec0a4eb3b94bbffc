package io.distkit.id.backends.redis;

/**
 * What keeps Redis from handing out ids again after it lost writes. A Redis server restarted without
 * persistence starts its counters from zero (or from the last snapshot), and one that persists with
 * {@code appendfsync everysec} loses up to a second of increments in a crash: the next {@code INCRBY} then
 * returns values that were already handed out, and segments, counters and worker-id marks repeat (failure
 * scenario F19).
 */
public enum RewindGuard {

    /**
     * The default. The server must be a master that appends every write to its AOF and syncs it to disk before
     * replying ({@code appendonly yes}, {@code appendfsync always}), so an increment it acknowledged survives a
     * crash and a restart, and that does not evict keys ({@code maxmemory-policy noeviction} when {@code
     * maxmemory} is set). Checked when the store connects and again after every reconnect, before any reply
     * that crossed the reconnect is used: a server restarted without these settings, a replica, or another
     * process that was already running at the address (a failover: a promoted replica may have missed the
     * latest increments) is refused with an {@link io.distkit.id.IdSourceUnavailableException} that says which
     * setting is missing. On top of that each client checks that every range it gets starts above every one it
     * saw before, so a rewind it can see is an error, never an id.
     *
     * <p>Cost: every write waits for an {@code fsync} on the server (on an SSD some tens of microseconds; on
     * a disk that does not cache writes, milliseconds). Segment allocators and worker-id marks write rarely;
     * a counter pays it on every id ({@code nextIds(n)} once per batch).
     */
    REQUIRE_FSYNC_ALWAYS,

    /**
     * No check of persistence, eviction or failover (a replica is still refused: it cannot take the writes): for
     * a server whose data loss you accept, or that you protect otherwise. After a restart without persistence,
     * ids repeat.
     */
    NONE
}
