package io.distkit.lock.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.distkit.lock.spi.Attempt;
import io.distkit.lock.spi.LockMode;
import io.distkit.lock.spi.LockRequest;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.curator.RetryPolicy;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The backend's handling of nodes it did not expect, driven one attempt at a time: several nodes of one
 * acquisition (a create applied twice), a node of another session, nodes left behind by a given-up acquisition.
 * The nodes such failures leave are made here directly, in the session the backend uses or in another one.
 */
@Timeout(60)
class ZooKeeperBackendIntegrationTest {

    private static final String BASE = "/distkit-backend-test";
    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperLockContractSupport.ensemble(1);

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private CuratorFramework shared;
    private CuratorFramework other;
    private ZooKeeperLockBackend backend;

    @BeforeEach
    void start() throws Exception {
        shared = curator();
        other = curator();
        ZooKeeperCalls calls = new ZooKeeperCalls(TIMEOUT, "zookeeper test");
        backend = new ZooKeeperLockBackend(shared, false, BASE, calls, 60_000);
        closeables.add(backend::close);
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private CuratorFramework curator() throws InterruptedException {
        CuratorFramework curator = CuratorFrameworkFactory.newClient(zk.connectString(), 60_000, 5_000,
                new RetryOneTime(100));
        curator.start();
        closeables.add(curator::close);
        assertThat(curator.blockUntilConnected(10, TimeUnit.SECONDS)).isTrue();
        return curator;
    }

    private static LockRequest request(String name, String owner) {
        return new LockRequest(name, LockMode.EXCLUSIVE, Duration.ofSeconds(30), owner, true, true, true);
    }

    /** A node as an acquisition with this owner value creates it, in {@code session}'s session; its full path. */
    private static String ownerNode(CuratorFramework session, String directory, String owner) throws Exception {
        return session.create().creatingParentsIfNeeded().withProtection().withMode(CreateMode.EPHEMERAL_SEQUENTIAL)
                .forPath(NodeNames.createPath(directory, LockMode.EXCLUSIVE, owner),
                        owner.getBytes(StandardCharsets.UTF_8));
    }

    private List<String> childPaths(String directory) throws Exception {
        return other.getChildren().forPath(directory).stream().map(child -> directory + "/" + child).sorted().toList();
    }

    private static long czxid(CuratorFramework session, String path) throws Exception {
        Stat stat = session.checkExists().forPath(path);
        assertThat(stat).as(path).isNotNull();
        return stat.getCzxid();
    }

    private static Attempt<ZooKeeperLease> attempt(ZooKeeperAcquisition acquisition) throws Exception {
        return acquisition.attempt().toCompletableFuture().get(20, TimeUnit.SECONDS);
    }

    @Test
    @DisplayName("an acquisition with several nodes (a create applied twice) keeps the lowest and deletes the others")
    void extraNodesOfOneAcquisitionAreDeletedAndTheLowestKept() throws Exception {
        String name = "twice-" + UUID.randomUUID();
        String owner = "owner-" + UUID.randomUUID();
        String directory = NodeNames.directory(BASE, name, LockMode.EXCLUSIVE);
        String lowest = ownerNode(shared, directory, owner);
        String someoneElse = ownerNode(other, directory, "someone-else");
        ownerNode(shared, directory, owner); // the late retry of a create that timed out

        ZooKeeperAcquisition acquisition = (ZooKeeperAcquisition) backend.newAcquisition(request(name, owner));
        Attempt<ZooKeeperLease> answer = attempt(acquisition);

        assertThat(answer).as("our own nodes never block us").isInstanceOf(Attempt.Acquired.class);
        ZooKeeperLease lease = ((Attempt.Acquired<ZooKeeperLease>) answer).lease();
        assertThat(lease.path()).isEqualTo(lowest);
        assertThat(lease.token()).isEqualTo(czxid(other, lowest));
        assertThat(childPaths(directory)).containsExactlyInAnyOrder(lowest, someoneElse);

        acquisition.finish(true).toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertThat(backend.release(lease).toCompletableFuture().get(10, TimeUnit.SECONDS)).isTrue();
        assertThat(childPaths(directory)).containsExactly(someoneElse);
    }

    @Test
    @DisplayName("a node with our owner value in another session is deleted, never granted")
    void aNodeOfAnotherSessionIsNeverGranted() throws Exception {
        String name = "foreign-" + UUID.randomUUID();
        String owner = "owner-" + UUID.randomUUID();
        String directory = NodeNames.directory(BASE, name, LockMode.EXCLUSIVE);
        String stale = ownerNode(other, directory, owner);
        long staleToken = czxid(other, stale);

        ZooKeeperAcquisition acquisition = (ZooKeeperAcquisition) backend.newAcquisition(request(name, owner));
        Attempt<ZooKeeperLease> answer = attempt(acquisition);

        assertThat(answer).isInstanceOf(Attempt.Acquired.class);
        ZooKeeperLease lease = ((Attempt.Acquired<ZooKeeperLease>) answer).lease();
        long sharedSession = shared.getZookeeperClient().getZooKeeper().getSessionId();
        assertThat(lease.sessionId()).isEqualTo(sharedSession);
        assertThat(lease.token()).isNotEqualTo(staleToken);
        assertThat(childPaths(directory)).containsExactly(lease.path());
        assertThat(other.checkExists().forPath(lease.path()).getEphemeralOwner()).isEqualTo(sharedSession);
        acquisition.finish(true).toCompletableFuture().get(10, TimeUnit.SECONDS);
        backend.release(lease).toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    @Test
    @DisplayName("nodes of a given-up acquisition are deleted in the background though no lock is held or renewed")
    void abandonedNodesGoWithoutRenewals() throws Exception {
        String name = "ghost-" + UUID.randomUUID();
        String owner = "owner-" + UUID.randomUUID();
        String directory = NodeNames.directory(BASE, name, LockMode.EXCLUSIVE);
        ownerNode(shared, directory, owner);
        String someoneElse = ownerNode(other, directory, "someone-else");

        backend.abandon(directory, NodeNames.encode(owner), System.nanoTime());

        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(childPaths(directory)).containsExactly(someoneElse));
    }

    @Test
    @DisplayName("Curator retries our calls for less than the command timeout, so none is retried after we gave up")
    void curatorsRetryBudgetIsBelowTheCommandTimeout() {
        RetryPolicy policy = ZooKeeperCalls.retryPolicy(Duration.ofSeconds(2));
        assertThat(policy.allowRetry(1, 900, (time, unit) -> {})).isTrue();
        assertThat(policy.allowRetry(1, 1_100, (time, unit) -> {})).isFalse();
        assertThat(policy.allowRetry(1, 2_000, (time, unit) -> {})).isFalse();
    }
}
