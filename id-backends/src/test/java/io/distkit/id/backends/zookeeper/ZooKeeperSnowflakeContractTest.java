package io.distkit.id.backends.zookeeper;

import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.backends.SnowflakeOnAssignerContract;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The id contract on snowflake generators whose worker ids come from {@link ZooKeeperWorkerIdAssigner}, each
 * through an assigner with a client of its own, as separate processes.
 */
class ZooKeeperSnowflakeContractTest extends SnowflakeOnAssignerContract {

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperIdTestSupport.server();

    private static final AtomicInteger TESTS = new AtomicInteger();

    /** Worker ids of this test alone: a generator on an id another test saved a mark ahead for would wait it out. */
    private final String base = "/contract-" + TESTS.incrementAndGet() + "/workers";

    @Override
    protected WorkerIdAssigner newAssigner() {
        return ZooKeeperWorkerIdAssigner.builder(zk.connectString()).sessionTimeout(ZooKeeperIdTestSupport.SESSION)
                .basePath(base).build();
    }
}
