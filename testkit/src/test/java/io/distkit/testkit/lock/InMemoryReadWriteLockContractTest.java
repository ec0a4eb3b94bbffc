package io.distkit.testkit.lock;

import io.distkit.lock.LockOptions;
import io.distkit.lock.ReadWriteLockClient;
import io.distkit.testkit.memory.InMemoryLockServer;

/** The read-write contract on the in-memory reference backend. */
class InMemoryReadWriteLockContractTest extends ReadWriteLockContract {

    private final InMemoryLockServer server = new InMemoryLockServer();

    @Override
    protected ReadWriteLockClient newClient(LockOptions defaults) {
        return server.newClient(defaults);
    }
}
