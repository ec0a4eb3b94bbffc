package io.distkit.lock.redis;

import static io.distkit.lock.redis.FailureSupport.PLAIN_COUNTER_ACQUIRE;
import static io.distkit.lock.redis.FailureSupport.SEEDED_COUNTER_ACQUIRE;
import static io.distkit.lock.redis.FailureSupport.controlAcquire;
import static io.distkit.lock.redis.FailureSupport.lease;
import static io.distkit.lock.redis.FailureSupport.state;
import static io.distkit.lock.redis.FailureSupport.untouched;
import static io.distkit.testkit.history.LockRecorder.MS;
import static io.distkit.testkit.history.LockRecorder.async;
import static io.distkit.testkit.history.LockRecorder.await;
import static io.distkit.testkit.history.LockRecorder.awaitRenewalReply;
import static io.distkit.testkit.history.LockRecorder.deadlineNanos;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.lock.redis.FailureSupport.LockState;
import io.distkit.lock.redis.internal.LockKeys;
import io.distkit.testkit.Closer;
import io.distkit.testkit.history.CheckResult;
import io.distkit.testkit.history.Checkers;
import io.distkit.testkit.history.FencedRegister;
import io.distkit.testkit.history.History;
import io.distkit.testkit.history.LockRecorder;
import io.distkit.testkit.history.LockRecorder.Held;
import io.distkit.testkit.history.Op;
import io.distkit.testkit.server.FaultProxy;
import io.distkit.testkit.server.RedisServer;
import io.distkit.testkit.server.RedisServer.Persistence;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Scenarios of docs/failures.md for the Redis lock where the fault is the server: F5 (killed and restarted
 * without persistence), F10 (paused past the lease) and F15 (master-replica failover with asynchronous
 * replication, with and without {@code waitForReplicas}). Each test starts servers of its own, since it
 * kills or stops them.
 *
 * <p>Negative controls run through the same checkers: a fence that is a plain counter across a restart,
 * the real fence across a restart whose clock stepped back (F5); the fence as it was before tokens were
 * floored at the server's time, across a failover (F15).
 */
@Timeout(60)
class RedisServerFailureTest {

    private final String prefix = FailureSupport.freshPrefix();
    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    private RedisServer start(RedisServer.Builder builder) {
        RedisServer server = toClose.add(builder.build());
        server.start();
        return server;
    }

    /** A client on {@code server}; a short command timeout, since its server may be killed under it. */
    private LockClient client(RedisServer server, LockOptions options) {
        return toClose.add(RedisLockClient.builder(server.uri()).keyPrefix(prefix).defaultOptions(options)
                .commandTimeout(Duration.ofSeconds(2)).build());
    }

    // ---- F5 ----------------------------------------------------------------------------------------------

    /**
     * F5. Redis without persistence is killed and started again while a client holds a lock (lease 3 s,
     * killed just after a renewal). The client's next renewal finds its owner value gone and reports the
     * loss, before its local deadline; the next acquisition gets a larger token (the fence, lost with
     * everything else, is floored at the server's time), which the token-issuance checker confirms across
     * the restart window.
     */
    @Test
    @DisplayName("F5: after a restart without persistence the holder is told lost by its renewal, and tokens still increase")
    void restartWithoutPersistenceIsDetectedAndTokensKeepIncreasing() throws Exception {
        RedisServer server = start(RedisServer.builder().persistence(Persistence.NONE));
        Duration lease = Duration.ofSeconds(3);
        LockClient holderClient = client(server, lease(lease));
        LockClient nextClient = client(server, lease(lease));
        LockRecorder recorder = new LockRecorder();
        recorder.acquire("holder", holderClient.lock("f5"), Duration.ZERO).release();
        Held holder = recorder.acquire("holder", holderClient.lock("f5"), Duration.ZERO);
        awaitRenewalReply(holder.handle); // killed right after a renewal: its deadline is then a lease away
        long deadline = deadlineNanos(holder.handle);

        Op restart = recorder.faultStart(Op.RESTART + " redis killed and started again, no persistence");
        long killedAt = System.nanoTime();
        server.kill();
        server.start();
        recorder.faultEnd(restart);

        long lostAt = holder.awaitLost(lease.plusSeconds(1));
        assertThat(lostAt).as("detected by a renewal, before the local deadline").isLessThan(deadline);
        assertThat(lostAt - killedAt).as("within the lease").isLessThan(lease.toNanos());
        assertThat(holder.releaseLost()).hasMessageContaining("a renewal found the lock gone");
        Held next = recorder.acquire("next", nextClient.lock("f5"), Duration.ZERO);
        assertThat(next.token).as("still above every token issued before the restart").isGreaterThan(holder.token);
        Checkers.tokenIssuance(recorder.history).assertValid();
        next.release();
    }

