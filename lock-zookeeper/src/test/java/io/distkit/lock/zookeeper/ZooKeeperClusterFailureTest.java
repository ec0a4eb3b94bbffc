package io.distkit.lock.zookeeper;

import static io.distkit.testkit.history.LockRecorder.MS;
import static io.distkit.testkit.history.LockRecorder.deadlineNanos;
import static io.distkit.testkit.history.LockRecorder.drift;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.lock.ReadWriteLockClient;
import io.distkit.testkit.history.Checkers;
import io.distkit.testkit.history.FencedRegister;
import io.distkit.testkit.history.LockRecorder;
import io.distkit.testkit.history.LockRecorder.Held;
import io.distkit.testkit.history.Op;
import io.distkit.testkit.server.FaultProxy;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
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

/**
 * A three-member ensemble that loses its leader while locks are held and waited for, and F11: a holder whose
 * member is cut off into a minority.
 *
 * <p><b>How the minority is made.</b> The members share this JVM, and the fixture has no per-link faults
 * between them, so the partition is driven by killing the two other members: the holder's member keeps
 * running without a quorum, which is what a minority member sees (its peers go silent), and it stops serving
 * its clients. The holder reaches that member only through a {@link FaultProxy}; when the majority comes back,
 * the proxy refuses the holder, which so stays on the minority side while the majority decides about its
 * session.
 */
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

    // ---- F11 ------------------------------------------------------------------------------------------

    /**
     * F11. Holder and contender reach only member m; the two others stop, so m has no quorum. Every acquire
     * through m, of the held lock and of a free one, ends in an error or "busy" within its bound, never in a
     * grant, and the holder declares the loss at its local deadline (from a renewal sent before the cut), not
     * before. Then the majority comes back while the holder stays cut off: while the holder's session and node
     * live there (a new leader usually gives every session a whole timeout) the lock is busy for a majority
     * client; the majority client gets it after the session expired, after the holder's deadline, with a higher
     * token. The cut-off holder's late write is refused by the fenced
     * register.
     */
    @Test
    @DisplayName("F11: a member without quorum never grants; its holder is lost at its deadline; the majority grants only after its session expired")
    void aMinorityMemberNeverGrantsAndTheMajorityWaitsForTheHoldersSession() throws Exception {
        Duration lease = Duration.ofSeconds(10); // also the window in which the majority finds the session alive
        Duration commandTimeout = Duration.ofSeconds(1);
        int leader = zk.leaderIndex().orElseThrow();
        int minority = (leader + 1) % zk.size();
        int[] others = IntStream.range(0, zk.size()).filter(i -> i != minority).toArray();
        String[] hostPort = zk.connectString(minority).split(":");
        FaultProxy proxy = FaultProxy.builder().target(hostPort[0], Integer.parseInt(hostPort[1])).build();
        proxy.start();
        closeables.add(proxy);
        LockClient holderClient = client("127.0.0.1:" + proxy.port(), lease, commandTimeout);
        LockClient contenderClient = client(zk.connectString(minority), lease, commandTimeout);
        // a session that outlives the partition, so that the majority client is ready as soon as a quorum is back
        LockClient majorityClient = ZooKeeperLockClient.builder(zk.connectString(others[0]) + ","
                        + zk.connectString(others[1])).sessionTimeout(Duration.ofSeconds(30))
                .commandTimeout(Duration.ofSeconds(3)).defaultOptions(LockOptions.builder().leaseTime(lease).build())
                .build();
        closeables.add(majorityClient);
        String name = "f11-" + UUID.randomUUID();
        String free = name + "-free";
        String directory = ZooKeeperLockClient.lockDirectory(ZooKeeperLockClient.DEFAULT_BASE_PATH, name);
        LockRecorder recorder = new LockRecorder();

        Held holder = recorder.acquire("holder", holderClient.lock(name), Duration.ZERO);
        contenderClient.lock(free).tryAcquire().orElseThrow().release(); // the contender's session is up
        majorityClient.lock(free).tryAcquire().orElseThrow().release();
        String holderNode = directory + "/" + admin(zk.connectString()).getChildren().forPath(directory).get(0);
        CuratorFramework majorityAdmin = admin(zk.connectString(others[0]) + "," + zk.connectString(others[1]));
        Op partition = recorder.faultStart("partition member " + minority + " alone");
        for (int other : others) {
            zk.killServer(other);
        }
        long cutAt = System.nanoTime();

        List<String> outcomes = new ArrayList<>();
        while (!holder.lostAt.isDone()) {
            for (DistributedLock lock : List.of(contenderClient.lock(name), contenderClient.lock(free))) {
                long start = System.nanoTime();
                String outcome = lock.name().equals(free) ? "free: " : "held: ";
                try {
                    Optional<Held> got = recorder.tryAcquire("contender", lock, Duration.ZERO);
                    assertThat(got).as("a grant from a member without quorum").isEmpty();
                    outcome += "busy";
                } catch (LockBackendException e) {
                    outcome += e.getMessage();
                }
                outcomes.add(outcome);
                assertThat(System.nanoTime() - start).as("each attempt ends within its bound")
                        .isLessThan(commandTimeout.toNanos() * 4);
            }
            assertThat(System.nanoTime() - cutAt).as("the holder is lost in time").isLessThan(lease.toNanos() * 3);
        }
        long lostAt = holder.awaitLost(Duration.ofSeconds(1));
        long deadline = deadlineNanos(holder.handle);
        System.out.println("F11: attempts through member " + minority + " without quorum: " + outcomes);
        assertThat(outcomes).anyMatch(o -> o.startsWith("free: ") && !o.endsWith("busy"));
        assertThat(deadline).as("the deadline comes from a renewal sent before the cut")
                .isLessThanOrEqualTo(cutAt + lease.toNanos() - drift(lease) + MS);
        assertThat(lostAt).as("the loss is declared at the local deadline, not before").isGreaterThanOrEqualTo(deadline - MS);

        // the majority comes back; the holder stays cut off
        proxy.refuseConnections(true);
        proxy.resetAll();
        zk.restartServer(others[0]); // with member m, a quorum: a leader is elected, the holder's session timed anew
        majorityAdmin.blockUntilConnected(10, TimeUnit.SECONDS);
        boolean nodeBefore = majorityAdmin.checkExists().forPath(holderNode) != null;
        Optional<Held> early = recorder.tryAcquire("majority", majorityClient.lock(name), Duration.ZERO);
        boolean nodeAfter = majorityAdmin.checkExists().forPath(holderNode) != null;
        System.out.println("F11: holder's node before and after the majority's first try: " + nodeBefore + ", "
                + nodeAfter + "; granted: " + early.isPresent());
        if (nodeAfter) { // usually: a new leader gives every session a whole timeout
            assertThat(early).as("no grant while the holder's session and node live").isEmpty();
        }
        Held winner = early.isPresent() ? early.get()
                : recorder.acquire("majority", majorityClient.lock(name), Duration.ofSeconds(20));
        zk.restartServer(others[1]);
        assertThat(majorityAdmin.checkExists().forPath(holderNode)).as("the holder's session expired").isNull();
        assertThat(winner.acquiredAt).as("the majority grants only after the holder's deadline").isGreaterThan(deadline);
        assertThat(winner.token).isGreaterThan(holder.token);
        proxy.refuseConnections(false);
        recorder.faultEnd(partition);
        assertThat(holder.handle.isHeld()).as("no resurrection").isFalse();
        holder.releaseLost();

        FencedRegister fenced = new FencedRegister();
        assertThat(fenced.write("majority", winner.token, 1)).isTrue();
        assertThat(fenced.write("holder", holder.token, 2)).as("the cut-off holder's late write is refused").isFalse();
        Checkers.fencedResource(fenced).assertValid();
        winner.release();
        Checkers.holderIntervals(recorder.history).assertValid();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }

    private LockClient client(String connectString, Duration lease, Duration commandTimeout) {
        LockClient client = ZooKeeperLockClient.builder(connectString).sessionTimeout(lease)
                .commandTimeout(commandTimeout).defaultOptions(LockOptions.builder().leaseTime(lease).build()).build();
        closeables.add(client);
        return client;
    }

    private CuratorFramework admin(String connectString) throws InterruptedException {
        CuratorFramework admin = CuratorFrameworkFactory.newClient(connectString, new RetryOneTime(100));
        admin.start();
        closeables.add(admin::close);
        assertThat(admin.blockUntilConnected(10, TimeUnit.SECONDS)).isTrue();
        return admin;
    }
}
