package io.distkit.lock.zookeeper;

import io.distkit.testkit.server.ZooKeeperCluster;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The lock contract on a three-member ZooKeeper ensemble; each client may talk to any member. */
class ZooKeeperClusterLockContractTest extends ZooKeeperLockContractSupport {

    @RegisterExtension
    static ZooKeeperCluster zk = ensemble(3);

    @Override
    ZooKeeperCluster zk() {
        return zk;
    }
}
