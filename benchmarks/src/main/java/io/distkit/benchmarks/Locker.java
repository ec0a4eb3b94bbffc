package io.distkit.benchmarks;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;

/** One client's view of one lock name: what each compared implementation provides, behind one facade. */
interface Locker {

    /** Blocks until this client holds the lock; returns what {@link #release} needs. */
    Object acquire() throws InterruptedException;

    void release(Object held);

    void close();

    /** A distkit client's lock {@code name}; closing the locker closes the client. */
    static Locker distkit(LockClient client, String name) {
        return distkit(client, client.lock(name));
    }

    /** One lock of a distkit client (a read or write lock, say); closing the locker closes the client. */
    static Locker distkit(LockClient client, DistributedLock lock) {
        return new Locker() {
            @Override
            public Object acquire() throws InterruptedException {
                return lock.acquire();
            }

            @Override
            public void release(Object held) {
                ((LockHandle) held).release();
            }

            @Override
            public void close() {
                client.close();
            }
        };
    }
}
