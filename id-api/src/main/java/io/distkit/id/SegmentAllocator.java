package io.distkit.id;

import java.util.Locale;
import java.util.Objects;

/**
 * SPI: hands out ranges of ids ({@link Segment}s) from a shared store. A segment generator serves
 * ids from the range in memory and asks for the next range only when it runs low.
 *
 * <p>Implementations are safe for use by many threads at once. They check their arguments with
 * {@link #checkTag} and {@link #checkStep}, so that every allocator, and every generator over one,
 * accepts the same tags and refuses the others with the same message.
 */
public interface SegmentAllocator {

    /** Longest tag: the width of the {@code biz_tag} column of the JDBC allocator's table. */
    int MAX_TAG_LENGTH = 128;

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
     * @throws IllegalArgumentException if {@code tag} is blank or otherwise refused by {@link #checkTag}, or
     *     {@code step} is zero or negative
     * @throws NullPointerException if {@code tag} is null
     * @throws IdSourceUnavailableException if the store cannot be reached or fails
     * @throws IdGenerationException if the sequence cannot grow by {@code step} without overflowing
     */
    Segment allocate(String tag, long step);

    /**
     * Checks a tag the way every allocator and generator does: a tag a store keeps exactly, so that two
     * tags never share one sequence.
     *
     * @return {@code tag}
     * @throws NullPointerException if {@code tag} is null
     * @throws IllegalArgumentException if it is blank, longer than {@value #MAX_TAG_LENGTH} characters,
     *     holds a control character or an unpaired surrogate
     */
    static String checkTag(String tag) {
        Objects.requireNonNull(tag, "tag");
        if (tag.isBlank()) {
            throw new IllegalArgumentException("tag must not be blank, was '" + tag + "'");
        }
        if (tag.length() > MAX_TAG_LENGTH) {
            throw new IllegalArgumentException("tag must be at most " + MAX_TAG_LENGTH + " characters, was "
                    + tag.length() + " ('" + tag.substring(0, 32) + "...')");
        }
        for (int i = 0; i < tag.length(); i++) { // a loop, not a stream: allocators check every call
            if (Character.isISOControl(tag.charAt(i))) {
                throw new IllegalArgumentException("tag must not contain control characters, was '"
                        + tag.replaceAll("\\p{Cntrl}", "?") + "'");
            }
        }
        for (int i = 0; i < tag.length(); i++) {
            char c = tag.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < tag.length() && Character.isLowSurrogate(tag.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                // the drivers encode it as '?': two tags would share one row, two sequences one range
                throw new IllegalArgumentException("tag must be well-formed UTF-16, without unpaired surrogates"
                        + " (databases would store them as '?'): U+" + Integer.toHexString(c).toUpperCase(Locale.ROOT)
                        + " at index " + i + " is unpaired");
            }
        }
        return tag;
    }

    /**
     * Checks the step of {@link #allocate}.
     *
     * @return {@code step}
     * @throws IllegalArgumentException if {@code step} is not positive
     */
    static long checkStep(long step) {
        if (step <= 0) {
            throw new IllegalArgumentException("step must be positive, was " + step);
        }
        return step;
    }
}
