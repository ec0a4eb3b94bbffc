package io.distkit.lock.redis;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.lock.LockClientContract;
import io.distkit.testkit.server.RedisServer;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The lock contract on one standalone redis-server; every client is its own Lettuce client, as separate processes would be. */
class RedisLockContractTest extends LockClientContract {

    @RegisterExtension
    static RedisServer redis = RedisServer.builder().build();

    @Override
    protected LockClient newClient(LockOptions defaults) {
        return RedisLockClient.builder(redis.uri()).defaultOptions(defaults).build();
    }

    @Override
    protected void deleteLockState(String lockName) {
        redis.call("DEL", RedisLockClient.lockKey(RedisLockClient.DEFAULT_KEY_PREFIX, lockName));
    }
}
