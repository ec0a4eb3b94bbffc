package io.distkit.id.backends.zookeeper;

import io.distkit.testkit.server.ZooKeeperCluster;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;

/** The ZooKeeper the id tests run on, and a plain Curator client to look at it and change it behind the backends' backs. */
final class ZooKeeperIdTestSupport {

    /** The session timeout the tests ask for: the server grants up to 30 s (tick 500 ms, maxSessionTimeout 30 s). */
    static final Duration SESSION = Duration.ofSeconds(30);

    private ZooKeeperIdTestSupport() {}

    /** One member; sessions up to 30 s, so that a "long" lease (20 s) fits a session. */
    static ZooKeeperCluster server() {
        return ZooKeeperCluster.builder().members(1).property("maxSessionTimeout", "30000").build();
    }

    /** A started, connected client of the test's own, for looking at nodes and changing them as an operator would. */
    static CuratorFramework operator(ZooKeeperCluster zk) throws InterruptedException {
        CuratorFramework curator = CuratorFrameworkFactory.builder().connectString(zk.connectString())
                .sessionTimeoutMs(10_000).connectionTimeoutMs(5_000).retryPolicy(new RetryOneTime(100)).build();
        curator.start();
        if (!curator.blockUntilConnected(10, TimeUnit.SECONDS)) {
            curator.close();
            throw new IllegalStateException("no connection to " + zk);
        }
        return curator;
    }
}
