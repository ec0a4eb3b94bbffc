package io.distkit.id.snowflake;

import java.util.Objects;

/**
 * Ids as fixed-width strings of Crockford base32: {@value #LENGTH} characters for any non-negative
 * {@code long}, e.g. {@code 0} is {@code "0000000000000"} and {@link Long#MAX_VALUE} is
 * {@code "7ZZZZZZZZZZZZ"}.
 *
 * <p>The alphabet is {@code 0123456789ABCDEFGHJKMNPQRSTVWXYZ} (no I, L, O, U: nothing to misread,
 * no accidental words), in ascending ASCII order, and every string has the same length, so the
 * strings sort lexicographically exactly as the ids sort numerically: they can serve as keys in
 * stores that order by string. Shorter than the 19 decimal digits of a large id, and case-insensitive.
 *
 * <p>{@link #format(long)} writes upper case. {@link #parse(CharSequence)} also accepts lower case
 * and Crockford's aliases for misread characters ({@code I}, {@code i}, {@code L}, {@code l} read
 * as 1, {@code O}, {@code o} as 0), and refuses everything else: other characters (hyphens and
 * {@code U} included), any length but {@value #LENGTH}, and values above {@link Long#MAX_VALUE}.
 * Format then parse gives back the same id; parse then format gives back the canonical string.
 */
public final class IdFormat {

    /** Characters of every formatted id: 13 &times; 5 = 65 bits, enough for the 63 of a non-negative long. */
    public static final int LENGTH = 13;

    private static final char[] DIGITS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ".toCharArray();
    private static final byte[] VALUES = new byte[128];
    // The first character carries the top 3 of 65 bits (the first 2 are always 0): 7 at most.
    private static final int MAX_FIRST_VALUE = 7;
    private static final int MAX_QUOTED = 40;

    static {
        java.util.Arrays.fill(VALUES, (byte) -1);
        for (int i = 0; i < DIGITS.length; i++) {
            VALUES[DIGITS[i]] = (byte) i;
            VALUES[Character.toLowerCase(DIGITS[i])] = (byte) i;
        }
        VALUES['I'] = 1;
        VALUES['i'] = 1;
        VALUES['L'] = 1;
        VALUES['l'] = 1;
        VALUES['O'] = 0;
        VALUES['o'] = 0;
    }

    private IdFormat() {}

    /**
     * Formats an id.
     *
     * @param id a non-negative id
     * @return {@value #LENGTH} characters of upper-case Crockford base32
     * @throws IllegalArgumentException if {@code id} is negative
     */
    public static String format(long id) {
        if (id < 0) {
            throw new IllegalArgumentException("id must not be negative, was " + id);
        }
        char[] out = new char[LENGTH];
        long rest = id;
        for (int i = LENGTH - 1; i >= 0; i--) {
            out[i] = DIGITS[(int) (rest & 31)];
            rest >>>= 5;
        }
        return new String(out);
    }

    /**
     * Parses a formatted id.
     *
     * @param text {@value #LENGTH} characters of Crockford base32, either case, with the aliases I, L
     *     (for 1) and O (for 0)
     * @return the id; never negative
     * @throws IllegalArgumentException if {@code text} has another length, a character outside the
     *     alphabet, or a value above {@link Long#MAX_VALUE}; the message quotes the text and says
     *     what is wrong where
     */
    public static long parse(CharSequence text) {
        Objects.requireNonNull(text, "text");
        if (text.length() != LENGTH) {
            throw new IllegalArgumentException("id text must be " + LENGTH + " characters of Crockford base32, was "
                    + text.length() + ": " + quote(text));
        }
        long value = 0;
        for (int i = 0; i < LENGTH; i++) {
            char c = text.charAt(i);
            int digit = c < VALUES.length ? VALUES[c] : -1;
            if (digit < 0) {
                throw new IllegalArgumentException("id text " + quote(text) + " has " + describe(c) + " at index " + i
                        + ", which is not Crockford base32 (0-9 and A-Z without U, either case; I and L read as 1,"
                        + " O as 0)");
            }
            if (i == 0 && digit > MAX_FIRST_VALUE) {
                throw new IllegalArgumentException("id text " + quote(text) + " is above the largest id "
                        + format(Long.MAX_VALUE) + " (Long.MAX_VALUE): its first character must be 0-7");
            }
            value = (value << 5) | digit;
        }
        return value;
    }

    private static String describe(char c) {
        return Character.isISOControl(c) || Character.isWhitespace(c)
                ? String.format("character U+%04X", (int) c)
                : "character '" + c + "'";
    }

    private static String quote(CharSequence text) {
        return text.length() <= MAX_QUOTED
                ? "'" + text + "'"
                : "'" + text.subSequence(0, MAX_QUOTED) + "...' (" + text.length() + " characters)";
    }
}
