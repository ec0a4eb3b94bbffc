package io.distkit.lock.spi;

import io.distkit.lock.LockOptions;
import java.util.Objects;

/** The one rule for lock names, applied by the engine before any backend sees a name. */
public final class LockNames {

    private LockNames() {}

    /**
     * Returns {@code name} if it is a valid lock name: not null, not blank, at most
     * {@link LockOptions#MAX_NAME_LENGTH} characters.
     *
     * @throws NullPointerException if null
     * @throws IllegalArgumentException if blank or too long; the message says which and the limit
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
        return name;
    }
}
