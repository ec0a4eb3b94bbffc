package io.distkit.lock;

/** The lease had been lost (expired, removed, or the session ended) before the operation. */
public class LockLostException extends LockException {

    public LockLostException(String lockName, String message) {
        super(lockName, message, null);
    }
}
