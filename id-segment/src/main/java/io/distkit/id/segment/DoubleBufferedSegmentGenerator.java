package io.distkit.id.segment;

import io.distkit.id.IdGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link SegmentIdGenerator}: serves ids with one atomic increment on the current buffer, and leaves the rest to {@link BufferSwitch}.
 *
 * <p><b>Invariant.</b> Every id returned comes from a successful increment of a segment's counter that
 * returned a value below the segment's end: the counters never go back, each segment came from the
 * allocator for this tag (disjoint from every other), so no id repeats. Callers that find the counter
 * past the end move {@link #current} on to the next segment ({@link #moveOn}); counters overshoot their
 * end by the calls that raced the switch, and those values are never returned.
 *
 * <p><b>Hot path.</b> One volatile read of {@link #current}, one {@code getAndIncrement} on its final
 * counter, one compare with its final end, and one with its prefetch point: the one call whose increment
 * returns exactly that value starts the fetch of the next segment ({@link #prefetch}). No lock, no
 * allocation. A closed generator serves {@link SegmentBuffer#CLOSED}, which has no ids, so the hot path
 * needs no check of its own.
 */
final class DoubleBufferedSegmentGenerator extends BufferSwitch implements SegmentIdGenerator {

    private static final Logger log = LoggerFactory.getLogger(SegmentIdGenerator.class);

    DoubleBufferedSegmentGenerator(SegmentIdGenerator.Builder b, long firstStep) {
        super(b, firstStep);
        log.debug("{} started", this);
    }

    @Override
    public long nextId() {
        SegmentBuffer b = current;
        long id = b.next.getAndIncrement();
        if (b.holds(id)) {
            if (id == b.prefetchAt) {
                prefetch(b);
            }
            return id;
        }
        return nextIdSlow(b);
    }

    private long nextIdSlow(SegmentBuffer exhausted) {
        SegmentBuffer b = exhausted;
        for (;;) {
            b = moveOn(b);
            long id = b.next.getAndIncrement();
            if (b.holds(id)) {
                if (id == b.prefetchAt) {
                    prefetch(b);
                }
                return id;
            }
        }
    }

    @Override
    public long[] nextIds(int count) {
        IdGenerator.checkBatchCount(count);
        long[] ids = new long[count];
        int filled = 0;
        SegmentBuffer b = current;
        for (;;) {
            int want = count - filled;
            long first = b.next.getAndAdd(want);
            if (b.holds(first)) {
                int run = (int) Math.min(want, b.end - first);
                for (int i = 0; i < run; i++) {
                    ids[filled + i] = first + i;
                }
                if (b.prefetchAt != SegmentBuffer.NO_PREFETCH && b.prefetchAt - first >= 0 && b.prefetchAt - first < want) {
                    prefetch(b); // the run passed the threshold
                }
                filled += run;
                if (filled == count) {
                    return ids;
                }
            }
            b = moveOn(b);
        }
    }

    @Override
    public void close() {
        if (closeBuffers()) {
            log.debug("segment id generator of tag '{}' closed", tag);
        }
    }

    @Override
    public String tag() {
        return tag;
    }

    @Override
    public long step() {
        return fetcher.step();
    }

    @Override
    public String toString() {
        SegmentBuffer b = current;
        return "SegmentIdGenerator[tag '" + tag + "', " + (b == SegmentBuffer.CLOSED ? "closed" : "serving " + b.segment)
                + ", step " + fetcher.step() + ", " + fetcher.allocator() + "]";
    }
}
