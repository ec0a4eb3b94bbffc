package io.distkit.id;

import java.util.Objects;

/**
 * A range of ids {@code [start, endExclusive)} reserved for one tag by a {@link SegmentAllocator}.
 * Never empty, never negative.
 *
 * @param tag the id sequence the range belongs to; not blank
 * @param start the first id of the range; not negative
 * @param endExclusive one past the last id of the range; greater than {@code start}
 */
public record Segment(String tag, long start, long endExclusive) {

    /**
     * @throws NullPointerException if {@code tag} is null
     * @throws IllegalArgumentException if {@code tag} is blank, {@code start} is negative, or
     *     {@code endExclusive} is not greater than {@code start}
     */
    public Segment {
        Objects.requireNonNull(tag, "tag");
        if (tag.isBlank()) {
            throw new IllegalArgumentException("tag must not be blank, was '" + tag + "'");
        }
        if (start < 0) {
            throw new IllegalArgumentException("start must not be negative, was " + start);
        }
        if (endExclusive <= start) {
            throw new IllegalArgumentException(
                    "endExclusive must be greater than start " + start + ", was " + endExclusive);
        }
    }

    /** How many ids the range holds; at least 1. Cannot overflow since {@code start >= 0}. */
    public long size() {
        return endExclusive - start;
    }

    /** Whether {@code id} lies in {@code [start, endExclusive)}. */
    public boolean contains(long id) {
        return id >= start && id < endExclusive;
    }

    /**
     * Whether this range and {@code other} share at least one id of the same tag. Ranges of
     * different tags never overlap: each tag is its own id sequence.
     *
     * @throws NullPointerException if {@code other} is null
     */
    public boolean overlaps(Segment other) {
        Objects.requireNonNull(other, "other");
        return tag.equals(other.tag) && start < other.endExclusive && other.start < endExclusive;
    }

    @Override
    public String toString() {
        return tag + "[" + start + ", " + endExclusive + ")";
    }
}
