package io.distkit.id.backends.etcd;

import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.backends.SnowflakeOnAssignerContract;
import io.distkit.testkit.server.EtcdCluster;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The id contract on snowflake generators leasing worker ids from {@link EtcdWorkerIdAssigner}, each through an
 * assigner (and jetcd client) of its own, as a process would.
 */
class EtcdSnowflakeContractTest extends SnowflakeOnAssignerContract {

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

    /** Worker ids of this test alone: a generator on an id another test saved a mark ahead for would wait it out. */
    private final String prefix = "snowflake-contract-" + TESTS.incrementAndGet() + "/";

    @Override
    protected WorkerIdAssigner newAssigner() {
        return EtcdWorkerIdAssigner.builder(EtcdTests.endpoints(etcd)).keyPrefix(prefix).build();
    }
}
