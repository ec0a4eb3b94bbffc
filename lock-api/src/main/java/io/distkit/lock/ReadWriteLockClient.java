package io.distkit.lock;

/**
 * A {@link LockClient} whose backend also offers shared/exclusive locks. Read and write locks of
 * one name share one queue: a reader waits only for earlier writers, a writer for every earlier
 * holder or waiter. The plain {@link #lock(String)} of a name is independent of its read-write lock.
 */
public interface ReadWriteLockClient extends LockClient {

    /** The read-write lock of this name with the client's default options. */
    DistributedReadWriteLock readWriteLock(String name);

    /**
     * The read-write lock of this name with the given options (used by both of its locks).
     *
     * @throws IllegalArgumentException as {@link LockClient#lock(String, LockOptions)}
     */
    DistributedReadWriteLock readWriteLock(String name, LockOptions options);
}
