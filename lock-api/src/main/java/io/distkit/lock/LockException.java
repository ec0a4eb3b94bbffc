package io.distkit.lock;

import org.jspecify.annotations.Nullable;

/** Root of the lock exceptions. Unchecked; carries the lock name where one applies. */
public class LockException extends RuntimeException {

    private final @Nullable String lockName;

    public LockException(String message) {
        this(null, message, null);
    }

    public LockException(@Nullable String lockName, String message, @Nullable Throwable cause) {
        super(lockName == null ? message : "lock '" + lockName + "': " + message, cause);
        this.lockName = lockName;
    }

    /** The lock concerned, or null when the failure is not about one lock. */
    public @Nullable String lockName() {
        return lockName;
    }
}
