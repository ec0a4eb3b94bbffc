package io.distkit.id.backends.redis;

import io.distkit.id.IdGenerator;
import io.distkit.id.SegmentAllocator;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.backends.SegmentOnAllocatorContract;
import io.distkit.id.backends.SnowflakeOnAssignerContract;
import io.distkit.id.backends.WorkerIdAssignerContract;
import io.distkit.lock.redis.internal.LockKeys;
import io.distkit.testkit.id.IdGeneratorContract;
import io.distkit.testkit.server.FaultProxy;
import io.distkit.testkit.server.RedisServer;
import java.time.Duration;
import java.util.IdentityHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;

/**
 * The id contracts on one Redis server that syncs every write (the default rewind guard's requirement): the
 * {@code INCRBY} counter, {@code SegmentIdGenerator} on the Redis allocator, snowflake on the Redis worker ids,
 * and the worker-id assigner contract. Every generator and assigner has a store (a connection) of its own, as a
 * separate process would.
 */
class RedisIdContractTest {

    static RedisServer redis;

    @BeforeAll
    static void start() {
        redis = RedisServer.builder().persistence(RedisServer.Persistence.AOF_ALWAYS).build();
        redis.start();
    }

    @AfterAll
    static void stop() {
        redis.close();
    }

    static RedisIdStore store(Duration workerLease) {
        return RedisIdStore.builder(redis.uri()).workerLeaseTime(workerLease).build();
    }

    /** Generators whose stores close with them. */
    abstract static class StorePerGenerator extends IdGeneratorContract {
        private final Map<IdGenerator, RedisIdStore> stores = new IdentityHashMap<>();

        abstract IdGenerator generatorOn(RedisIdStore store);

        @Override
        protected IdGenerator newGenerator() {
            RedisIdStore store = store(Duration.ofSeconds(30));
            IdGenerator generator = generatorOn(store);
            synchronized (stores) {
                stores.put(generator, store);
            }
            return generator;
        }

        @Override
        protected void closeGenerator(IdGenerator generator) throws Exception {
            RedisIdStore store;
            synchronized (stores) {
                store = stores.remove(generator);
            }
            try {
                super.closeGenerator(generator);
            } finally {
                if (store != null) {
                    store.close();
                }
            }
        }
    }

    @Nested
    class Counter extends StorePerGenerator {
        @Override
        IdGenerator generatorOn(RedisIdStore store) {
            return store.counter("contract-counter");
        }

        @Override
        protected int idsPerThread() {
            return 3_000; // one round trip each
        }
    }

    @Nested
    class Segments extends SegmentOnAllocatorContract {
        @Override
        protected SegmentAllocator allocator() {
            // one store for the test's generators: the segments race through the server all the same
            return shared().segmentAllocator();
        }
    }

    @Nested
    class Snowflake extends SnowflakeOnAssignerContract {
        @Override
        protected WorkerIdAssigner newAssigner() {
            RedisIdStore store = store(Duration.ofSeconds(30));
            return new StoreClosingAssigner(store);
        }
    }

    @Nested
    class WorkerIds extends WorkerIdAssignerContract {
        @Override
        protected WorkerIdAssigner newAssigner(Duration leaseTime) {
            return new StoreClosingAssigner(store(leaseTime));
        }

        @Override
        protected FaultProxy proxyToStore() {
            FaultProxy proxy = FaultProxy.builder().target(redis.host(), redis.port()).build();
            proxy.start();
            return proxy;
        }

        @Override
        protected WorkerIdAssigner newAssignerThrough(FaultProxy proxy, Duration leaseTime) {
            return new StoreClosingAssigner(RedisIdStore.builder(proxy.uri("redis")).workerLeaseTime(leaseTime)
                    .commandTimeout(Duration.ofMillis(500)).build());
        }

        @Override
        protected void clearStore() {
            redis.call("FLUSHALL");
        }

        @Override
        protected void deleteLockBehindItsBack(String lockName) {
            redis.call("DEL", LockKeys.lockKey(RedisIdStore.DEFAULT_KEY_PREFIX + "lock:", lockName));
        }
    }

    private static RedisIdStore shared;

    static synchronized RedisIdStore shared() {
        if (shared == null) {
            shared = store(Duration.ofSeconds(30));
        }
        return shared;
    }

    @AfterAll
    static synchronized void closeShared() {
        if (shared != null) {
            shared.close();
            shared = null;
        }
    }

    /** A store's assigner that closes the store with it. */
    record StoreClosingAssigner(RedisIdStore store) implements WorkerIdAssigner {
        @Override
        public io.distkit.id.WorkerLease acquire(int maxWorkerIds) {
            return store.workerIdAssigner().acquire(maxWorkerIds);
        }

        @Override
        public void close() {
            store.close();
        }
    }
}
