package io.distkit.lock.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.Closer;
import io.distkit.testkit.history.Checkers;
import io.distkit.testkit.history.LockRecorder;
import io.distkit.testkit.history.LockRecorder.Held;
import io.distkit.testkit.server.FaultProxy;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryNTimes;
import org.apache.curator.retry.RetryOneTime;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * F13, the ambiguous acquire: the create of the acquisition's node is applied on the server and its reply is
 * lost. The client under test reaches the server through a {@link FaultProxy} that swallows every reply
 * (server to client) from just before the acquire until the server shows the node; then the proxy heals, which
 * resets that connection, and the client reconnects in the same session, where the node still lives.
 *
 * <p>distkit's acquisition must neither enter twice (two nodes of its own, two grants) nor leave an orphan: a
 * node of its session that nobody will delete, which would block the lock until the session ends. Curator's
 * protected mode (the node's name carries a random id the retry looks for) and the owner value in the name let
 * it find the node it made. The negative control is the naive recipe, a plain {@code EPHEMERAL_SEQUENTIAL}
 * create retried by Curator after the connection loss: it makes a second node, and the first, lower one is an
 * orphan that blocks its own creator and everyone behind it until the session ends; the orphan check that
 * distkit passes flags it.
 *
 * <p>An acquire that gives up after its create was applied (its command timeout passes while the connection
 * looks alive) must leave no node either; its clean-up runs into the same lost replies, so the node is left to
 * the backend's background sweep, which runs on its own timer, in a client that holds no renewed lock too.
 */
@Timeout(90)
class ZooKeeperAmbiguousAcquireFailureTest {

    private static final Duration SESSION = Duration.ofSeconds(10);
    private static final Duration LEASE = Duration.ofSeconds(10);
    /** The command timeout of the client whose acquire fails: short, so that it fails while connected. */
    private static final Duration COMMAND_TIMEOUT_OF_FAILING = Duration.ofSeconds(1);

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperLockContractSupport.ensemble(1);

    private final Closer closer = new Closer();
    private CuratorFramework admin;

    @AfterEach
    void close() throws Exception {
        closer.close();
    }

    private FaultProxy proxy() {
        String[] hostPort = zk.connectString(0).split(":");
        FaultProxy proxy = FaultProxy.builder().target(hostPort[0], Integer.parseInt(hostPort[1])).build();
        proxy.start();
        closer.add(proxy);
        return proxy;
    }

    private LockClient client(String connectString, Duration commandTimeout) {
        return closer.add(ZooKeeperLockClient.builder(connectString).sessionTimeout(SESSION)
                .commandTimeout(commandTimeout)
                .defaultOptions(LockOptions.builder().leaseTime(LEASE).build()).build());
    }

    private CuratorFramework admin() throws InterruptedException {
        if (admin == null) {
            admin = curator(zk.connectString(), new RetryOneTime(100));
        }
        return admin;
    }

    private CuratorFramework curator(String connectString, org.apache.curator.RetryPolicy retry)
            throws InterruptedException {
        CuratorFramework curator = CuratorFrameworkFactory.builder().connectString(connectString)
                .sessionTimeoutMs((int) SESSION.toMillis()).connectionTimeoutMs(5_000).retryPolicy(retry).build();
        curator.start();
        closer.add(curator::close);
        assertThat(curator.blockUntilConnected(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        return curator;
    }

    private static String directory(String name) {
        return ZooKeeperLockClient.lockDirectory(ZooKeeperLockClient.DEFAULT_BASE_PATH, name);
    }

    /** The lock's nodes, in queue order, as the server has them. */
    private List<Node> nodes(String directory) throws Exception {
        if (admin().checkExists().forPath(directory) == null) {
            return List.of();
        }
        List<Node> nodes = new ArrayList<>();
        for (String child : admin().getChildren().forPath(directory)) {
            Stat stat = admin().checkExists().forPath(directory + "/" + child);
            if (stat != null) {
                nodes.add(new Node(child, stat.getCzxid(), stat.getEphemeralOwner()));
            }
        }
        nodes.sort(Comparator.comparing(n -> n.child().substring(n.child().length() - NodeNames.SEQUENCE_DIGITS)));
        return nodes;
    }

    /** A node of a lock directory: its name, czxid and owning session. */
    private record Node(String child, long czxid, long session) {}

    /**
     * The orphan check: the nodes of {@code session} in the directory other than the one it knows as its own
     * ({@code ownCzxid}, or none: -1). Any such node outlives every acquisition and blocks the lock.
     */
    private List<Node> orphans(String directory, long session, long ownCzxid) throws Exception {
        return nodes(directory).stream().filter(n -> n.session() == session && n.czxid() != ownCzxid).toList();
    }

    /** The session that owns the lock's only node not in {@code known} (by czxid). */
    private long sessionOfNewNode(String directory, long... known) throws Exception {
        List<Node> fresh = nodes(directory).stream()
                .filter(n -> java.util.Arrays.stream(known).noneMatch(k -> k == n.czxid())).toList();
        assertThat(fresh).as("the applied create's node").hasSize(1);
        return fresh.get(0).session();
    }

    @Test
    @DisplayName("F13: the reply of the acquire's create is lost: the client finds its node, enters once and leaves no orphan")
    void aLostCreateReplyIsResolvedToTheOneNodeItMade() throws Exception {
        FaultProxy proxy = proxy();
        LockClient cut = client("127.0.0.1:" + proxy.port(), Duration.ofSeconds(5));
        LockClient other = client(zk.connectString(), Duration.ofSeconds(5));
        String name = "f13-" + UUID.randomUUID();
        String directory = directory(name);
        LockRecorder recorder = new LockRecorder();
        // the session is up and the lock's directory exists before the cut: only the node's create is lost
        cut.lock(name).tryAcquire().orElseThrow().release();

        proxy.blackHole(FaultProxy.Direction.SERVER_TO_CLIENT);
        CompletableFuture<Optional<Held>> acquire = LockRecorder.async("cut",
                () -> recorder.tryAcquire("cut", cut.lock(name), Duration.ofSeconds(20)));
        await().atMost(Duration.ofSeconds(5)).until(() -> nodes(directory).size() == 1); // applied, reply lost
        long session = sessionOfNewNode(directory);
        assertThat(acquire).as("no reply, no grant").isNotDone();
        proxy.heal(); // resets the connection: the client reconnects in the same session

        Held held = LockRecorder.await(acquire, Duration.ofSeconds(20)).orElseThrow();
        List<Node> nodes = nodes(directory);
        assertThat(nodes).as("one node, and it is the one the grant is for").extracting(Node::czxid)
                .containsExactly(held.token);
        assertThat(orphans(directory, session, held.token)).isEmpty();
        assertThat(recorder.tryAcquire("other", other.lock(name), Duration.ZERO)).as("held once, by cut").isEmpty();

        held.release();
        assertThat(nodes(directory)).as("nothing left behind").isEmpty();
        Held next = recorder.acquire("other", other.lock(name), Duration.ZERO);
        assertThat(next.token).isGreaterThan(held.token);
        next.release();

        Checkers.holderIntervals(recorder.history).assertValid();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }

    @Test
    @DisplayName("F13: a waiter whose create reply was lost keeps the one node it made and is served once, in its turn")
    void aWaiterWhoseCreateReplyWasLostIsServedOnceInItsTurn() throws Exception {
        FaultProxy proxy = proxy();
        LockClient cut = client("127.0.0.1:" + proxy.port(), Duration.ofSeconds(5));
        LockClient holderClient = client(zk.connectString(), Duration.ofSeconds(5));
        LockClient later = client(zk.connectString(), Duration.ofSeconds(5));
        String name = "f13-wait-" + UUID.randomUUID();
        String directory = directory(name);
        LockRecorder recorder = new LockRecorder();
        cut.lock(name + "-warm").tryAcquire().orElseThrow().release();
        Held holder = recorder.acquire("holder", holderClient.lock(name), Duration.ZERO);

        proxy.blackHole(FaultProxy.Direction.SERVER_TO_CLIENT);
        CompletableFuture<Optional<Held>> waiter = LockRecorder.async("cut",
                () -> recorder.tryAcquire("cut", cut.lock(name), Duration.ofSeconds(30)));
        await().atMost(Duration.ofSeconds(5)).until(() -> nodes(directory).size() == 2);
        long session = sessionOfNewNode(directory, holder.token);
        proxy.heal();
        // the waiter is queued again only if it lost its place; its node stays the second
        CompletableFuture<Optional<Held>> behind = LockRecorder.async("later",
                () -> recorder.tryAcquire("later", later.lock(name), Duration.ofSeconds(30)));
        await().atMost(Duration.ofSeconds(5)).until(() -> nodes(directory).size() == 3);
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(3))
                .until(() -> orphans(directory, session, -1).size() == 1 && !waiter.isDone());

        holder.release();
        Held cutHeld = LockRecorder.await(waiter, Duration.ofSeconds(10)).orElseThrow();
        assertThat(orphans(directory, session, cutHeld.token)).as("the only node of its session is the held one").isEmpty();
        assertThat(behind).as("the later client waits for the cut one").isNotDone();
        cutHeld.release();
        Held laterHeld = LockRecorder.await(behind, Duration.ofSeconds(10)).orElseThrow();
        laterHeld.release();
        assertThat(nodes(directory)).isEmpty();

        Checkers.holderIntervals(recorder.history).assertValid();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }

    /**
     * The acquire gives up (its command timeout passes while the connection looks alive, so the failure is
     * final) after its create was applied: the node must not outlive the failed acquire, or the lock is blocked
     * for everyone until the session ends (this client holds nothing else, so no renewal pass runs).
     */
    @Test
    @DisplayName("F13: an acquire that fails after its create was applied leaves no node behind")
    void aFailedAcquireWhoseCreateWasAppliedLeavesNoNodeBehind() throws Exception {
        failedAcquireLeavesNoNodeBehind(false);
    }

    /** The same, in a client that holds another (renewed) lock: its renewal passes delete the left-over node. */
    @Test
    @DisplayName("F13: an acquire that fails after its create was applied leaves no node behind in a client whose renewals run")
    void aFailedAcquireWhoseCreateWasAppliedLeavesNoNodeBehindWhileRenewalsRun() throws Exception {
        failedAcquireLeavesNoNodeBehind(true);
    }

    private void failedAcquireLeavesNoNodeBehind(boolean holdingAnother) throws Exception {
        FaultProxy proxy = proxy();
        LockClient cut = client("127.0.0.1:" + proxy.port(), COMMAND_TIMEOUT_OF_FAILING);
        LockClient holderClient = client(zk.connectString(), Duration.ofSeconds(5));
        LockClient later = client(zk.connectString(), Duration.ofSeconds(5));
        String name = "f13-fail-" + UUID.randomUUID();
        String directory = directory(name);
        LockRecorder recorder = new LockRecorder();
        LockHandle other = cut.lock(name + "-other", LockOptions.builder().leaseTime(LEASE)
                .renewInterval(Duration.ofSeconds(1)).build()).tryAcquire().orElseThrow();
        if (!holdingAnother) {
            other.release();
        }
        Held holder = recorder.acquire("holder", holderClient.lock(name), Duration.ZERO);

        proxy.blackHole(FaultProxy.Direction.SERVER_TO_CLIENT);
        assertThatThrownBy(() -> recorder.tryAcquire("cut", cut.lock(name), Duration.ZERO))
                .isInstanceOf(LockBackendException.class);
        assertThat(nodes(directory)).as("the create was applied").hasSize(2);
        long session = sessionOfNewNode(directory, holder.token);
        // the fault lasts past the clean-up the failed acquire starts (its replies are lost too, and it times out)
        Thread.sleep(COMMAND_TIMEOUT_OF_FAILING.multipliedBy(3).toMillis());
        proxy.heal();

        await().atMost(Duration.ofSeconds(8))
                .untilAsserted(() -> assertThat(orphans(directory, session, -1)).as("nodes left by the failed acquire")
                        .isEmpty());
        holder.release();
        Held laterHeld = recorder.acquire("later", later.lock(name), Duration.ofSeconds(2));
        laterHeld.release();
        Checkers.holderIntervals(recorder.history).assertValid();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }

    /**
     * The create is sent while the client has no connection (reset, and new connections refused): Curator
     * holds it and may send it once the connection is back, after the acquisition's own call timed out and its
     * next attempt listed the directory. The acquisition keeps its place (the failures count as passing while
     * disconnected) and is served once, or, if reconnecting took longer than it counts a failure as passing,
     * fails; either way, when it is done no node of its session is left.
     */
    @Test
    @DisplayName("F13: a create sent while disconnected, possibly retried by Curator after the call timed out, leaves one node only")
    void aCreateSentWhileDisconnectedLeavesOneNodeOnly() throws Exception {
        FaultProxy proxy = proxy();
        Duration commandTimeout = Duration.ofSeconds(2);
        LockClient cut = client("127.0.0.1:" + proxy.port(), commandTimeout);
        LockClient holderClient = client(zk.connectString(), Duration.ofSeconds(5));
        LockClient later = client(zk.connectString(), Duration.ofSeconds(5));
        String name = "f13-disconnected-" + UUID.randomUUID();
        String directory = directory(name);
        LockRecorder recorder = new LockRecorder();
        long session = sessionOf(cut, name, directory); // also makes the lock's directory
        Held holder = recorder.acquire("holder", holderClient.lock(name), Duration.ZERO);

        proxy.refuseConnections(true);
        proxy.resetAll();
        CompletableFuture<Optional<Held>> waiter = LockRecorder.async("cut",
                () -> recorder.tryAcquire("cut", cut.lock(name), Duration.ofSeconds(30)));
        // the create and the first listings are held back past the call's timeout, not past the session's
        Thread.sleep(commandTimeout.toMillis() + 1_000);
        proxy.refuseConnections(false);
        await().atMost(Duration.ofSeconds(10)).until(() -> waiter.isDone() || nodes(directory).size() >= 2);
        if (waiter.isCompletedExceptionally()) {
            // reconnecting took longer than the acquisition counts a lost connection as passing: it failed, and
            // must have left nothing behind (it is connected again, so its clean-up gets its replies)
            assertThatThrownBy(waiter::join).hasCauseInstanceOf(LockBackendException.class);
            System.out.println("F13 disconnected: the waiter failed: " + waiter.handle((v, e) -> e).join());
            await().atMost(Duration.ofSeconds(8)).untilAsserted(() -> assertThat(orphans(directory, session, -1))
                    .as("nodes left by the failed acquire").isEmpty());
            holder.release();
        } else {
            await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                    assertThat(orphans(directory, session, -1)).as("nodes of the cut session").hasSize(1));
            holder.release();
            Held cutHeld = LockRecorder.await(waiter, Duration.ofSeconds(10)).orElseThrow();
            assertThat(orphans(directory, session, cutHeld.token)).isEmpty();
            cutHeld.release();
        }
        Held laterHeld = recorder.acquire("later", later.lock(name), Duration.ofSeconds(3));
        laterHeld.release();
        assertThat(nodes(directory)).isEmpty();
        Checkers.holderIntervals(recorder.history).assertValid();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }

    /** The session of a client, read from the node of a lock it holds for a moment. */
    private long sessionOf(LockClient client, String name, String directory) throws Exception {
        LockHandle handle = client.lock(name).tryAcquire().orElseThrow();
        try {
            return nodes(directory).stream().filter(n -> n.czxid() == handle.fencingToken()).findFirst().orElseThrow()
                    .session();
        } finally {
            handle.release();
        }
    }

    /**
     * The negative control: the naive recipe creates a plain ephemeral sequential node, and Curator retries the
     * create after the lost reply. The session now has two nodes; the first is an orphan that nobody knows,
     * which comes before the creator's own node and so blocks the creator and everyone behind it for as long as
     * the session lives. The orphan check flags it.
     */
    @Test
    @DisplayName("F13 negative control: a plain EPHEMERAL_SEQUENTIAL create retried after a lost reply leaves an orphan that blocks the lock")
    void naiveRecipeLeavesAnOrphanThatBlocksTheLock() throws Exception {
        FaultProxy proxy = proxy();
        CuratorFramework naive = curator("127.0.0.1:" + proxy.port(), new RetryNTimes(5, 200));
        String name = "f13-naive-" + UUID.randomUUID();
        String directory = directory(name);
        admin().create().creatingParentsIfNeeded().forPath(directory);
        long session = naive.getZookeeperClient().getZooKeeper().getSessionId();

        proxy.blackHole(FaultProxy.Direction.SERVER_TO_CLIENT);
        CompletableFuture<String> create = LockRecorder.async("naive", () -> naive.create()
                .withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(directory + "/lock-naive-"));
        await().atMost(Duration.ofSeconds(5)).until(() -> nodes(directory).size() == 1);
        proxy.heal();
        String own = LockRecorder.await(create, Duration.ofSeconds(20));
        long ownCzxid = admin().checkExists().forPath(own).getCzxid();

        List<Node> orphans = orphans(directory, session, ownCzxid);
        System.out.println("F13 negative control: the naive recipe's node is " + own + "; its session also has "
                + orphans);
        assertThat(orphans).as("the orphan check flags the naive recipe").isNotEmpty();
        assertThat(nodes(directory).get(0)).as("the orphan is first in the queue: it holds the lock")
                .isEqualTo(orphans.get(0));

        // the orphan blocks distkit's clients on that lock too, for as long as the naive session lives
        LockClient other = client(zk.connectString(), Duration.ofSeconds(5));
        assertThat(other.lock(name).tryAcquire(Duration.ofSeconds(1))).isEmpty();
        naive.close();
        assertThat(other.lock(name).tryAcquire(Duration.ofSeconds(5))).as("free once the session ended").isPresent()
                .get().satisfies(h -> h.release());
    }
}
