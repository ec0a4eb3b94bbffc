package io.distkit.id.backends.redis;

import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.backends.PausedSnowflakeContract;
import io.distkit.id.backends.PausedSnowflakeMain;
import io.distkit.testkit.server.RedisServer;
import java.time.Duration;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** F20 with a real pause on the Redis worker-id assigner. */
@Timeout(120)
class RedisPausedSnowflakeTest extends PausedSnowflakeContract {

    @RegisterExtension
    static final RedisServer REDIS = RedisServer.builder().persistence(RedisServer.Persistence.AOF_ALWAYS).build();

    private final String keyPrefix = "paused-" + System.nanoTime() + ":";

    @Override
    protected Class<? extends PausedSnowflakeMain.Factory> factory() {
        return Factory.class;
    }

    @Override
    protected String address() {
        return REDIS.uri() + "|" + keyPrefix;
    }

    /** {@code <redis uri>|<key prefix>}: the store's assigner, closing the store with it. */
    public static final class Factory implements PausedSnowflakeMain.Factory {
        @Override
        public WorkerIdAssigner open(String address, Duration leaseTime) {
            String[] parts = address.split("\\|");
            RedisIdStore store = RedisIdStore.builder(parts[0]).keyPrefix(parts[1]).workerLeaseTime(leaseTime).build();
            return new RedisIdContractTest.StoreClosingAssigner(store);
        }
    }
}
