package io.distkit.id.backends.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.id.IdGenerator;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.IdStore;
import io.distkit.id.IdStores;
import io.distkit.id.Segment;
import io.distkit.id.WorkerLease;
import io.distkit.testkit.Closer;
import io.distkit.testkit.server.Servers;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.time.Duration;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@link ZooKeeperIdStore} opened by URI through {@link IdStores}: its three parts on one client, and close. */
class ZooKeeperIdStoreTest {

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperIdTestSupport.server();

    private static CuratorFramework operator;
    private final Closer toClose = new Closer();

    @BeforeAll
    static void connectOperator() throws InterruptedException {
        operator = ZooKeeperIdTestSupport.operator(zk);
    }

    @AfterAll
    static void closeOperator() {
        operator.close();
    }

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    @Test
    @DisplayName("zookeeper://host:port/chroot: counters, segments and worker ids under <chroot>/distkit/ids; close ends them all")
    void storeByUri() throws Exception {
        IdStore store = toClose.add(IdStores.connect("zookeeper://" + zk.connectString() + "/store-test"));
        assertThat(store.describe()).contains("/distkit/ids").contains(zk.connectString()).contains("/store-test");

        IdGenerator orders = store.counter("orders");
        assertThat(orders.nextId()).isEqualTo(1);
        assertThat(store.counter("orders").nextId()).as("the same sequence").isEqualTo(2);
        assertThat(orders.nextIds(3)).containsExactly(3, 4, 5);
        assertThat(store.counter("a/b").nextId()).as("its own sequence").isEqualTo(1);
        assertThat(store.counter("a%2Fb").nextId()).as("not a/b's").isEqualTo(1);
        assertThat(operator.checkExists().forPath("/store-test/distkit/ids/counters/orders")).isNotNull();

        assertThat(store.segmentAllocator()).isSameAs(store.segmentAllocator());
        assertThat(store.segmentAllocator().allocate("items", 100)).isEqualTo(new Segment("items", 1, 101));
        assertThat(operator.getData().forPath("/store-test/distkit/ids/segments/items")).asString().isEqualTo("101");

        assertThat(store.workerIdAssigner()).isSameAs(store.workerIdAssigner());
        WorkerLease lease = store.workerIdAssigner().acquire(4);
        assertThat(lease.workerId()).isZero();
        try (IdStore other = IdStores.connect("zookeeper://" + zk.connectString() + "/store-test")) {
            assertThat(other.workerIdAssigner().acquire(4).workerId()).as("another process's store").isEqualTo(1);
            assertThat(other.counter("orders").nextId()).isEqualTo(6);
        }
        assertThat(operator.getChildren().forPath("/store-test/distkit/ids/workers/locks/worker-0")).hasSize(1);
        ZooKeeperWorkerMarkStore marks = new ZooKeeperWorkerMarkStore(ZooKeeperAccess.of(
                operator.usingNamespace("store-test"), Duration.ofSeconds(5)), "/distkit/ids/workers/marks",
                "/distkit/ids/workers/locks");
        assertThat(marks.heldLockNames("worker-")).as("read within the namespace").containsExactly("worker-0");

        store.close();
        store.close(); // idempotent
        assertThat(lease.isValid()).isFalse();
        assertThatThrownBy(orders::nextId).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThatThrownBy(() -> store.counter("orders")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(store::segmentAllocator).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(store::workerIdAssigner).isInstanceOf(IllegalStateException.class);
        assertThat(operator.getChildren().forPath("/store-test/distkit/ids/workers/locks/worker-0"))
                .as("the lease was released on close").isEmpty();
    }

    @Test
    @DisplayName("malformed zookeeper:// URIs and counter names are refused with the form expected")
    void malformedUris() throws Exception {
        for (String uri : new String[] {"zookeeper:///ids", "zookeeper:host:2181", "zookeeper://h:2181?x=1",
                "zookeeper://user@h:2181", "zookeeper://h:2181,,h2:2181", "zookeeper://h:99999", "zookeeper://h:2181/a//b"}) {
            assertThatIllegalArgumentException().as(uri).isThrownBy(() -> IdStores.connect(uri))
                    .withMessageContaining("zookeeper://host:port[,host:port...][/chroot]");
        }
        try (IdStore store = IdStores.connect("zookeeper://" + zk.connectString())) {
            assertThatIllegalArgumentException().isThrownBy(() -> store.counter(" ")).withMessageContaining("blank");
            assertThatIllegalArgumentException().isThrownBy(() -> store.counter("x".repeat(129)))
                    .withMessageContaining("128");
        }
    }

    @Test
    @DisplayName("an unreachable ensemble fails within the command timeout with what to check")
    void unreachable() {
        int port = Servers.freePort();
        long start = System.nanoTime();
        assertThatThrownBy(() -> ZooKeeperIdStore.builder("127.0.0.1:" + port).commandTimeout(Duration.ofSeconds(1))
                .build())
                .isExactlyInstanceOf(IdSourceUnavailableException.class)
                .hasMessageContaining("could not connect to zookeeper 127.0.0.1:" + port);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(4));
    }
}
