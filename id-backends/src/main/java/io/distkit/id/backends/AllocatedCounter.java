package io.distkit.id.backends;

import io.distkit.id.IdGenerator;
import io.distkit.id.Segment;
import io.distkit.id.SegmentAllocator;
import java.util.Objects;

/**
 * A counter on a {@link SegmentAllocator}: each id is a range of one reserved from the store ({@link #nextId()}
 * is one request), a batch of {@code n} one range of {@code n}. On a store whose reservations are atomic
 * increments (Redis {@code INCRBY}, a database row, a compare-and-swap) the ids are the store's own sequence:
 * they increase in real-time order across every client, and are as dense as the store's ranges (a
 * reservation whose reply was lost is a gap).
 *
 * <p>Thread-safe; every request goes to the store (for ids off the hot path use {@code SegmentIdGenerator}).
 */
public final class AllocatedCounter implements IdGenerator {

    private final SegmentAllocator allocator;
    private final String name;

    private AllocatedCounter(SegmentAllocator allocator, String name) {
        this.allocator = Objects.requireNonNull(allocator, "allocator");
        this.name = SegmentAllocator.checkTag(name);
    }

    /** The counter {@code name} on {@code allocator}'s store (the allocator's tag). */
    public static AllocatedCounter of(SegmentAllocator allocator, String name) {
        return new AllocatedCounter(allocator, name);
    }

    public String name() {
        return name;
    }

    @Override
    public long nextId() {
        return allocator.allocate(name, 1).start();
    }

    /** One reservation of {@code count} ids where the store grants the whole range (more if it grants less). */
    @Override
    public long[] nextIds(int count) {
        IdGenerator.checkBatchCount(count);
        long[] ids = new long[count];
        int filled = 0;
        while (filled < count) {
            Segment range = allocator.allocate(name, count - filled);
            for (long id = range.start(); id < range.endExclusive() && filled < count; id++) {
                ids[filled++] = id;
            }
        }
        return ids;
    }

    @Override
    public String toString() {
        return "counter '" + name + "' on " + allocator;
    }
}
