package io.distkit.id.backends.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.testkit.Closer;
import io.distkit.testkit.id.IdChecks;
import io.distkit.testkit.server.Servers;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link ZooKeeperSequenceCounter} beyond the id contract: the end of the 32-bit sequence (F24), a counter node
 * deleted or re-created behind the generators' backs, bad input and an unreachable ensemble.
 */
class ZooKeeperSequenceCounterTest {

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperIdTestSupport.server();

    private static final AtomicInteger TESTS = new AtomicInteger();
    private static CuratorFramework operator;
    private final Closer toClose = new Closer();
    private String path;

    @BeforeAll
    static void connectOperator() throws InterruptedException {
        operator = ZooKeeperIdTestSupport.operator(zk);
    }

    @AfterAll
    static void closeOperator() {
        operator.close();
    }

    @BeforeEach
    void freshPath() {
        path = "/counter-test/c" + TESTS.incrementAndGet();
    }

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    private ZooKeeperSequenceCounter counter() {
        return toClose.add(ZooKeeperSequenceCounter.builder(zk.connectString()).path(path).build());
    }

    private ZooKeeperSequenceCounter counter(long maxId) {
        return toClose.add(ZooKeeperSequenceCounter.builder(zk.connectString()).path(path).maxId(maxId).build());
    }

    private int version() throws Exception {
        return operator.checkExists().forPath(path).getVersion();
    }

    @Test
    @DisplayName("ids are the counter node's version: 1, 2, 3 across generators; a batch is consecutive versions in one transaction")
    void idsAreTheNodesVersion() throws Exception {
        ZooKeeperSequenceCounter a = counter();
        ZooKeeperSequenceCounter b = counter();
        assertThat(a.nextId()).isEqualTo(1);
        assertThat(b.nextId()).isEqualTo(2);
        assertThat(a.nextIds(5)).containsExactly(3, 4, 5, 6, 7);
        assertThat(version()).isEqualTo(7);
        long[] large = b.nextIds(2500); // three transactions of at most 1,000 writes
        assertThat(large).containsExactly(LongStream.rangeClosed(8, 2507).toArray());
        assertThat(operator.getChildren().forPath(path)).as("nothing but the guard child").containsExactly("open");
    }

    /**
     * F24. The end of the sequence is reached with a low test-only bound ({@code maxId(10)}): ZooKeeper offers no way
     * to set a node's version, and the real end takes 2^31 writes. The counter treats the bound exactly as the real
     * end (the same comparison; a wrapped, negative version fails it too).
     */
    @Test
    @DisplayName("F24: the end of the sequence is an IdGenerationException saying what happened and what to do; no id past it, nothing wraps, every client is stopped")
    void endOfTheSequenceIsAnExplicitError() throws Exception {
        ZooKeeperSequenceCounter counter = counter(10);
        long[] issued = counter.nextIds(8);
        assertThat(issued).containsExactly(1, 2, 3, 4, 5, 6, 7, 8);
        assertThatThrownBy(() -> counter.nextIds(3)).as("a batch that would cross the end: none of it")
                .isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("is used up")
                .hasMessageContaining("past the last id 10")
                .hasMessageContaining("Move to a counter of a new name");
        assertThat(operator.checkExists().forPath(path + "/open")).as("the counter is closed for every client").isNull();

        // every client refuses from now on, also one with the real bound, which the version is far below
        ZooKeeperSequenceCounter unbounded = counter();
        int before = version();
        assertThatThrownBy(unbounded::nextId).isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("has no child open").hasMessageContaining("used up");
        assertThatThrownBy(counter::nextId).isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("has no child open");
        assertThat(version()).as("no write took effect: the sequence stays where it ended").isEqualTo(before);
    }

    /**
     * F24 with single ids far from the end, which are plain {@code setData} writes without the guard child's check:
     * a generator that last saw an id far below the end, when another client has used the counter up, sends one
     * unchecked write past the end, learns the end from its reply, and from then on writes checked (and fails).
     */
    @Test
    @DisplayName("F24: a generator far from the end writes single ids unchecked; after another used the counter up it makes one write past the end, then none")
    void uncheckedWritesStopAtTheEnd() throws Exception {
        ZooKeeperSequenceCounter far = counter(20); // checked from 10 on
        assertThat(far.nextId()).as("a first write, checked").isEqualTo(1);
        assertThat(far.nextId()).as("unchecked: far from the end").isEqualTo(2);
        ZooKeeperSequenceCounter near = counter(20);
        assertThat(near.nextIds(18)).containsExactly(LongStream.rangeClosed(3, 20).toArray());
        assertThatThrownBy(near::nextId).hasMessageContaining("is used up"); // version 21: sealed
        assertThat(operator.checkExists().forPath(path + "/open")).isNull();

        assertThatThrownBy(far::nextId).as("its unchecked write went through, and its reply is past the end")
                .isExactlyInstanceOf(IdGenerationException.class).hasMessageContaining("is used up");
        assertThat(version()).isEqualTo(22);
        assertThatThrownBy(far::nextId).as("checked from now on: refused without a write")
                .isExactlyInstanceOf(IdGenerationException.class).hasMessageContaining("has no child open");
        assertThat(version()).as("one write past the end for the generator that was far from it").isEqualTo(22);
    }

    /** Negative control for F24: without the bound, the same writes go on past 10 (the bound is what stops them). */
    @Test
    @DisplayName("F24 negative control: with the real bound the same sequence goes on past 10")
    void withoutTheBoundTheSequenceGoesOn() {
        ZooKeeperSequenceCounter counter = counter();
        counter.nextIds(8);
        assertThat(counter.nextIds(3)).containsExactly(9, 10, 11);
    }

