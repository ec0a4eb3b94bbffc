package io.distkit.lock.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.lock.ReadWriteLockClient;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A three-member ensemble that loses its leader while locks are held and waited for. */
@Timeout(90)
class ZooKeeperClusterFailureTest {

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperLockContractSupport.ensemble(3);

    private final List<AutoCloseable> closeables = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
        zk.heal();
    }

    private ReadWriteLockClient client() {
        ReadWriteLockClient client = ZooKeeperLockClient.builder(zk.connectString())
                .sessionTimeout(Duration.ofSeconds(60)).commandTimeout(Duration.ofSeconds(3))
                .defaultOptions(LockOptions.builder().leaseTime(Duration.ofSeconds(60)).build()).build();
        closeables.add(client);
        return client;
    }

    @Test
    @DisplayName("waiters keep their place through a leader election (attempts answer unavailable) and are served in turn")
    void waitersSurviveLeaderElection() throws Exception {
        String name = "election-" + UUID.randomUUID();
        String directory = ZooKeeperLockClient.lockDirectory(ZooKeeperLockClient.DEFAULT_BASE_PATH, name);
        LockHandle holder = client().lock(name).acquire();
        List<CompletableFuture<LockHandle>> waiters = new ArrayList<>();
        CuratorFramework admin = CuratorFrameworkFactory.newClient(zk.connectString(), new RetryOneTime(100));
        admin.start();
        closeables.add(admin::close);
        for (int i = 0; i < 3; i++) {
            waiters.add(client().lock(name).acquireAsync(Duration.ofSeconds(60)));
            int expected = i + 2;
            await().atMost(Duration.ofSeconds(10)).until(() -> admin.getChildren().forPath(directory).size() == expected);
        }

        int leader = zk.leaderIndex().orElseThrow();
        zk.killServer(leader);
        int[] others = IntStream.range(0, zk.size()).filter(i -> i != leader).toArray();
        zk.awaitServing(others);

        // a backend that failed attempts on a lost connection would have failed the waiters by now
        assertThat(waiters).noneMatch(CompletableFuture::isCompletedExceptionally);
        holder.release(); // the holder's session survived the election: its node is deleted now
        long previous = holder.fencingToken();
        for (CompletableFuture<LockHandle> waiter : waiters) {
            LockHandle handle = waiter.get(20, TimeUnit.SECONDS);
            assertThat(handle.fencingToken()).as("czxids grow across the election").isGreaterThan(previous);
            previous = handle.fencingToken();
            handle.release();
        }
        assertThat(admin.getChildren().forPath(directory)).isEmpty();
    }
}
