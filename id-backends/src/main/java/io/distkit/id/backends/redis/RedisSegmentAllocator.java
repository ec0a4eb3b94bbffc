package io.distkit.id.backends.redis;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.Segment;
import io.distkit.id.SegmentAllocator;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Segments of ids from Redis: each tag is one integer key ({@code <prefix>segment:<tag>}) holding the last id
 * reserved, and a segment of {@code step} ids is one {@code INCRBY step}: the range {@code (value - step,
 * value]}. The first segment of a tag starts at 1. An {@code INCRBY} is atomic on the server, so segments never
 * overlap across clients; one whose reply was lost is a gap.
 *
 * <p>Redis acknowledges an {@code INCRBY} before it is on disk unless the server runs with {@code appendfsync
 * always}; a crash or a restart without persistence would then hand out ranges again. {@link
 * RewindGuard#REQUIRE_FSYNC_ALWAYS}, the default, refuses such a server, a replica and a failover, and checks
 * that every range starts above every range of the tag this allocator saw before it sent the request.
 *
 * <p>Made by {@link RedisIdStore#segmentAllocator()}, which owns the connection. Thread-safe.
 */
public final class RedisSegmentAllocator implements SegmentAllocator {

    private final RedisIdServer server;
    private final String prefix;
    /** The highest end (exclusive) of a range seen per tag: a range must start at or above it. */
    private final ConcurrentMap<String, Long> seen = new ConcurrentHashMap<>();

    RedisSegmentAllocator(RedisIdServer server, String prefix) {
        this.server = Objects.requireNonNull(server, "server");
        this.prefix = prefix;
    }

    /** The Redis key of {@code tag}'s counter. */
    public String key(String tag) {
        return prefix + "segment:" + SegmentAllocator.checkTag(tag);
    }

    /**
     * @throws IdGenerationException if the key holds something other than an integer, or the increment would
     *     pass {@link Long#MAX_VALUE}
     * @throws IdSourceUnavailableException if the server cannot be reached, or could have rewound
     */
    @Override
    public Segment allocate(String tag, long step) {
        String key = key(tag);
        SegmentAllocator.checkStep(step);
        long floor = seen.getOrDefault(tag, Long.MIN_VALUE);
        long last;
        try {
            last = server.call("INCRBY " + key + " " + step, redis -> redis.incrby(key, step));
        } catch (IdSourceUnavailableException e) {
            throw e;
        } catch (IdGenerationException e) {
            String reply = e.getCause() == null ? e.getMessage() : e.getCause().getMessage();
            boolean keyProblem = reply != null && (reply.contains("not an integer") || reply.contains("overflow")
                    || reply.startsWith("WRONGTYPE"));
            throw new IdGenerationException("cannot reserve " + step + " ids of tag '" + tag + "' with INCRBY " + key
                    + " on " + server.address() + ": " + reply + (keyProblem ? " (the key must hold an integer"
                    + " below " + Long.MAX_VALUE + " minus the step; a key holding something else was written by"
                    + " another program: rename it or choose another key prefix)" : ""), e.getCause());
        }
        if (last == Long.MAX_VALUE) {
            throw new IdGenerationException("the counter " + key + " on " + server.address() + " reached "
                    + Long.MAX_VALUE + ": tag '" + tag + "' has no ids left; use another tag");
        }
        long start = last - step + 1;
        if (server.guard() == RewindGuard.REQUIRE_FSYNC_ALWAYS && start < floor) {
            throw new IdSourceUnavailableException(server.source(), "the counter " + key + " on " + server.address()
                    + " went back: it answered the range [" + start + ", " + (last + 1) + ") after this client had seen"
                    + " ids up to " + (floor - 1) + ". The server lost increments (a restart without persistence, a"
                    + " failover, or a restored backup); none of these ids is used. Raise the key above every id"
                    + " handed out (INCRBY) before using it again", null);
        }
        seen.merge(tag, last + 1, Math::max);
        if (start < 1) {
            throw new IdGenerationException("the counter " + key + " on " + server.address() + " answered the range ["
                    + start + ", " + (last + 1) + "), below 1: the key was set by hand to a negative value;"
                    + " set it to the last id handed out");
        }
        return new Segment(tag, start, last + 1);
    }

    @Override
    public String toString() {
        return "Redis segments " + prefix + "segment:* on " + server.address();
    }
}
