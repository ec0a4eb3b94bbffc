package io.distkit.lock.zookeeper;

import io.distkit.lock.LockOptions;
import io.distkit.lock.ReadWriteLockClient;
import io.distkit.testkit.lock.LockClientContract;
import io.distkit.testkit.lock.ReadWriteLockContract;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.time.Duration;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;

/**
 * The lock contract and the read-write lock contract on a ZooKeeper ensemble; every client is its own Curator
 * client and session, as separate processes would be. The ensemble grants sessions of up to two minutes, so
 * that the contract's 60 s leases fit into the clients' 60 s sessions.
 */
abstract class ZooKeeperLockContractSupport extends LockClientContract {

    /** Sessions the contract's clients ask for: its longest lease is 60 s. */
    static final Duration SESSION = Duration.ofSeconds(60);

    private CuratorFramework admin;

    /** The ensemble under test. */
    abstract ZooKeeperCluster zk();

    /** An ensemble whose sessions may be as long as two minutes and as short as one second. */
    static ZooKeeperCluster ensemble(int members) {
        return ZooKeeperCluster.builder().members(members).property("maxSessionTimeout", "120000").build();
    }

    @AfterEach
    void closeAdmin() {
        if (admin != null) {
            admin.close();
        }
    }

    @Override
    protected ReadWriteLockClient newClient(LockOptions defaults) {
        return ZooKeeperLockClient.builder(zk().connectString()).sessionTimeout(SESSION).defaultOptions(defaults)
                .build();
    }

    private CuratorFramework admin() {
        if (admin == null) {
            admin = CuratorFrameworkFactory.newClient(zk().connectString(), new RetryOneTime(100));
            admin.start();
        }
        return admin;
    }

    /** Deletes every node of the lock, as an operator would (the holders' sessions stay). */
    @Override
    protected void deleteLockState(String lockName) {
        String directory = ZooKeeperLockClient.lockDirectory(ZooKeeperLockClient.DEFAULT_BASE_PATH, lockName);
        try {
            for (String child : admin().getChildren().forPath(directory)) {
                admin().delete().forPath(directory + "/" + child);
            }
        } catch (Exception e) {
            throw new IllegalStateException("could not delete the nodes under " + directory, e);
        }
    }

    /** Read-write locks on the same ensemble; sequence order serves them first come, first served. */
    @Nested
    @DisplayName("read-write locks")
    class ReadWrite extends ReadWriteLockContract {

        @Override
        protected ReadWriteLockClient newClient(LockOptions defaults) {
            return ZooKeeperLockContractSupport.this.newClient(defaults);
        }

        @Override
        protected boolean fifo() {
            return true;
        }

        @Override
        protected void awaitQueued(String name, int entries) {
            String directory = ZooKeeperLockClient.lockDirectory(ZooKeeperLockClient.DEFAULT_BASE_PATH, name) + "%rw";
            Awaitility.await().atMost(slack()).until(() -> admin().checkExists().forPath(directory) != null
                    && admin().getChildren().forPath(directory).size() >= entries);
        }
    }
}
