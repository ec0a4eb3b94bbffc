package io.distkit.lock.spi;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.DistributedReadWriteLock;
import io.distkit.lock.LockOptions;
import io.distkit.lock.ReadWriteLockClient;

/** The engine's client for backends that support read-write locks. */
final class EngineReadWriteClient<S> extends EngineClient<S> implements ReadWriteLockClient {

    EngineReadWriteClient(LockEngine.Builder<S> builder) {
        super(builder);
    }

    @Override
    public DistributedReadWriteLock readWriteLock(String name) {
        return readWriteLock(name, defaultOptions());
    }

    @Override
    public DistributedReadWriteLock readWriteLock(String name, LockOptions options) {
        EngineLock<S> read = newLock(name, LockMode.READ, options);
        EngineLock<S> write = newLock(name, LockMode.WRITE, options);
        return new DistributedReadWriteLock() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public DistributedLock readLock() {
                return read;
            }

            @Override
            public DistributedLock writeLock() {
                return write;
            }

            @Override
            public String toString() {
                return "DistributedReadWriteLock[" + name + "]";
            }
        };
    }
}
