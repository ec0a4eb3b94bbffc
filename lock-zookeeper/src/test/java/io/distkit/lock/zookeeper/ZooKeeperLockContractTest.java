package io.distkit.lock.zookeeper;

import io.distkit.testkit.server.ZooKeeperCluster;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The lock contract on a standalone ZooKeeper server. */
class ZooKeeperLockContractTest extends ZooKeeperLockContractSupport {

    @RegisterExtension
    static ZooKeeperCluster zk = ensemble(1);

    @Override
    ZooKeeperCluster zk() {
        return zk;
    }
}