    /**
     * F5, negative controls: the token-issuance checker must flag a regression across a restart. A fence
     * that is a plain {@code INCR} starts from 1 again; the real fence, seeded from the server's clock,
     * regresses too when that clock steps back (60 s, {@link io.distkit.testkit.server.FakeTime}) across
     * the restart. The second is a limit of this design, documented here: without persistence, tokens
     * after a restart are only as monotonic as the server's wall clock.
     */
    @Test
    @DisplayName("F5 controls: an unseeded counter, and the real fence under a clock stepped back, regress across a restart and the checker flags both")
    void tokenRegressionAcrossRestartIsFlagged() throws Exception {
        RedisServer server = start(RedisServer.builder().persistence(Persistence.NONE).fakeTime());
        Duration lease = Duration.ofSeconds(3);

        History plain = new History();
        LockKeys plainKeys = LockKeys.of(prefix, "f5-plain");
        for (int i = 0; i < 2; i++) {
            plainAcquire(plain, server, plainKeys, "plain-" + i, lease);
            server.call("DEL", plainKeys.lock());
        }
        Op plainRestart = plain.faultStart("test", null, Op.RESTART + " redis killed, no persistence");
        server.kill();
        server.start();
        plain.faultEnd(plainRestart);
        plainAcquire(plain, server, plainKeys, "plain-after", lease);
        CheckResult plainResult = Checkers.tokenIssuance(plain);
        assertThat(plainResult.violations()).as("a plain counter: " + plainResult.report())
                .anyMatch(v -> v.startsWith("token regression across restart"));

        LockClient client = client(server, lease(lease));
        LockRecorder recorder = new LockRecorder();
        recorder.acquire("before", client.lock("f5-clock"), Duration.ZERO).release();
        Op clockRestart = recorder.faultStart(Op.RESTART + " redis killed, no persistence, clock 60 s back");
        server.shiftClock(Duration.ofSeconds(-60));
        server.kill();
        server.start();
        recorder.faultEnd(clockRestart);
        recorder.acquire("after", client.lock("f5-clock"), Duration.ofSeconds(5)).release();
        CheckResult clockResult = Checkers.tokenIssuance(recorder.history);
        System.out.println("F5 control, real fence with the clock 60 s back: " + clockResult.report());
        assertThat(clockResult.violations()).as("the real fence under a clock stepped back")
                .anyMatch(v -> v.startsWith("token regression across restart"));
    }

    private static void plainAcquire(History history, RedisServer server, LockKeys keys, String process, Duration lease) {
        History.Pending call = history.invoke(process, Op.Type.ACQUIRE, keys.lock());
        long token = controlAcquire(server, PLAIN_COUNTER_ACQUIRE, keys, process, lease);
        assertThat(token).isPositive();
        call.ok(token);
    }

    // ---- F10 ---------------------------------------------------------------------------------------------

