package io.distkit.id.segment;

import java.util.Objects;

/** The argument checks every part of the module makes the same way, with the same messages. */
final class SegmentChecks {

    /** Longest tag: the width of the {@code biz_tag} column. */
    static final int MAX_TAG_LENGTH = 128;

    private SegmentChecks() {}

    /**
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
        if (hasControlCharacter(tag)) {
            throw new IllegalArgumentException("tag must not contain control characters, was '"
                    + tag.replaceAll("\\p{Cntrl}", "?") + "'");
        }
        int unpaired = unpairedSurrogate(tag);
        if (unpaired >= 0) {
            // the drivers encode it as '?': two tags would share one row, two sequences one range
            throw new IllegalArgumentException("tag must be well-formed UTF-16, without unpaired surrogates"
                    + " (databases would store them as '?'): U+" + Integer.toHexString(tag.charAt(unpaired))
                    .toUpperCase(java.util.Locale.ROOT) + " at index " + unpaired + " is unpaired");
        }
        return tag;
    }

    /** The index of the first surrogate that is not half of a pair, or -1. */
    private static int unpairedSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return i;
            }
        }
        return -1;
    }

    private static boolean hasControlCharacter(String s) {
        for (int i = 0; i < s.length(); i++) { // a loop, not a stream: allocators check every call
            if (Character.isISOControl(s.charAt(i))) {
                return true;
            }
        }
        return false;
    }

    /** @throws IllegalArgumentException if {@code step} is not positive */
    static long checkStep(String name, long step) {
        if (step <= 0) {
            throw new IllegalArgumentException(name + " must be positive, was " + step);
        }
        return step;
    }
}
