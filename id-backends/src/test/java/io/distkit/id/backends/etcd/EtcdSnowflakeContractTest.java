package io.distkit.id.backends.etcd;

import io.distkit.id.IdGenerator;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.snowflake.SnowflakeIdGenerator;
import io.distkit.id.snowflake.SnowflakeLayout;
import io.distkit.testkit.id.IdGeneratorContract;
import io.distkit.testkit.server.EtcdCluster;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The id contract on {@link SnowflakeIdGenerator} over {@link EtcdWorkerIdAssigner}: each generator leases its
 * worker id through an assigner (and jetcd client) of its own, as a process would; a generator made after one was
 * closed gets its worker id back with the mark the closed one saved.
 */
class EtcdSnowflakeContractTest extends IdGeneratorContract {

    static EtcdCluster etcd;

    @BeforeAll
    static void startEtcd() {
        etcd = EtcdTests.started();
    }

    @AfterAll
    static void stopEtcd() {
        if (etcd != null) {
            etcd.close();
        }
    }

    private static final AtomicInteger TESTS = new AtomicInteger();

    private final Map<IdGenerator, WorkerIdAssigner> assigners = new ConcurrentHashMap<>();
    /** Worker ids of this test alone: a generator on an id another test saved a mark ahead for would wait it out. */
    private final String prefix = "snowflake-contract-" + TESTS.incrementAndGet() + "/";

    @Override
    protected IdGenerator newGenerator() {
        WorkerIdAssigner assigner = EtcdWorkerIdAssigner.builder(EtcdTests.endpoints(etcd)).keyPrefix(prefix).build();
        try {
            SnowflakeIdGenerator generator = SnowflakeIdGenerator.builder(SnowflakeLayout.TWITTER)
                    .workerIdAssigner(assigner).build();
            assigners.put(generator, assigner);
            return generator;
        } catch (RuntimeException e) {
            assigner.close();
            throw e;
        }
    }

    @Override
    protected void closeGenerator(IdGenerator generator) throws Exception {
        try {
            super.closeGenerator(generator);
        } finally {
            WorkerIdAssigner assigner = assigners.remove(generator);
            if (assigner != null) {
                assigner.close();
            }
        }
    }
}