    /**
     * F10. Redis is SIGSTOPped for the holder's lease (1 s) plus a seeded extra. The holder declares the
     * loss at its deadline, during the pause, with no answer from the server. A contender's acquire, sent
     * during the pause, runs after SIGCONT and gets the lock with a larger token. The holder's renewal sent
     * during the pause replays after the contender has the lock (the holder's link to Redis is frozen for
     * as long as the server is stopped, then released: which of two queued commands Redis runs first is
     * otherwise up to it, and a renewal that runs first only finds an expired key). It fails the owner
     * check: the contender's owner value, fence and TTL stay as they were (the holder's 1 s lease would
     * have cut the contender's TTL below 1 s). The holder stays lost; its write is refused by token;
     * holders never overlapped.
     */
    @Test
    @DisplayName("F10: Redis paused past the lease: the holder is lost at its deadline; its renewal replayed after SIGCONT fails the owner check")
    void serverPausedPastTheLease() throws Exception {
        Random random = new Random(LockRecorder.seed("F10"));
        Duration lease = Duration.ofSeconds(1);
        Duration pause = lease.plusMillis(300 + random.nextInt(500));
        Duration contenderLease = Duration.ofSeconds(3);
        RedisServer server = start(RedisServer.builder());
        FaultProxy holderLink = toClose.add(FaultProxy.builder().target(server.host(), server.port()).build());
        holderLink.start();
        // default command timeout (5 s): the commands sent during the pause wait for it instead of timing out
        LockClient holderClient = toClose.add(RedisLockClient.builder(holderLink.uri("redis")).keyPrefix(prefix)
                .defaultOptions(lease(lease)).build());
        LockClient contenderClient = toClose.add(RedisLockClient.builder(server.uri()).keyPrefix(prefix)
                .defaultOptions(lease(contenderLease)).build());
        LockKeys keys = LockKeys.of(prefix, "f10");
        LockRecorder recorder = new LockRecorder();
        FencedRegister register = new FencedRegister();
        Held holder = recorder.acquire("holder", holderClient.lock("f10"), Duration.ZERO);
        assertThat(register.write("holder", holder.token, 1)).isTrue();

        holderLink.freeze();
        server.pause();
        long pausedAt = System.nanoTime();
        CompletableFuture<Held> contender = async("f10-contender",
                () -> recorder.acquire("contender", contenderClient.lock("f10"), Duration.ofSeconds(8)));
        long lostAt = holder.awaitLost(lease.plusSeconds(2));
        long deadline = deadlineNanos(holder.handle);
        assertThat(lostAt).as("lost at its deadline, with no answer from the stopped server")
                .isGreaterThanOrEqualTo(deadline - MS);
        assertThat(lostAt - deadline).isLessThan(Duration.ofSeconds(1).toNanos());
        // the fault itself: the server stays stopped for the chosen pause
        TimeUnit.NANOSECONDS.sleep(Math.max(0, pausedAt + pause.toNanos() - System.nanoTime()));
        // taken before SIGCONT is sent: the server may answer before the kill command that sends it has returned
        long resumedAt = System.nanoTime();
        server.resume();
        assertThat(deadline).as("the deadline fell inside the pause").isLessThan(resumedAt);

        Held newHolder = await(contender, Duration.ofSeconds(10));
        assertThat(newHolder.acquiredAt).isGreaterThan(resumedAt);
        assertThat(newHolder.token).isGreaterThan(holder.token);
        LockState newHolderState = state(server, keys);
        long scriptCalls = FailureSupport.calls(server, "evalsha") + FailureSupport.calls(server, "eval");
        holderLink.unfreeze();
        // answered only after the holder's renewal that waited through the pause
        holderClient.lock("f10-probe").tryAcquire().orElseThrow().release();
        assertThat(FailureSupport.calls(server, "evalsha") + FailureSupport.calls(server, "eval") - scriptCalls)
                .as("the held renewal did reach the server (with the probe's acquire and release)")
                .isGreaterThanOrEqualTo(3);
        untouched(server, keys, newHolderState, lease.toMillis(), contenderLease.toMillis()).assertValid();
        assertThat(holder.handle.isHeld()).isFalse();
        assertThat(holder.releaseLost()).hasMessageContaining("no renewal succeeded before the lease deadline");
        assertThat(register.write("contender", newHolder.token, 2)).isTrue();
        assertThat(register.write("holder", holder.token, 3)).as("the old holder's write is refused").isFalse();
        assertThat(newHolder.handle.isHeld()).isTrue();
        newHolder.release();
        Checkers.fencedResource(register).assertValid();
        Checkers.holderIntervals(recorder.history).assertValid();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }

    // ---- F15 ---------------------------------------------------------------------------------------------

    /** A master and its replica, the replica in sync. */
    private record Pair(RedisServer master, RedisServer replica) {}

