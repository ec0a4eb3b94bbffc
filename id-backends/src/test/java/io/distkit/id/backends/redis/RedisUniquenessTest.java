package io.distkit.id.backends.redis;

import io.distkit.id.backends.StoreUniquenessContract;
import io.distkit.testkit.server.RedisServer;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** 4 JVMs killed at random on one Redis that syncs every write: no id twice. */
@Timeout(150)
class RedisUniquenessTest extends StoreUniquenessContract {

    @RegisterExtension
    static final RedisServer REDIS = RedisServer.builder().persistence(RedisServer.Persistence.AOF_ALWAYS).build();

    @Override
    protected String storeUri() {
        return REDIS.uri();
    }
}
