package io.distkit.lock;

import org.jspecify.annotations.Nullable;

/** The backend is unreachable or failed; the cause says how. Whether the operation took effect is
 *  unknown unless the message says otherwise. */
public class LockBackendException extends LockException {

    public LockBackendException(@Nullable String lockName, String message, @Nullable Throwable cause) {
        super(lockName, message, cause);
    }
}