    private Pair startPair() {
        // disk-based sync: after a diskless one the master streams writes only from the replica's first
        // REPLCONF ACK (up to a second later), and WAIT would rightly report 0 until then
        RedisServer master = start(RedisServer.builder().args("--repl-diskless-sync", "no"));
        RedisServer replica = start(RedisServer.builder().replicaOf(master));
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> replication(master).contains("state=online"));
        return new Pair(master, replica);
    }

    private static String replication(RedisServer server) {
        return (String) server.call("INFO", "replication");
    }

    /**
     * Cuts replication for good: the replica is stopped, so it cannot reconnect, and the master closes its
     * link. (Stopping the replica alone is not enough: what the master writes to the link still lands in
     * the stopped replica's socket buffer and is applied on SIGCONT.)
     */
    private static void partition(Pair pair) {
        pair.replica().pause();
        pair.master().call("CLIENT", "KILL", "TYPE", "replica");
        Awaitility.await().atMost(Duration.ofSeconds(5))
                .until(() -> replication(pair.master()).contains("connected_slaves:0"));
    }

    /** The master dies; the replica is promoted (what Sentinel would do). */
    private static void failover(Pair pair) {
        pair.master().kill();
        if (pair.replica().isPaused()) {
            pair.replica().resume();
        }
        assertThat(pair.replica().call("REPLICAOF", "NO", "ONE")).isEqualTo("OK");
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> replication(pair.replica()).contains("role:master"));
    }

    /**
     * F15 without {@code waitForReplicas}, the documented unsafe case. The lock has been used before, so
     * its fence is on the replica. Replication is cut; A acquires on the master (acknowledged, never
     * replicated); the master dies and the replica is promoted; B acquires the same lock there. Both hold
     * it at once. B's token is still above A's, because tokens are floored at the server's time, so the
     * fenced register refuses A's write after B's.
     *
     * <p>Negative control, same failover: the fence as it was before that floor (a counter seeded only
     * when missing) issues B the very token A had; the register accepts both writes (equal tokens look like
     * one holder writing twice), and the fenced-resource checker flags the shared token.
     */
    @Test
    @DisplayName("F15 without waitForReplicas: an unreplicated lock is lost in failover and two clients hold it; the fence still refuses the stale writer")
    void failoverWithoutWaitGivesTwoHoldersButTokensStillFence() throws Exception {
        Pair pair = startPair();
        Duration lease = Duration.ofSeconds(3);
        LockClient clientA = client(pair.master(), lease(lease));
        LockKeys keys = LockKeys.of(prefix, "f15");
        LockKeys controlKeys = LockKeys.of(prefix, "f15-control");
        clientA.lock("f15").tryAcquire().orElseThrow().release();
        controlAcquire(pair.master(), SEEDED_COUNTER_ACQUIRE, controlKeys, "warm-up", lease);
        pair.master().call("DEL", controlKeys.lock());
        assertThat(pair.master().call("WAIT", "1", "5000")).as("the fences reached the replica").isEqualTo(1L);

        partition(pair);
        LockRecorder recorder = new LockRecorder();
        Held a = recorder.acquire("a", clientA.lock("f15"), Duration.ZERO);
        long controlA = controlAcquire(pair.master(), SEEDED_COUNTER_ACQUIRE, controlKeys, "control-a", lease);
        failover(pair);

        assertThat(pair.replica().call("EXISTS", keys.lock())).as("A's lock did not survive the failover").isEqualTo(0L);
        LockClient clientB = client(pair.replica(), lease(lease));
        Held b = recorder.acquire("b", clientB.lock("f15"), Duration.ZERO);
        long controlB = controlAcquire(pair.replica(), SEEDED_COUNTER_ACQUIRE, controlKeys, "control-b", lease);
        System.out.println("F15 without WAIT: tokens a=" + a.token + " b=" + b.token + "; control (counter seeded"
                + " only when missing): a=" + controlA + " b=" + controlB);
        assertThat(a.handle.isHeld() && b.handle.isHeld()).as("documented unsafe: two holders at once").isTrue();
        assertThat(b.token).as("tokens still increase across the failover").isGreaterThan(a.token);

        FencedRegister register = new FencedRegister();
        assertThat(register.write("b", b.token, 1)).isTrue();
        assertThat(register.write("a", a.token, 2)).as("the fenced register refuses the stale holder").isFalse();
        Checkers.fencedResource(register).assertValid();

        FencedRegister controlRegister = new FencedRegister();
        assertThat(controlB).as("control: the old fence repeats the token").isEqualTo(controlA);
        assertThat(controlRegister.write("control-b", controlB, 1)).isTrue();
        assertThat(controlRegister.write("control-a", controlA, 2)).as("control: the register cannot tell them apart")
                .isTrue();
        assertThat(Checkers.fencedResource(controlRegister).violations()).as("the checker flags the shared token")
                .anyMatch(v -> v.startsWith("token shared by two holders"));

        a.awaitLost(lease.plusSeconds(1)); // cut off from its dead master, A is told at its deadline
        b.release();
    }

    /**
     * F15 with {@code waitForReplicas(1, 200 ms)}, replication cut: the acquire is not acknowledged by the
     * replica, so it fails and the lock is given back on the master; A never believes it holds the lock.
     * After the failover B takes it, the only holder.
     */
    @Test
    @DisplayName("F15 with waitForReplicas: a lock the replica did not acknowledge is refused, so the failover leaves one holder")
    void waitForReplicasRefusesALockTheReplicaDidNotGet() throws Exception {
        Pair pair = startPair();
        Duration lease = Duration.ofSeconds(3);
        LockClient clientA = toClose.add(RedisLockClient.builder(pair.master().uri()).keyPrefix(prefix)
                .defaultOptions(lease(lease)).commandTimeout(Duration.ofSeconds(2))
                .waitForReplicas(1, Duration.ofMillis(200)).build());
        LockKeys keys = LockKeys.of(prefix, "f15-wait");
        LockHandle replicated = clientA.lock("f15-wait").tryAcquire().orElseThrow(); // while the replica is in sync
        long before = replicated.fencingToken();
        replicated.release();

        partition(pair);
        assertThatThrownBy(() -> clientA.lock("f15-wait").tryAcquire())
                .isInstanceOf(LockBackendException.class).hasMessageContaining("only 0 of 1 replicas");
        Awaitility.await().atMost(Duration.ofSeconds(5))
                .until(() -> pair.master().call("EXISTS", keys.lock()).equals(0L));
        failover(pair);

        LockClient clientB = client(pair.replica(), lease(lease));
        Held b = new LockRecorder().acquire("b", clientB.lock("f15-wait"), Duration.ZERO);
        assertThat(b.token).isGreaterThan(before);
        FencedRegister register = new FencedRegister();
        assertThat(register.write("b", b.token, 1)).isTrue();
        b.release();
    }

    /**
     * F15 with {@code waitForReplicas(1, 200 ms)}, replication intact: the acquire returns once the
     * replica has the lock, so it survives the failover. B finds it taken on the promoted replica and gets
     * it only after A, cut off from its dead master, stopped believing (A's deadline), with a larger token.
     */
    @Test
    @DisplayName("F15 with waitForReplicas: an acknowledged lock survives the failover; the next holder waits for its lease")
    void waitForReplicasKeepsTheLockAcrossFailover() throws Exception {
        Pair pair = startPair();
        Duration lease = Duration.ofSeconds(3);
        LockClient clientA = toClose.add(RedisLockClient.builder(pair.master().uri()).keyPrefix(prefix)
                .defaultOptions(lease(lease)).commandTimeout(Duration.ofSeconds(2))
                .waitForReplicas(1, Duration.ofMillis(200)).build());
        LockKeys keys = LockKeys.of(prefix, "f15-kept");
        LockRecorder recorder = new LockRecorder();
        Held a = recorder.acquire("a", clientA.lock("f15-kept"), Duration.ZERO);
        assertThat(pair.replica().call("GET", keys.lock())).as("on the replica when acquire returns")
                .isEqualTo(pair.master().call("GET", keys.lock()));

        failover(pair);
        LockClient clientB = client(pair.replica(), lease(lease));
        assertThat(recorder.tryAcquire("b", clientB.lock("f15-kept"), Duration.ZERO)).as("the lock survived")
                .isEmpty();
        Held b = recorder.acquire("b", clientB.lock("f15-kept"), lease.plusSeconds(2));
        a.awaitLost(Duration.ofSeconds(1));
        assertThat(b.acquiredAt).as("after A stopped believing it held the lock").isGreaterThan(deadlineNanos(a.handle));
        assertThat(b.token).isGreaterThan(a.token);
        b.release();
        Checkers.holderIntervals(recorder.history).assertValid();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }
}
