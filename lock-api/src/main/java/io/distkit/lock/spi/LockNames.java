package io.distkit.lock.spi;

import io.distkit.lock.LockOptions;
import java.util.Locale;
import java.util.Objects;

/**
 * The one rule for lock names, applied by the engine before any backend sees a name, so that every
 * backend stores every legal name exactly and two distinct names never share a row or key.
 *
 * <p>Refused: a blank name, one over {@link LockOptions#MAX_NAME_LENGTH} characters, an unpaired
 * surrogate (the drivers encode it to UTF-8 as {@code ?}, so two names would meet in one row or key;
 * pgjdbc, Connector/J and Lettuce all do), and any ISO control character (U+0000 to U+001F, U+007F to
 * U+009F): PostgreSQL cannot store U+0000 in text at all, and the others would let a name forge lines
 * in the logs and messages that quote it. Everything else is legal and kept as given: case, spaces,
 * unnormalised accents and characters outside the BMP all make distinct names.
 */
public final class LockNames {

    private LockNames() {}

    /**
     * Returns {@code name} if it is a valid lock name: not null, not blank, at most
     * {@link LockOptions#MAX_NAME_LENGTH} characters, well-formed UTF-16 (no unpaired surrogate) and free
     * of ISO control characters.
     *
     * @throws NullPointerException if null
     * @throws IllegalArgumentException if it breaks the rule; the message names the rule, and the offending
     *     character and its index where there is one
     */
    public static String check(String name) {
        Objects.requireNonNull(name, "lock name");
        if (name.isBlank()) {
            throw new IllegalArgumentException("lock name must not be blank, was '" + name + "'");
        }
        if (name.length() > LockOptions.MAX_NAME_LENGTH) {
            throw new IllegalArgumentException("lock name must be at most " + LockOptions.MAX_NAME_LENGTH
                    + " characters, was " + name.length() + " ('" + name.substring(0, 40) + "...')");
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (Character.isISOControl(c)) {
                throw new IllegalArgumentException("lock name must not contain control characters (U+0000 to"
                        + " U+001F, U+007F to U+009F): " + hex(c) + " at index " + i);
            }
            if (Character.isSurrogate(c)) {
                if (Character.isHighSurrogate(c) && i + 1 < name.length()
                        && Character.isLowSurrogate(name.charAt(i + 1))) {
                    i++; // a pair: one character outside the BMP
                    continue;
                }
                throw new IllegalArgumentException("lock name must be well-formed UTF-16, without unpaired"
                        + " surrogates (backends would store them as '?'): " + (Character.isHighSurrogate(c)
                        ? "high" : "low") + " surrogate " + hex(c) + " at index " + i + " is unpaired");
            }
        }
        return name;
    }

    private static String hex(char c) {
        return String.format(Locale.ROOT, "U+%04X", (int) c);
    }
}
