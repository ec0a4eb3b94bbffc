package io.distkit.lock;

/**
 * A pair of locks of one name: any number of readers at once, or one writer. Both hand out
 * fencing tokens from one sequence, so a writer's token is greater than that of every reader and
 * writer that held before it.
 */
public interface DistributedReadWriteLock {

    /** The lock's name. */
    String name();

    /** The shared lock. */
    DistributedLock readLock();

    /** The exclusive lock. */
    DistributedLock writeLock();
}
