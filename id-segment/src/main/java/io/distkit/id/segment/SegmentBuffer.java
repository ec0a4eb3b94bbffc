package io.distkit.id.segment;

import io.distkit.id.Segment;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One segment being served: its counter, where it ends, and the counter value that asks for the next.
 *
 * <p>All fields are final, so the hot path reads them without a barrier; the counter only goes up. It
 * overshoots {@link #end} by the calls that raced the switch to the next buffer, and those values are
 * never returned ({@link #holds}).
 */
final class SegmentBuffer {

    /** {@link #prefetchAt} of a buffer whose successor is fetched on the caller's thread when it runs out. */
    static final long NO_PREFETCH = Long.MIN_VALUE;

    /**
     * What a closed generator serves: a segment with no ids left, so that the hot path needs no check of
     * its own; its calls fall through to the slow path, which throws.
     */
    static final SegmentBuffer CLOSED = usedUp(new SegmentBuffer(new Segment("closed", 0, 1), 0, false));

    final Segment segment;
    final long end;
    /**
     * The counter value whose call starts the fetch of the next segment; {@link #NO_PREFETCH} for none (the
     * next is fetched on the caller's thread, or was asked for when this one became current).
     */
    final long prefetchAt;
    /**
     * The next segment is fetched in the background as soon as this one is taken into use (threshold 0), by
     * the slow path that installs it: the hot path then never meets a prefetch point.
     */
    final boolean fetchNextOnUse;
    /** The next id to hand out; past {@link #end} once the segment is used up. */
    final AtomicLong next;

    SegmentBuffer(Segment segment, double threshold, boolean prefetch) {
        this.segment = segment;
        this.end = segment.endExclusive();
        this.prefetchAt = prefetch && threshold > 0 ? segment.start() + (long) (segment.size() * threshold) : NO_PREFETCH;
        this.fetchNextOnUse = prefetch && threshold == 0;
        this.next = new AtomicLong(segment.start());
    }

    private static SegmentBuffer usedUp(SegmentBuffer b) {
        b.next.set(b.end);
        return b;
    }

    /** Whether the counter value {@code id} is an id of this segment (the counter may have wrapped past the end). */
    boolean holds(long id) {
        return id - end < 0;
    }
}
