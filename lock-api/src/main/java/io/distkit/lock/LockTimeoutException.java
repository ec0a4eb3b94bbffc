package io.distkit.lock;

import java.time.Duration;

/** The lock could not be had within the wait given to {@link DistributedLock#acquireAsync}. */
public class LockTimeoutException extends LockException {

    private final Duration wait;

    public LockTimeoutException(String lockName, Duration wait) {
        super(lockName, "not acquired within " + wait, null);
        this.wait = wait;
    }

    /** The wait that ran out. */
    public Duration waited() {
        return wait;
    }
}
