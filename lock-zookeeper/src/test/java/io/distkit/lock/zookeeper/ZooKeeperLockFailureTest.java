package io.distkit.lock.zookeeper;

import static io.distkit.testkit.history.LockRecorder.MS;
import static io.distkit.testkit.history.LockRecorder.async;
import static io.distkit.testkit.history.LockRecorder.awaitRenewalReply;
import static io.distkit.testkit.history.LockRecorder.deadlineNanos;
import static io.distkit.testkit.history.LockRecorder.drift;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockLostException;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.Closer;
import io.distkit.testkit.history.CheckResult;
import io.distkit.testkit.history.Checkers;
import io.distkit.testkit.history.FencedRegister;
import io.distkit.testkit.history.History;
import io.distkit.testkit.history.LockRecorder;
import io.distkit.testkit.history.LockRecorder.Held;
import io.distkit.testkit.process.LockHolderProcess;
import io.distkit.testkit.server.FaultProxy;
import io.distkit.testkit.server.FaultProxy.Direction;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.retry.RetryUntilElapsed;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Scenarios of docs/failures.md for the ZooKeeper lock on a single server: F1 (holder paused past its
 * session), F2 (a grant whose reply comes after the lease), F4 (holder cut off), F9 (slow renewal replies),
 * F12 (the session expired on the server while held) and F14 (stale release and renewal).
 *
 * <p>A ZooKeeper lock lives as long as the ephemeral node of its session, so "the lease ran out on the
 * server" means "the session expired and its node went with it". The server here grants sessions of at most
 * {@link #MAX_SESSION} (its {@code maxSessionTimeout}; a client that asks for more, like the child-JVM holder
 * with the default 30 s, gets that), and expires a silent session between its timeout and one tick
 * ({@link #TICK}) later.
 *
 * <p>Safety is asserted strictly, liveness with slack. "Only after the server expired the session" is
 * checked with {@link NodeWatch}: an admin session looks at the holder's node every few milliseconds, and
 * the send time of the last look that still found it is a moment at which the node (and so the session)
 * was alive on the server; the contender must have returned from its acquire after that. The new holder's
 * node is compared field by field ({@link #untouched}) after a stale holder acted. Where a check could pass
 * vacuously, a negative control runs through the same check: an unfenced register (F1), a deadline counted
 * from the reply (F9), an owner-blind release and renewal (F14).
 *
 * <p>Times are {@link System#nanoTime()}. The only sleeps are the length of F1's pause, which is the fault
 * itself, and the admin's polling interval.
 */
@Timeout(60)
class ZooKeeperLockFailureTest {

    /** The server tick: a session expires at most one tick after its timeout. */
    static final Duration TICK = ZooKeeperCluster.DEFAULT_TICK_TIME;
    /** The longest session the server grants: what the child-JVM holder gets. */
    static final Duration MAX_SESSION = Duration.ofSeconds(3);

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperCluster.builder().tickTime(TICK)
            .property("maxSessionTimeout", Long.toString(MAX_SESSION.toMillis())).build();

    /** One per test; a client that connects to its port instead of ZooKeeper's can be cut or delayed. */
    @RegisterExtension
    final FaultProxy proxy = FaultProxy.builder().target("127.0.0.1", port(zk.connectString(0))).build();

    private static CuratorFramework admin;
    private final Closer toClose = new Closer();

    @BeforeAll
    static void connectAdmin() throws Exception {
        admin = CuratorFrameworkFactory.newClient(zk.connectString(), (int) MAX_SESSION.toMillis(),
                (int) MAX_SESSION.toMillis(), new RetryOneTime(100));
        admin.start();
        assertThat(admin.blockUntilConnected(10, TimeUnit.SECONDS)).as("admin connected").isTrue();
    }

    @AfterAll
    static void closeAdmin() {
        if (admin != null) {
            admin.close();
        }
    }

    @AfterEach
    void closeAll() throws Exception {
        proxy.heal(); // first: a client still cut off would wait for its releases to time out
        toClose.close();
    }

    // ---- clients and server-side state -------------------------------------------------------------------

    private static int port(String hostPort) {
        return Integer.parseInt(hostPort.substring(hostPort.lastIndexOf(':') + 1));
    }

    private String viaProxy() {
        return proxy.host() + ":" + proxy.port();
    }

    /** A lock client with its own Curator client and session, of {@code session} (at most {@link #MAX_SESSION}). */
    private LockClient client(String connectString, Duration session, LockOptions options, Duration commandTimeout) {
        return toClose.add(ZooKeeperLockClient.builder(connectString).sessionTimeout(session).defaultOptions(options)
                .commandTimeout(commandTimeout).build());
    }

    private LockClient direct(Duration session, LockOptions options) {
        return client(zk.connectString(), session, options, Duration.ofSeconds(2));
    }

    /**
     * A started Curator client the test owns (to read or expire its session), configured as {@link
     * ZooKeeperLockClient#builder(String)} configures its own; closed after the test.
     */
    private CuratorFramework curator(String connectString, Duration session, Duration commandTimeout)
            throws Exception {
        int timeoutMillis = (int) commandTimeout.toMillis();
        CuratorFramework curator = CuratorFrameworkFactory.builder().connectString(connectString)
                .sessionTimeoutMs((int) session.toMillis()).connectionTimeoutMs(timeoutMillis)
                .retryPolicy(new RetryUntilElapsed(timeoutMillis, 100)).build();
        curator.start();
        toClose.add(curator::close);
        assertThat(curator.blockUntilConnected(10, TimeUnit.SECONDS)).as("connected to %s", connectString).isTrue();
        return curator;
    }

    private static long sessionId(CuratorFramework curator) throws Exception {
        return curator.getZookeeperClient().getZooKeeper().getSessionId();
    }

    private static LockOptions lease(Duration lease) {
        return LockOptions.builder().leaseTime(lease).build();
    }

    private static String uniqueName(String prefix) {
        return prefix + "-" + UUID.randomUUID();
    }

    private static String directory(String name) {
        return ZooKeeperLockClient.lockDirectory(ZooKeeperLockClient.DEFAULT_BASE_PATH, name);
    }

    /** The children of the lock's directory, lowest sequence first; none if the directory does not exist. */
    private static List<String> children(String name) throws Exception {
        try {
            List<String> children = new ArrayList<>(admin.getChildren().forPath(directory(name)));
            children.sort(Comparator.comparing(child -> child.substring(child.length() - NodeNames.SEQUENCE_DIGITS)));
            return children;
        } catch (KeeperException.NoNodeException e) {
            return List.of();
        }
    }

    /** A node as the server has it: path, stat (czxid is the fencing token, ephemeralOwner the session), data. */
    record NodeState(String path, Stat stat, byte[] data) {
        String child() {
            return path.substring(path.lastIndexOf('/') + 1);
        }
    }

    private static NodeState node(String path) throws Exception {
        Stat stat = new Stat();
        byte[] data = admin.getData().storingStatIn(stat).forPath(path);
        return new NodeState(path, stat, data);
    }

    /** The one node of the lock (its holder's, nobody waiting). */
    private static NodeState onlyNode(String name) throws Exception {
        List<String> children = children(name);
        assertThat(children).as("nodes of %s", name).hasSize(1);
        return node(directory(name) + "/" + children.get(0));
    }

    /**
     * Checks that a stale holder's operation left the current holder's lock as it was: the lock's directory
     * holds exactly that node, with the same czxid (the token), mzxid and version (never rewritten), session
     * (ephemeralOwner; a node that exists has a live session) and data (the owner value). Returns its verdict
     * instead of throwing, so that a negative control can show that it fails.
     */
    private static CheckResult untouched(String name, NodeState before) throws Exception {
        List<String> violations = new ArrayList<>();
        List<String> now = children(name);
        if (!now.equals(List.of(before.child()))) {
            violations.add("the nodes of " + name + " are " + now + ", expected only " + before.child());
        }
        NodeState after;
        try {
            after = node(before.path());
        } catch (KeeperException.NoNodeException e) {
            violations.add("the holder's node " + before.path() + " was deleted");
            return new CheckResult("new holder untouched", violations);
        }
        Stat was = before.stat();
        Stat is = after.stat();
        if (is.getCzxid() != was.getCzxid()) {
            violations.add("token (czxid) changed from " + was.getCzxid() + " to " + is.getCzxid());
        }
        if (is.getMzxid() != was.getMzxid() || is.getVersion() != was.getVersion()) {
            violations.add("node rewritten: mzxid " + was.getMzxid() + " -> " + is.getMzxid() + ", version "
                    + was.getVersion() + " -> " + is.getVersion());
        }
        if (is.getEphemeralOwner() != was.getEphemeralOwner()) {
            violations.add("session changed from 0x" + Long.toHexString(was.getEphemeralOwner()) + " to 0x"
                    + Long.toHexString(is.getEphemeralOwner()));
        }
        if (!Arrays.equals(after.data(), before.data())) {
            violations.add("owner value changed from '" + new String(before.data(), StandardCharsets.UTF_8) + "' to '"
                    + new String(after.data(), StandardCharsets.UTF_8) + "'");
        }
        return new CheckResult("new holder untouched", violations);
    }

    /**
     * Looks at a node from the admin session every 10 ms until it is gone or has another czxid. {@link
     * #lastSeenAlive()} is the send time of the last look that found it: the server answered that look after
     * it was sent, so the node, and the session it belongs to, was alive on the server at some moment after
     * that time.
     */
    private static final class NodeWatch implements AutoCloseable {
        private final NodeState node;
        private final Thread thread;
        private volatile long lastSeenAlive;
        private volatile boolean stopped;
        private final CompletableFuture<Long> goneSeenAt = new CompletableFuture<>();

        NodeWatch(NodeState node) {
            this.node = node;
            this.thread = new Thread(this::run, "failure-test-node-watch");
            thread.setDaemon(true);
            thread.start();
        }

        private void run() {
            try {
                while (!stopped) {
                    long sent = System.nanoTime();
                    Stat stat = admin.checkExists().forPath(node.path());
                    if (stat == null || stat.getCzxid() != node.stat().getCzxid()) {
                        goneSeenAt.complete(System.nanoTime());
                        return;
                    }
                    lastSeenAlive = sent;
                    TimeUnit.MILLISECONDS.sleep(10); // the polling interval of an observer, not synchronisation
                }
            } catch (Exception e) {
                goneSeenAt.completeExceptionally(e);
            }
        }

        /** The send time of the last look that found the node; fails the test if no look found it. */
        long lastSeenAlive() {
            long seen = lastSeenAlive;
            assertThat(seen).as("the admin saw %s alive at least once", node.path()).isNotZero();
            return seen;
        }

        /** Waits at most {@code timeout} until a look found the node gone. */
        long awaitGone(Duration timeout) throws Exception {
            return LockRecorder.await(goneSeenAt, timeout);
        }

        @Override
        public void close() throws InterruptedException {
            stopped = true;
            thread.join(5_000);
        }
    }

    // ---- F1 ----------------------------------------------------------------------------------------------

    /**
     * F1. The holder is a child JVM whose client asks for the default 30 s session and gets {@link
     * #MAX_SESSION} (3 s), its lease two thirds of that session. It is SIGSTOPped for the session plus a seeded extra.
     * The contender finds the lock busy at once, then gets it only after the holder's node, and so its session,
     * was gone on the server, and within session + tick + 2 s of the pause. On SIGCONT the holder reports the
     * loss; its write with the old token (czxid) is refused by the fenced register while an unfenced register
     * (negative control, same writes) accepts it and the fenced-resource checker flags that; its release
     * throws and leaves the contender's node, session and token as they were.
     */
    @Test
    @DisplayName("F1: a holder paused past its session is replaced only after the session expired on the server; resumed, it is fenced off, told lost, and its release touches nothing")
    void pausedHolderIsReplacedAfterItsSessionExpiredAndFencedOff() throws Exception {
        Random random = new Random(LockRecorder.seed("F1"));
        Duration pausePastSession = Duration.ofMillis(300 + random.nextInt(700));
        String name = uniqueName("f1"); // the child uses the default base path
        URI backend = URI.create("zookeeper://" + zk.connectString());
        LockClient contenderClient = direct(MAX_SESSION, lease(MAX_SESSION));
        LockRecorder recorder = new LockRecorder();
        FencedRegister register = new FencedRegister();
        FencedRegister unfenced = FencedRegister.unfenced(); // negative control: the same writes, no fencing

        try (LockHolderProcess holder = LockHolderProcess.builder(backend).processName("holder").start()) {
            long holderToken = holder.acquire(name, Duration.ZERO).orElseThrow();
            NodeState holderNode = onlyNode(name);
            assertThat(holderNode.stat().getCzxid()).as("the token is the node's czxid").isEqualTo(holderToken);
            assertThat(holderNode.stat().getEphemeralOwner()).as("ephemeral").isNotZero();
            assertThat(holder.write(register, 1)).isTrue();
            unfenced.write(holder.processName(), holderToken, 1);

            holder.pause();
            long pausedAt = System.nanoTime();
            assertThat(recorder.tryAcquire("contender", contenderClient.lock(name), Duration.ZERO))
                    .as("never before expiry: the paused holder's session still lives").isEmpty();
            long refusedAt = System.nanoTime();
            Held contender;
            long lastSeenAlive;
            try (NodeWatch watch = new NodeWatch(holderNode)) {
                contender = recorder.acquire("contender", contenderClient.lock(name), MAX_SESSION.plusSeconds(4));
                watch.awaitGone(Duration.ofSeconds(2));
                lastSeenAlive = watch.lastSeenAlive();
            }
            assertThat(lastSeenAlive).as("the paused holder's node outlived the pause's start").isGreaterThan(pausedAt);
            assertThat(refusedAt).as("control: a contender granted when it first asked would fail the check below")
                    .isLessThanOrEqualTo(lastSeenAlive);
            assertThat(contender.acquiredAt).as("the contender gets the lock only after the holder's session and node"
                    + " were gone on the server").isGreaterThan(lastSeenAlive);
            assertThat(contender.acquiredAt - pausedAt).as("and within session + tick + 2 s of the pause")
                    .isLessThan(MAX_SESSION.plus(TICK).plusSeconds(2).toNanos());
            assertThat(contender.token).isGreaterThan(holderToken);
            assertThat(admin.checkExists().forPath(holderNode.path())).as("the holder's node is gone").isNull();
            assertThat(register.write("contender", contender.token, 2)).isTrue();
            unfenced.write("contender", contender.token, 2);
            NodeState contenderNode = onlyNode(name);
            assertThat(contenderNode.stat().getEphemeralOwner()).isNotEqualTo(holderNode.stat().getEphemeralOwner());

            // the fault itself: the pause lasts the session plus a seeded extra
            TimeUnit.NANOSECONDS.sleep(Math.max(0,
                    pausedAt + MAX_SESSION.plus(pausePastSession).toNanos() - System.nanoTime()));
            holder.resume();

            assertThat(holder.awaitLost(Duration.ofSeconds(5))).as("the resumed holder is told").isEqualTo(holderToken);
            assertThat(holder.status().held()).isFalse();
            assertThat(holder.write(register, 3)).as("the resumed holder's write is refused by token").isFalse();
            assertThat(unfenced.write(holder.processName(), holderToken, 3)).as("control: unfenced, it is accepted")
                    .isTrue();
            assertThatThrownBy(holder::release).isInstanceOf(LockLostException.class).hasMessageContaining(name);

            untouched(name, contenderNode).assertValid();
            assertThat(contender.handle.isHeld()).isTrue();
            assertThat(register.read()).isEqualTo(2);
            Checkers.fencedResource(register).assertValid();
            CheckResult control = Checkers.fencedResource(unfenced);
            assertThat(control.violations()).as("the checker flags the unfenced register")
                    .anyMatch(v -> v.contains("stale token accepted"));
            Checkers.tokenIssuance(History.merge(holder.history(), recorder.history)).assertValid();
            contender.release();
            assertThat(children(name)).as("nothing left behind").isEmpty();
        }
    }

    // ---- F2 ----------------------------------------------------------------------------------------------

    /**
     * F2. The replies of an acquire sit in buffers: the proxy holds every reply 700 ms (requests go through),
     * so the grant (the create and the listing behind it: at least one round trip) comes back at least 700 ms
     * after the attempt was sent, past the 500 ms lease counted from that send. The grant is never reported:
     * the caller gets an error that says why, and the node is deleted by the client while its session lives on
     * (an ephemeral node of the same session stays), long before the 3 s session could have taken it. Another
     * client then takes the lock. The session's read timeout (2 s) stays above the delay plus the ping
     * interval (1 s), so the client keeps its connection.
     */
    @Test
    @DisplayName("F2: a grant whose reply comes after the lease is never reported, and its node is deleted while the session lives")
    void aGrantWhoseReplyComesAfterTheLeaseIsNeverReportedAndIsGivenBack() throws Exception {
        Duration lease = LockOptions.MIN_LEASE_TIME;
        Duration replyDelay = Duration.ofMillis(700);
        CuratorFramework curator = curator(viaProxy(), MAX_SESSION, Duration.ofSeconds(5)); // read timeout 2 s
        LockClient client = toClose.add(ZooKeeperLockClient.builder(curator).defaultOptions(lease(lease))
                .commandTimeout(Duration.ofSeconds(5)).build());
        String name = uniqueName("f2");
        client.lock(name).tryAcquire().orElseThrow().release(); // the directory exists: one create, one listing
        long session = sessionId(curator);
        String keeper = curator.create().withMode(CreateMode.EPHEMERAL).forPath("/" + name + "-keeper");

        proxy.delay(Direction.SERVER_TO_CLIENT, replyDelay);
        long sentAt = System.nanoTime();
        assertThatThrownBy(() -> client.lock(name).tryAcquire()).as("a late grant is never reported")
                .isInstanceOf(LockBackendException.class)
                .hasMessageContaining("the lock was granted, but the reply took")
                .hasMessageContaining("the grant was given back");
        long elapsed = System.nanoTime() - sentAt;
        assertThat(elapsed).as("the reply really was late").isGreaterThan(lease.toNanos());

        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20)).until(() -> children(name).isEmpty());
        System.out.println("F2: the late grant's node was gone " + (System.nanoTime() - sentAt) / MS
                + " ms after the call (session " + MAX_SESSION.toMillis() + " ms)");
        assertThat(sessionId(curator)).as("the client is still in its session").isEqualTo(session);
        Stat keeperStat = admin.checkExists().forPath(keeper);
        assertThat(keeperStat).as("the session lives on the server: deleted by the client, not by expiry").isNotNull();
        assertThat(keeperStat.getEphemeralOwner()).isEqualTo(session);

        proxy.delay(Direction.SERVER_TO_CLIENT, Duration.ZERO);
        LockHandle other = direct(MAX_SESSION, lease(MAX_SESSION)).lock(name).tryAcquire().orElseThrow();
        assertThat(onlyNode(name).stat().getCzxid()).isEqualTo(other.fencingToken());
        other.release();
        assertThat(children(name)).isEmpty();
    }

    // ---- F4 ----------------------------------------------------------------------------------------------

    /**
     * F4. The holder (session and lease 2 s, command timeout 1 s) reaches ZooKeeper through the proxy, which
     * black-holes both directions. The holder declares the loss at its local deadline and not before; that
     * deadline comes from a renewal sent before the cut (at most cut + lease - drift). The contender (direct)
     * gets the lock only after the holder's node, and so its session, was gone on the server, and after the
     * holder stopped believing (the holder-interval checker applies: no pause, no clock fault). After healing
     * the holder's client works again in a new session, its handle stays lost, and the contender's node,
     * session and token are untouched.
     */
    @Test
    @DisplayName("F4: a holder cut off from ZooKeeper declares the loss at its local deadline; the contender gets the lock only after the session expired on the server; no resurrection after healing")
    void holderCutOffLosesAtItsDeadline() throws Exception {
        Duration session = Duration.ofSeconds(2);
        CuratorFramework holderCurator = curator(viaProxy(), session, Duration.ofSeconds(1));
        List<ConnectionState> states = new CopyOnWriteArrayList<>();
        holderCurator.getConnectionStateListenable().addListener((client, state) -> states.add(state));
        LockClient holderClient = toClose.add(ZooKeeperLockClient.builder(holderCurator).defaultOptions(lease(session))
                .commandTimeout(Duration.ofSeconds(1)).build());
        LockClient contenderClient = direct(MAX_SESSION, lease(MAX_SESSION));
        String name = uniqueName("f4");
        LockRecorder recorder = new LockRecorder();

        Held holder = recorder.acquire("holder", holderClient.lock(name), Duration.ZERO);
        NodeState holderNode = onlyNode(name);
        long oldSession = holderNode.stat().getEphemeralOwner();
        proxy.blackHole();
        long cutAt = System.nanoTime(); // after: a renewal that got through was sent before this
        assertThat(recorder.tryAcquire("contender", contenderClient.lock(name), Duration.ZERO)).isEmpty();
        long refusedAt = System.nanoTime();
        Held contender;
        long lastSeenAlive;
        try (NodeWatch watch = new NodeWatch(holderNode)) {
            contender = recorder.acquire("contender", contenderClient.lock(name), session.plusSeconds(4));
            watch.awaitGone(Duration.ofSeconds(2));
            lastSeenAlive = watch.lastSeenAlive();
        }
        long lostAt = holder.awaitLost(Duration.ofSeconds(3));
        long deadline = deadlineNanos(holder.handle); // final: a lost lease's deadline never moves

        assertThat(deadline).as("the deadline comes from a renewal sent before the cut")
                .isLessThanOrEqualTo(cutAt + session.toNanos() - drift(session) + MS);
        assertThat(lostAt).as("the loss is declared at the local deadline, not before")
                .isGreaterThanOrEqualTo(deadline - MS);
        assertThat(lostAt - deadline).as("and soon after it").isLessThan(Duration.ofSeconds(1).toNanos());
        assertThat(holder.handle.lostReason()).hasValueSatisfying(reason -> assertThat(reason)
                .contains("no renewal succeeded before the lease deadline"));
        assertThat(refusedAt).as("control: a contender granted when it first asked would fail the next check")
                .isLessThanOrEqualTo(lastSeenAlive);
        assertThat(contender.acquiredAt).as("the contender acquires only after the session expired on the server")
                .isGreaterThan(lastSeenAlive);
        assertThat(contender.acquiredAt).as("and only after the holder stopped believing it held the lock")
                .isGreaterThan(deadline);
        assertThat(contender.acquiredAt - cutAt).as("within session + tick + 2 s of the cut")
                .isLessThan(session.plus(TICK).plusSeconds(2).toNanos());
        assertThat(contender.token).isGreaterThan(holder.token);
        NodeState contenderNode = onlyNode(name);

        proxy.heal(); // resets the cut connections: the holder's client reconnects and finds its session expired
        // settled in a new session (Curator said LOST first, so it will not expire the new one on a late timer);
        // an acquire sent before that is the subject of acquireInFlightAcrossSessionExpiryIsNotLostWithTheOldSession
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).ignoreExceptions()
                .until(() -> states.contains(ConnectionState.LOST) && holderCurator.getZookeeperClient().isConnected()
                        && sessionId(holderCurator) != oldSession);
        LockHandle probe = holderClient.lock(name + "-probe").tryAcquire(Duration.ofSeconds(5)).orElseThrow();
        assertThat(onlyNode(name + "-probe").stat().getEphemeralOwner()).as("the old session is never revived")
                .isEqualTo(sessionId(holderCurator)).isNotEqualTo(oldSession);
        probe.release();
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(() -> !holder.handle.isHeld());
        assertThat(holder.releaseLost()).as("no resurrection").hasMessageContaining(name);
        untouched(name, contenderNode).assertValid();
        assertThat(contender.handle.isHeld()).isTrue();
        contender.release();
        assertThat(children(name)).as("nothing left behind").isEmpty();

        Checkers.holderIntervals(recorder.history).assertValid();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }

    /**
     * F4, after healing, with an acquire under way while the client is between sessions. The holder is cut
     * off until its session expired on the server; the proxy heals and the client at once asks for another
     * lock, waiting up to 10 s. Its attempts ride through the reconnection, Curator's LOST (the old session
     * expired) and the new session, in which the lock is granted. That grant belongs to the new, live
     * session: the handle must stay held, and if it were ever reported lost its node must not stay behind,
     * or the lock would be blocked for every client for as long as this one lives.
     */
    @Test
    @DisplayName("F4: a lock granted in the new session right after healing is held, not lost with the old session, and leaves no orphan node")
    void acquireInFlightAcrossSessionExpiryIsNotLostWithTheOldSession() throws Exception {
        Duration session = Duration.ofSeconds(2);
        LockClient client = client(viaProxy(), session, lease(session), Duration.ofSeconds(1));
        String name = uniqueName("f4-old");
        Held old = new LockRecorder().acquire("holder", client.lock(name), Duration.ZERO);
        NodeState oldNode = onlyNode(name);
        proxy.blackHole();
        try (NodeWatch watch = new NodeWatch(oldNode)) {
            watch.awaitGone(session.plus(TICK).plusSeconds(3)); // the old session expired on the server
        }
        String fresh = uniqueName("f4-new");
        CompletableFuture<Optional<LockHandle>> acquiring = async("f4-new",
                () -> client.lock(fresh).tryAcquire(Duration.ofSeconds(10)));
        // at once: the client learns of the expiry when it reconnects, with this acquire under way (later,
        // Curator would declare the session lost by its own timer, before the reconnection)
        proxy.heal();
        LockHandle handle = LockRecorder.await(acquiring, Duration.ofSeconds(15)).orElseThrow();
        old.awaitLost(Duration.ofSeconds(3));
        await("a handle reported lost leaves no node behind").atMost(Duration.ofSeconds(3))
                .until(() -> handle.isHeld() || children(fresh).isEmpty());
        assertThat(handle.lostReason()).as("a grant from the new session is not lost with the old one").isEmpty();
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(handle::isHeld);
        assertThat(onlyNode(fresh).stat().getEphemeralOwner()).isNotEqualTo(oldNode.stat().getEphemeralOwner());
        handle.release();
        Optional<LockHandle> other = direct(MAX_SESSION, lease(MAX_SESSION)).lock(fresh)
                .tryAcquire(Duration.ofSeconds(2));
        assertThat(other).as("the lock is free again, nodes: %s", children(fresh)).isPresent();
        other.get().release();
        assertThat(children(fresh)).isEmpty();
    }

    // ---- F9 ----------------------------------------------------------------------------------------------

    /**
     * F9. The holder (session 3 s, lease 2 s, a renewal every 667 ms, each an existence check of its node)
     * reaches ZooKeeper through the proxy, which delays replies only: a renewal reaches the server at once
     * and its answer arrives late. The session's read timeout (2 s) stays above every delay used, so the
     * client keeps its connection and the session lives on the server throughout.
     *
     * <p>Replies 400 ms late: the lock stays held, and after each renewal the local deadline is at most the
     * renewal's send time plus the lease: the renewal was sent at least 400 ms before its reply was seen, so
     * the deadline is at most {@code replySeen - 400 ms + lease}. Control: a deadline counted from the reply's
     * arrival would be ~380 ms past that, and the same comparison flags it.
     *
     * <p>Replies 1.3 s late: a renewal's reply comes 1.3 s after its send and the next renewal is sent only
     * then, so the one after the last timely renewal answers 2.6 s after it, past its deadline (lease -
     * drift). The holder declares the loss at that deadline; the late successful replies afterwards do not
     * revive it (it stays lost, its release says so, and the contender, which gets the lock only after the
     * loss, keeps it untouched).
     */
    @Test
    @DisplayName("F9: deadlines count from the renewal's send; a renewal reply that comes after the deadline does not revive the lock")
    void slowRenewalRepliesNeitherStretchNorReviveTheLease() throws Exception {
        Duration lease = Duration.ofSeconds(2);
        Duration delay = Duration.ofMillis(400);
        LockClient holderClient = client(viaProxy(), MAX_SESSION, lease(lease), Duration.ofSeconds(5));
        LockClient contenderClient = direct(MAX_SESSION, lease(MAX_SESSION));
        String name = uniqueName("f9");
        LockRecorder recorder = new LockRecorder();
        Held holder = recorder.acquire("holder", holderClient.lock(name), Duration.ZERO);
        NodeState holderNode = onlyNode(name);

        proxy.delay(Direction.SERVER_TO_CLIENT, delay);
        awaitRenewalReply(holder.handle); // may be one whose reply left before the delay: not judged
        for (int renewal = 1; renewal <= 2; renewal++) {
            awaitRenewalReply(holder.handle);
            long replySeenAt = System.nanoTime();
            long deadline = deadlineNanos(holder.handle);
            long sentBy = replySeenAt - delay.toNanos();
            assertThat(deadline).as("renewal %d: the local deadline counts from the send", renewal)
                    .isLessThanOrEqualTo(sentBy + lease.toNanos() + MS);
            assertThat(replySeenAt + lease.toNanos() - drift(lease))
                    .as("control, renewal %d: a deadline counted from the reply would be past that", renewal)
                    .isGreaterThan(sentBy + lease.toNanos() + MS);
        }
        assertThat(holder.handle.isHeld()).isTrue();
        untouched(name, holderNode).assertValid(); // a renewal only reads: the node, its session and token stay

        Duration lateDelay = Duration.ofMillis(1_300);
        proxy.delay(Direction.SERVER_TO_CLIENT, lateDelay);
        CompletableFuture<Held> contender = async("f9-contender",
                () -> recorder.acquire("contender", contenderClient.lock(name), Duration.ofSeconds(10)));
        long lostAt = holder.awaitLost(Duration.ofSeconds(5));
        long deadline = deadlineNanos(holder.handle);
        assertThat(lostAt).as("lost at the deadline of the last timely renewal").isGreaterThanOrEqualTo(deadline - MS);
        assertThat(lostAt - deadline).isLessThan(Duration.ofSeconds(1).toNanos());
        Held newHolder = LockRecorder.await(contender, Duration.ofSeconds(12));
        assertThat(newHolder.acquiredAt).isGreaterThan(deadline);
        assertThat(newHolder.token).isGreaterThan(holder.token);
        NodeState newHolderNode = onlyNode(name);
        // the late replies (1.3 s) of the renewals sent before the loss arrive meanwhile
        await().during(lateDelay.multipliedBy(2)).atMost(Duration.ofSeconds(4))
                .until(() -> !holder.handle.isHeld() && newHolder.handle.isHeld());
        assertThat(holder.releaseLost()).hasMessageContaining("deadline");
        untouched(name, newHolderNode).assertValid();
        newHolder.release();
        Checkers.holderIntervals(recorder.history).assertValid();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }

    // ---- F12 ---------------------------------------------------------------------------------------------

    /**
     * F12. The holder's session (3 s; lease 3 s) is expired on the server from outside ({@link
     * ZooKeeperCluster#expireSession}: a second handle joins the session and closes it) while it holds the
     * lock and a waiter in another client (lease 3 s, so its own timed retry is 3 s away) is queued behind it.
     * Expiry deletes the holder's node; the waiter, woken by its watch, acquires within 2 s with a larger
     * token; the holder is told by the session event that its session ended, before its own deadline (at
     * least 2 s away: renewals every second) could tell it. The ZooKeeper client learns of the expiry when it
     * reconnects, after a random back-off of up to a second. No node is left in the lock's
     * directory but the waiter's, and none at all once it releases; the holder's stale release throws and
     * leaves the waiter's node alone; the holder's client works again in a new session.
     */
    @Test
    @DisplayName("F12: the session expired on the server while held: the holder is told, the waiter acquires within the bound, no orphan node")
    void expiredSessionLosesTheLockToTheWaiterAndLeavesNoNode() throws Exception {
        Duration session = MAX_SESSION;
        CuratorFramework holderCurator = curator(zk.connectString(), session, Duration.ofSeconds(2));
        LockClient holderClient = toClose.add(ZooKeeperLockClient.builder(holderCurator)
                .defaultOptions(lease(session)).commandTimeout(Duration.ofSeconds(2)).build());
        LockClient waiterClient = direct(MAX_SESSION, lease(MAX_SESSION));
        String name = uniqueName("f12");
        LockRecorder recorder = new LockRecorder();

        Held holder = recorder.acquire("holder", holderClient.lock(name), Duration.ZERO);
        long holderSession = onlyNode(name).stat().getEphemeralOwner();
        assertThat(holderSession).isEqualTo(sessionId(holderCurator));
        CompletableFuture<Held> waiter = async("f12-waiter",
                () -> recorder.acquire("waiter", waiterClient.lock(name), Duration.ofSeconds(20)));
        await().atMost(Duration.ofSeconds(5)).until(() -> children(name).size() == 2);

        long expiredAt = System.nanoTime();
        zk.expireSession(holderCurator.getZookeeperClient().getZooKeeper());

        Held next = LockRecorder.await(waiter, Duration.ofSeconds(5));
        assertThat(next.acquiredAt - expiredAt).as("the waiter acquires within the bound (woken, not polling)")
                .isLessThan(Duration.ofSeconds(2).toNanos());
        assertThat(next.token).isGreaterThan(holder.token);
        long lostAt = holder.awaitLost(Duration.ofSeconds(3));
        assertThat(holder.handle.lostReason()).as("told by the session event")
                .hasValueSatisfying(reason -> assertThat(reason).contains("session"));
        assertThat(lostAt).as("before its deadline").isLessThan(deadlineNanos(holder.handle));
        NodeState waiterNode = onlyNode(name);
        assertThat(waiterNode.stat().getCzxid()).as("no orphan: only the waiter's node").isEqualTo(next.token);

        assertThat(holder.releaseLost()).hasMessageContaining(name);
        untouched(name, waiterNode).assertValid();
        CompletableFuture<Held> again = async("f12-again",
                () -> recorder.acquire("holder-again", holderClient.lock(name), Duration.ofSeconds(10)));
        await().atMost(Duration.ofSeconds(10)).until(() -> children(name).size() == 2);
        assertThat(node(directory(name) + "/" + children(name).get(1)).stat().getEphemeralOwner())
                .as("the holder's client queues in a new session").isNotEqualTo(holderSession).isNotZero();
        next.release();
        Held holderAgain = LockRecorder.await(again, Duration.ofSeconds(5));
        assertThat(holderAgain.token).isGreaterThan(next.token);
        holderAgain.release();
        assertThat(children(name)).as("no orphan node once everyone released").isEmpty();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }

    // ---- F14 ---------------------------------------------------------------------------------------------

    /**
     * F14. Release: holder A1 holds a lock without auto-renewal (lease 3 s, in a session of its own), so
     * nothing tells it soon that its node was deleted behind its back (an operator's delete); B1 acquires. A1
     * still believes it holds the lock; its release reaches ZooKeeper, finds its own node gone (the delete is
     * by path, which no other node ever has), throws {@link LockLostException} and leaves B1's node, session
     * and token as they were.
     *
     * <p>Renewal: holder A2 (lease 2 s, auto-renewed in its client's session, which also holds a second lock)
     * has its node deleted behind its back while the session lives on, and B2 acquires. A2's next renewal
     * finds its node gone, so A2 is told it lost the lock, while the other lock of that session is still
     * held; B2's node is untouched.
     *
     * <p>Negative control: what an owner-blind release (deleting the lock's first node) and renewal (writing
     * the stale owner into the lock's node) would do is flagged by the same check.
     */
    @Test
    @DisplayName("F14: a stale release or renewal after ownership loss reports the loss and leaves the new holder's node, session and token alone")
    void staleReleaseAndRenewalLeaveTheNewHolderAlone() throws Exception {
        LockClient releaser = direct(MAX_SESSION,
                LockOptions.builder().leaseTime(MAX_SESSION).autoRenew(false).build());
        LockClient renewer = direct(MAX_SESSION, lease(Duration.ofSeconds(2)));
        LockClient newClient = direct(MAX_SESSION, lease(MAX_SESSION));
        String releaseName = uniqueName("f14-release");
        String renewName = uniqueName("f14-renew");
        LockRecorder recorder = new LockRecorder();

        Held a1 = recorder.acquire("a1", releaser.lock(releaseName), Duration.ZERO);
        NodeState a1Node = onlyNode(releaseName);
        admin.delete().forPath(a1Node.path());
        Held b1 = recorder.acquire("b1", newClient.lock(releaseName), Duration.ZERO);
        assertThat(b1.token).isGreaterThan(a1.token);
        NodeState b1Node = onlyNode(releaseName);
        assertThat(a1.handle.isHeld()).as("a1 has not been told yet").isTrue();
        assertThat(a1.releaseLost()).as("the stale release reached ZooKeeper and found its node gone")
                .hasMessageContaining("no longer held when released");
        untouched(releaseName, b1Node).assertValid();

        Held a2 = recorder.acquire("a2", renewer.lock(renewName), Duration.ZERO);
        Held a2Other = recorder.acquire("a2", renewer.lock(renewName + "-other"), Duration.ZERO);
        NodeState a2Node = onlyNode(renewName);
        admin.delete().forPath(a2Node.path());
        Held b2 = recorder.acquire("b2", newClient.lock(renewName), Duration.ZERO);
        assertThat(b2.token).isGreaterThan(a2.token);
        NodeState b2Node = onlyNode(renewName);
        a2.awaitLost(Duration.ofSeconds(2));
        assertThat(a2.handle.lostReason()).as("told by its renewal, well before its deadline")
                .hasValueSatisfying(reason -> assertThat(reason).contains("a renewal found the lock gone"));
        assertThat(a2Other.handle.isHeld()).as("its session lives on: the node check, not the session, caught it")
                .isTrue();
        assertThat(onlyNode(renewName + "-other").stat().getEphemeralOwner())
                .isEqualTo(a2Node.stat().getEphemeralOwner());
        untouched(renewName, b2Node).assertValid();
        assertThat(a2.releaseLost()).hasMessageContaining(renewName);
        untouched(renewName, b2Node).assertValid();
        assertThat(b1.handle.isHeld()).isTrue();
        assertThat(b2.handle.isHeld()).isTrue();
        Checkers.tokenIssuance(recorder.history).assertValid();

        // negative control: what an owner-blind release and renewal by the stale holders would have done
        admin.delete().forPath(directory(releaseName) + "/" + children(releaseName).get(0));
        admin.setData().forPath(b2Node.path(), a2Node.data());
        assertThat(untouched(releaseName, b1Node).violations())
                .as("the check flags an owner-blind release").anyMatch(v -> v.contains("was deleted"));
        assertThat(untouched(renewName, b2Node).violations())
                .as("the check flags an owner-blind renewal").anyMatch(v -> v.contains("rewritten"))
                .anyMatch(v -> v.contains("owner value changed"));
        a2Other.release();
    }
}
