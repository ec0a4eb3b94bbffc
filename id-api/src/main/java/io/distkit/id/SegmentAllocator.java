package io.distkit.id;

/**
 * SPI: hands out ranges of ids ({@link Segment}s) from a shared store. A segment generator serves
 * ids from the range in memory and asks for the next range only when it runs low.
 *
 * <p>Implementations are safe for use by many threads at once.
 */
public interface SegmentAllocator {

    /**
     * Reserves the next range of ids for {@code tag}.
     *
     * <p>Guaranteed: the range never overlaps any other range ever returned for the same tag by any
     * allocator on the same store, across processes and restarts. Ranges of one allocator and tag
     * ascend. A range whose reservation took effect on the store but whose reply was lost is never
     * handed out again: it becomes a gap.
     *
     * @param tag the id sequence to allocate from (a business tag); not blank
     * @param step how many ids to reserve; positive. Implementations may return a different size
     *     only where they document it
     * @return a range {@code [start, endExclusive)} for {@code tag}
     * @throws IllegalArgumentException if {@code tag} is blank or {@code step} is zero or negative
     * @throws NullPointerException if {@code tag} is null
     * @throws IdSourceUnavailableException if the store cannot be reached or fails
     * @throws IdGenerationException if the sequence cannot grow by {@code step} without overflowing
     */
    Segment allocate(String tag, long step);
}
