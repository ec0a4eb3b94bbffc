package io.distkit.id.backends.zookeeper;

import io.distkit.id.IdGenerator;
import io.distkit.testkit.id.IdGeneratorContract;
import io.distkit.testkit.server.ZooKeeperCluster;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The id contract on {@link ZooKeeperSequenceCounter}: every generator a client of its own (as another process
 * would have) on one counter node. Every id is a round trip, so the concurrent tests ask for fewer ids.
 */
class ZooKeeperCounterContractTest extends IdGeneratorContract {

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperIdTestSupport.server();

    @Override
    protected IdGenerator newGenerator() {
        return ZooKeeperSequenceCounter.builder(zk.connectString()).path("/contract/counters/orders").build();
    }

    @Override
    protected int idsPerThread() {
        return 400;
    }
}