    @Test
    @DisplayName("a counter node deleted behind a generator's back is reported, and not re-created by it")
    void deletedNodeIsDetected() throws Exception {
        ZooKeeperSequenceCounter counter = counter();
        assertThat(counter.nextIds(3)).containsExactly(1, 2, 3);
        operator.delete().deletingChildrenIfNeeded().forPath(path);

        assertThatThrownBy(counter::nextId).isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("was deleted").hasMessageContaining("repeat");
        assertThat(operator.checkExists().forPath(path)).as("not re-created: that would start again at 1").isNull();
    }

    @Test
    @DisplayName("a counter node deleted and re-created (its version back at 0) is detected by its czxid; no id repeats")
    void recreatedNodeIsDetected() throws Exception {
        ZooKeeperSequenceCounter counter = counter();
        long[] before = counter.nextIds(5);
        operator.delete().deletingChildrenIfNeeded().forPath(path);
        // re-created as this library creates a counter (with its guard child): only the czxid tells
        operator.transaction().forOperations(
                operator.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(path),
                operator.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(path + "/open"));

        assertThatThrownBy(counter::nextId).isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("deleted and created again").hasMessageContaining("would repeat ids");
        assertThatThrownBy(() -> counter.nextIds(10)).isExactlyInstanceOf(IdGenerationException.class);
        Map<String, long[]> ids = new LinkedHashMap<>();
        ids.put("before", before);
        IdChecks.distinct(ids).assertNoViolations();
    }

    @Test
    @DisplayName("a counter node created by hand, without its guard child, is refused with what to do")
    void nodeWithoutGuardIsRefused() throws Exception {
        operator.create().creatingParentsIfNeeded().forPath(path);
        assertThatThrownBy(counter()::nextId).isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("has no child open")
                .hasMessageContaining("create " + path + "/open");
        operator.create().forPath(path + "/open");
        assertThat(counter().nextId()).isEqualTo(1);
    }

    /** Negative control for the czxid check: writes of the same node by others are no re-creation. */
    @Test
    @DisplayName("negative control: an operator writing the counter node (same node) only skips an id")
    void writeOfTheSameNodeIsNoRecreation() throws Exception {
        ZooKeeperSequenceCounter counter = counter();
        assertThat(counter.nextId()).isEqualTo(1);
        Stat stat = operator.setData().forPath(path, "note".getBytes());
        assertThat(stat.getVersion()).isEqualTo(2);
        assertThat(counter.nextId()).isEqualTo(3);
    }

    @Test
    @DisplayName("bad input: a malformed connect string or path, a path under an ephemeral node, a batch out of range")
    void badInput() throws Exception {
        assertThatIllegalArgumentException().isThrownBy(() -> ZooKeeperSequenceCounter.builder("  "))
                .withMessageContaining("connectString");
        assertThatIllegalArgumentException().isThrownBy(() -> ZooKeeperSequenceCounter.builder("host:99999"))
                .withMessageContaining("out of range");
        assertThatIllegalArgumentException().isThrownBy(() -> ZooKeeperSequenceCounter.builder("h:1").path("ids"))
                .withMessageContaining("absolute");
        assertThatIllegalArgumentException().isThrownBy(() -> ZooKeeperSequenceCounter.builder("h:1").path("/a/"))
                .withMessageContaining("absolute");
        assertThatThrownBy(() -> ZooKeeperSequenceCounter.builder("h:1").build()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("no counter path set");

        operator.create().creatingParentsIfNeeded().withMode(CreateMode.EPHEMERAL).forPath(path);
        assertThatIllegalArgumentException()
                .isThrownBy(() -> ZooKeeperSequenceCounter.builder(zk.connectString()).path(path + "/orders").build())
                .withMessageContaining("is an ephemeral node").withMessageContaining(path);

        path = path + "-ok";
        ZooKeeperSequenceCounter counter = counter();
        assertThatIllegalArgumentException().isThrownBy(() -> counter.nextIds(0));
        assertThatIllegalArgumentException().isThrownBy(() -> counter.nextIds(1_000_001));
        counter.close();
        assertThatThrownBy(counter::nextId).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    @Test
    @DisplayName("unreachable servers: build fails within the command timeout with what to check")
    void unreachableServersFailWithinTheTimeout() {
        int port = Servers.freePort(); // nothing listens there
        long start = System.nanoTime();
        assertThatThrownBy(() -> ZooKeeperSequenceCounter.builder("127.0.0.1:" + port).path("/x")
                .commandTimeout(Duration.ofSeconds(1)).build())
                .isExactlyInstanceOf(IdSourceUnavailableException.class)
                .hasMessageContaining("could not connect to zookeeper 127.0.0.1:" + port + " within PT1S")
                .hasMessageContaining("reachable");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(4));
    }

    @Test
    @DisplayName("server stopped: nextId fails with IdSourceUnavailableException within the command timeout, and works again after a restart")
    void serverStoppedFailsWithinTheTimeout() {
        ZooKeeperSequenceCounter counter = toClose.add(ZooKeeperSequenceCounter.builder(zk.connectString()).path(path)
                .commandTimeout(Duration.ofSeconds(1)).build());
        long first = counter.nextId();
        zk.killServer(0);
        long start = System.nanoTime();
        assertThatThrownBy(counter::nextId).isExactlyInstanceOf(IdSourceUnavailableException.class)
                .hasMessageContaining(path).hasMessageContaining("within PT1S");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));
        zk.restartServer(0);
        long next = org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
                .until(counter::nextId, id -> id > 0);
        assertThat(next).isGreaterThan(first);
    }
}
