package io.distkit.lock.redlock;

import static io.distkit.lock.redlock.RedlockContractSupport.node;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.lock.LockClientContract;
import io.distkit.testkit.server.RedisServer;
import java.util.List;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The lock contract on 5 independent masters (quorum 3); see {@link RedlockContractSupport}. */
class RedlockFiveMastersContractTest extends LockClientContract {
    @RegisterExtension
    static RedisServer a = node();
    @RegisterExtension
    static RedisServer b = node();
    @RegisterExtension
    static RedisServer c = node();
    @RegisterExtension
    static RedisServer d = node();
    @RegisterExtension
    static RedisServer e = node();

    @Override
    protected LockClient newClient(LockOptions defaults) {
        return RedlockContractSupport.client(List.of(a, b, c, d, e), defaults);
    }

    @Override
    protected void deleteLockState(String lockName) {
        RedlockContractSupport.delete(List.of(a, b, c, d, e), lockName);
    }
}
