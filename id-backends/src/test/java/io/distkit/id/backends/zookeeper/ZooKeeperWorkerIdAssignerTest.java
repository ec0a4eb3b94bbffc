package io.distkit.id.backends.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.testkit.server.Servers;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.CreateMode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@link ZooKeeperWorkerIdAssigner} beyond the contract: its layout, the lease against the session, bad input. */
class ZooKeeperWorkerIdAssignerTest {

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperIdTestSupport.server();

    private static CuratorFramework operator;

    @BeforeAll
    static void connectOperator() throws InterruptedException {
        operator = ZooKeeperIdTestSupport.operator(zk);
    }

    @AfterAll
    static void closeOperator() {
        operator.close();
    }

    @Test
    @DisplayName("worker n: a lock under <base>/locks/worker-n, its mark '<token> <mark>' in <base>/marks/worker-n; the default lease is 2/3 of the session")
    void layoutAndDefaultLease() throws Exception {
        try (WorkerIdAssigner assigner = ZooKeeperWorkerIdAssigner.builder(zk.connectString()).basePath("/layout")
                .sessionTimeout(Duration.ofSeconds(9)).build()) {
            assertThat(assigner.toString()).contains("lease PT6S");
            WorkerLease lease = assigner.acquire(8);
            assertThat(lease.workerId()).isZero();
            lease.saveLastTimestamp(1234);
            assertThat(operator.getChildren().forPath("/layout/locks/worker-0")).hasSize(1);
            String mark = new String(operator.getData().forPath("/layout/marks/worker-0"), StandardCharsets.UTF_8);
            assertThat(mark).endsWith(" 1234");
            long token = Long.parseLong(mark.substring(0, mark.indexOf(' ')));
            String lockNode = operator.getChildren().forPath("/layout/locks/worker-0").get(0);
            assertThat(token).as("the fencing token: the lock node's czxid")
                    .isEqualTo(operator.checkExists().forPath("/layout/locks/worker-0/" + lockNode).getCzxid());
        }
        assertThat(operator.getChildren().forPath("/layout/locks/worker-0")).as("released on close").isEmpty();
    }

    @Test
    @DisplayName("heldLockNames: the worker locks with a node now, read in two requests; released ones drop out")
    void heldLockNamesListsTheLocksWithANode() {
        ZooKeeperWorkerMarkStore marks = new ZooKeeperWorkerMarkStore(ZooKeeperAccess.of(operator, Duration.ofSeconds(5)),
                "/held/marks", "/held/locks");
        assertThat(marks.heldLockNames("worker-")).as("no lock directory yet").isEmpty();
        try (WorkerIdAssigner assigner = ZooKeeperWorkerIdAssigner.builder(zk.connectString()).basePath("/held")
                .sessionTimeout(ZooKeeperIdTestSupport.SESSION).build()) {
            WorkerLease first = assigner.acquire(8);
            WorkerLease second = assigner.acquire(8);
            WorkerLease third = assigner.acquire(8);
            assertThat(marks.heldLockNames("worker-")).containsExactlyInAnyOrder("worker-0", "worker-1", "worker-2");
            second.close();
            assertThat(marks.heldLockNames("worker-")).containsExactlyInAnyOrder("worker-0", "worker-2");
            assertThat(marks.heldLockNames("other-")).isEmpty();
            assertThat(assigner.acquire(8).workerId()).isEqualTo(1);
            first.close();
            third.close();
        }
    }

    @Test
    @DisplayName("a lease longer than the granted session timeout, or an ephemeral base path, is refused at build with what to do")
    void badSettingsAreRefusedAtBuild() throws Exception {
        assertThatIllegalArgumentException()
                .isThrownBy(() -> ZooKeeperWorkerIdAssigner.builder(zk.connectString()).sessionTimeout(Duration.ofSeconds(4))
                        .leaseTime(Duration.ofSeconds(10)).build())
                .withMessageContaining("leaseTime PT10S is longer than the session timeout PT4S")
                .withMessageContaining("use a leaseTime of at most PT4S");
        operator.create().withMode(CreateMode.EPHEMERAL).forPath("/ephemeral-workers");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> ZooKeeperWorkerIdAssigner.builder(zk.connectString()).basePath("/ephemeral-workers")
                        .build())
                .withMessageContaining("is an ephemeral node");
        assertThatIllegalArgumentException().isThrownBy(() -> ZooKeeperWorkerIdAssigner.builder("h:1").basePath("x"))
                .withMessageContaining("absolute");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> ZooKeeperWorkerIdAssigner.builder("h:1").leaseTime(Duration.ofMillis(1)));
    }

    @Test
    @DisplayName("an unreachable ensemble fails the build within the command timeout")
    void unreachable() {
        int port = Servers.freePort();
        long start = System.nanoTime();
        assertThatThrownBy(() -> ZooKeeperWorkerIdAssigner.builder("127.0.0.1:" + port)
                .commandTimeout(Duration.ofSeconds(1)).build())
                .isExactlyInstanceOf(IdSourceUnavailableException.class)
                .hasMessageContaining("could not connect to zookeeper 127.0.0.1:" + port);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(4));
    }
}
