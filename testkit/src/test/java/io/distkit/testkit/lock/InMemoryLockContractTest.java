package io.distkit.testkit.lock;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.memory.InMemoryLockServer;

/** The contract on the in-memory reference backend: proves the suite can pass. */
class InMemoryLockContractTest extends LockClientContract {

    private final InMemoryLockServer server = new InMemoryLockServer();

    @Override
    protected LockClient newClient(LockOptions defaults) {
        return server.newClient(defaults);
    }

    @Override
    protected void deleteLockState(String lockName) {
        server.delete(lockName);
    }
}
