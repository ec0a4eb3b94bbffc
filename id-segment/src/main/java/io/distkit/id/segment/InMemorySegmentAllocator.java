package io.distkit.id.segment;

import io.distkit.id.IdGenerationException;
import io.distkit.id.Segment;
import io.distkit.id.SegmentAllocator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A {@link SegmentAllocator} in this JVM's memory: disjoint ascending ranges per tag for as long as the
 * object lives, and nothing across restarts. For tests, benchmarks and single-process use; a new tag
 * starts at {@link #firstId()}.
 */
public final class InMemorySegmentAllocator implements SegmentAllocator {

    private final long firstId;
    private final Map<String, AtomicLong> next = new ConcurrentHashMap<>();

    /** Tags start at id 1. */
    public InMemorySegmentAllocator() {
        this(1);
    }

    /**
     * @param firstId where every tag starts; not negative
     * @throws IllegalArgumentException if {@code firstId} is negative
     */
    public InMemorySegmentAllocator(long firstId) {
        if (firstId < 0) {
            throw new IllegalArgumentException("firstId must not be negative, was " + firstId);
        }
        this.firstId = firstId;
    }

    /** Where every tag starts. */
    public long firstId() {
        return firstId;
    }

    /**
     * @throws IdGenerationException if the range would pass {@link Long#MAX_VALUE}; nothing is reserved
     */
    @Override
    public Segment allocate(String tag, long step) {
        SegmentAllocator.checkTag(tag);
        SegmentAllocator.checkStep(step);
        AtomicLong counter = next.get(tag);
        if (counter == null) {
            counter = next.computeIfAbsent(tag, t -> new AtomicLong(firstId));
        }
        for (;;) {
            long start = counter.get();
            if (start > Long.MAX_VALUE - step) {
                throw new IdGenerationException("the ids of tag '" + tag + "' would overflow: the next range starts at "
                        + start + " and a step of " + step + " would pass Long.MAX_VALUE; nothing was reserved");
            }
            if (counter.compareAndSet(start, start + step)) {
                return new Segment(tag, start, start + step);
            }
        }
    }

    /** Where the next range of {@code tag} starts ({@link #firstId()} for a tag never allocated). */
    public long nextStart(String tag) {
        AtomicLong counter = next.get(tag);
        return counter == null ? firstId : counter.get();
    }

    @Override
    public String toString() {
        return "InMemorySegmentAllocator[" + next.size() + " tags]";
    }
}
