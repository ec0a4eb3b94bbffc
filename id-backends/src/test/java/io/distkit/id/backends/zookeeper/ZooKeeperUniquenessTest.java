package io.distkit.id.backends.zookeeper;

import io.distkit.id.backends.StoreUniquenessContract;
import io.distkit.testkit.server.ZooKeeperCluster;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** 4 JVMs killed at random on one ZooKeeper server: no id twice. */
@Timeout(150)
class ZooKeeperUniquenessTest extends StoreUniquenessContract {

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperIdTestSupport.server();

    @Override
    protected String storeUri() {
        return "zookeeper://" + zk.connectString() + "/uniqueness";
    }
}
