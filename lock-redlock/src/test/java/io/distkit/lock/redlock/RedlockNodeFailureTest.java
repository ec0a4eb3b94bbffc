package io.distkit.lock.redlock;

import static io.distkit.testkit.history.LockRecorder.async;
import static io.distkit.testkit.history.LockRecorder.await;
import static io.distkit.testkit.history.LockRecorder.deadlineNanos;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.Closer;
import io.distkit.testkit.history.CheckResult;
import io.distkit.testkit.history.Checkers;
import io.distkit.testkit.history.FencedRegister;
import io.distkit.testkit.history.History;
import io.distkit.testkit.history.LockRecorder;
import io.distkit.testkit.history.LockRecorder.Held;
import io.distkit.testkit.history.LostUpdateWorkload;
import io.distkit.testkit.history.Op;
import io.distkit.testkit.server.RedisServer;
import io.distkit.testkit.server.RedisServer.Persistence;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Redlock when its nodes fail, on real redis-server masters (3 unless said otherwise), each test with servers of
 * its own since it kills, restarts, pauses or shifts them: F6 (a node restarted empty inside a lease, with the
 * {@link RestartSafeguard#DELAYED_TRUST} safeguard and, as the negative control, with {@link RestartSafeguard#NONE}),
 * a minority down (killed, or stopped with SIGSTOP), a majority down, tokens across rolling restarts, and F7 (a
 * voter's clock jumps forward).
 *
 * <p>The F6 and F7 scenarios need a holder that holds exactly a bare quorum, {A, B}: while it acquires, C holds
 * the lock's key for a foreign owner value, so C votes no; the foreign key is deleted afterwards. That is the
 * classic counterexample: one node of the holder's quorum forgets the lock (restart, clock jump), and with C,
 * which the holder never had, a second quorum {A, C} forms.
 */
@Timeout(60)
class RedlockNodeFailureTest {

    private static final String LOCK = "node-failure";
    private static final String KEY = RedlockClient.lockKey(RedlockClient.DEFAULT_KEY_PREFIX, LOCK);
    /** The lease of the F6 scenario, also every client's maxLeaseTime there. */
    private static final Duration LEASE = Duration.ofSeconds(3);
    private static final String FOREIGN_OWNER = "a-foreign-owner";

    private final Closer toClose = new Closer();
    private final List<RedisServer> paused = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (RedisServer server : paused) {
            server.resumeIfPaused(); // before the clients close: they say goodbye to every node
        }
        toClose.close();
    }

    // ---- F6: a node restarted empty inside a lease -----------------------------------------------------------

    /**
     * F6 with the default safeguard. Nodes without persistence, every client with {@code maxLeaseTime} equal to the
     * lease (3 s). Fresh nodes first get no vote (a client built on them cannot acquire, and says why); once they
     * have been up for {@code maxLeaseTime} the holder takes the lock on {A, B}. A is killed and started again,
     * empty, inside the holder's lease. A contender's attempt then sees A grant (its vote does not count: A has been
     * up less than maxLeaseTime), B busy and C free: it must not get the lock. It gets it only once the holder's lease
     * is over (the holder stopped renewing), with a larger token; holders never overlap.
     */
    @Test
    @DisplayName("F6 with DELAYED_TRUST: a node restarted empty inside the lease gets no vote, so no second quorum forms")
    void restartedNodeGetsNoVoteWithDelayedTrust() throws Exception {
        F6 f6 = holderOnABThenRestartA(RestartSafeguard.DELAYED_TRUST);

        Optional<Held> early = f6.recorder.tryAcquire("contender", f6.contender.lock(LOCK), Duration.ZERO);
        // A granted (fresh and empty) but does not count, B is held, C granted: a busy answer, not a second holder
        assertThat(early).as("A's fresh vote must not count while B still holds the lock").isEmpty();
        assertThat(f6.holder.handle.isHeld()).isTrue();
        assertThat(f6.c().call("GET", KEY)).as("the contender gave back what C granted it").isNull();

        long holderDeadline = deadlineNanos(f6.holder.handle);
        Held contender = f6.recorder.acquire("contender", f6.contender.lock(LOCK), LEASE.plusSeconds(4));
        assertThat(contender.acquiredAt).as("only after the holder's lease was over").isGreaterThan(holderDeadline);
        assertThat(contender.token).as("tokens still increase across the restart").isGreaterThan(f6.holder.token);
        f6.holder.awaitLost(Duration.ofSeconds(2));
        assertThat(f6.register.write("contender", contender.token, 2)).isTrue();
        assertThat(f6.register.write("holder", f6.holder.token, 3)).as("the old holder's write is refused").isFalse();
        contender.release();
        CheckResult.assertAllValid(List.of(Checkers.holderIntervals(f6.recorder.history),
                Checkers.tokenIssuance(f6.recorder.history), Checkers.fencedResource(f6.register)));
    }

    /**
     * F6, negative control: the same scenario with {@link RestartSafeguard#NONE}. A's fresh vote counts, so the
     * contender gets {A, C} while the holder, still on B and within its lease, believes it holds the lock: two
     * holders at once, which the holder-intervals checker flags. The holder learns of it only at its release. The
     * fencing token still tells them apart (tokens are floored at the server's clock): the stale write is refused.
     */
    @Test
    @DisplayName("F6 control with NONE: the restarted node's vote counts and a second client gets the lock while the first still holds it")
    void withoutSafeguardARestartedNodeGivesASecondHolder() throws Exception {
        F6 f6 = holderOnABThenRestartA(RestartSafeguard.NONE);

        Held contender = f6.recorder.acquire("contender", f6.contender.lock(LOCK), Duration.ZERO);
        assertThat(f6.holder.handle.isHeld() && contender.handle.isHeld()).as("documented unsafe: two holders at once")
                .isTrue();
        Object contenderOwner = f6.a().call("GET", KEY);
        assertThat(f6.c().call("GET", KEY)).as("the second quorum is {A, C}").isEqualTo(contenderOwner);
        assertThat(f6.b().call("GET", KEY)).as("B still holds the first holder's lock").isNotNull()
                .isNotEqualTo(contenderOwner);
        assertThat(contender.token).isGreaterThan(f6.holder.token);
        assertThat(f6.register.write("contender", contender.token, 2)).isTrue();
        assertThat(f6.register.write("holder", f6.holder.token, 3)).as("the fence refuses the stale holder").isFalse();

        contender.release();
        assertThat(f6.holder.releaseLost()).as("the first holder is told at its release, a quorum no longer had it")
                .isNotNull();
        assertThat(Checkers.holderIntervals(f6.recorder.history).violations()).as("the checker sees both holders")
                .anyMatch(v -> v.startsWith("overlapping holders"));
        Checkers.fencedResource(f6.register).assertValid();
        Checkers.tokenIssuance(f6.recorder.history).assertValid();
    }

    /** What the F6 scenario leaves for the test: nodes A, B, C, the holder on {A, B}, a contender built after A's restart. */
    private record F6(List<RedisServer> nodes, LockRecorder recorder, FencedRegister register, Held holder,
            LockClient contender) {
        RedisServer a() {
            return nodes.get(0);
        }

        RedisServer b() {
            return nodes.get(1);
        }

        RedisServer c() {
            return nodes.get(2);
        }
    }

    /**
     * The shared F6 set-up: three nodes without persistence; the holder (lease 3 s, not renewed, so it believes
     * it holds the lock until its local deadline) on {A, B} while C votes no for a foreign owner; the foreign key
     * deleted; A killed and started again empty; a contender client built after that, with the same safeguard.
     */
    private F6 holderOnABThenRestartA(RestartSafeguard safeguard) throws Exception {
        List<RedisServer> nodes = startNodes(3, Persistence.NONE);
        RedisServer a = nodes.get(0);
        RedisServer b = nodes.get(1);
        RedisServer c = nodes.get(2);
        LockOptions options = LockOptions.builder().leaseTime(LEASE).autoRenew(false).build();
        if (safeguard == RestartSafeguard.DELAYED_TRUST) {
            LockClient early = client(nodes, safeguard, options, LEASE);
            assertThatThrownBy(() -> early.lock("probe").tryAcquire()).as("fresh nodes get no vote")
                    .isInstanceOf(LockBackendException.class)
                    .hasMessageContaining("no quorum of 2 of 3 Redlock nodes could vote")
                    .hasMessageContaining("votes count once it has been up for maxLeaseTime (PT3S)");
            // bounded: the early client gets the lock once its nodes have been up for maxLeaseTime
            Awaitility.await().pollInterval(Duration.ofMillis(100)).atMost(LEASE.plusSeconds(3)).ignoreExceptions()
                    .until(() -> early.lock("probe").tryAcquire().map(h -> {
                        h.release();
                        return true;
                    }).orElse(false));
            awaitUptime(nodes, LEASE); // so that every node counts at once for the clients built below
        }
        LockClient holderClient = client(nodes, safeguard, options, LEASE);
        c.call("SET", KEY, FOREIGN_OWNER, "PX", "60000");
        LockRecorder recorder = new LockRecorder();
        Held holder = recorder.acquire("holder", holderClient.lock(LOCK), Duration.ZERO);
        Object holderOwner = a.call("GET", KEY);
        assertThat(holderOwner).as("the holder has A").isNotNull().isNotEqualTo(FOREIGN_OWNER);
        assertThat(b.call("GET", KEY)).as("the holder has B").isEqualTo(holderOwner);
        assertThat(c.call("GET", KEY)).as("C voted for someone else").isEqualTo(FOREIGN_OWNER);
        FencedRegister register = new FencedRegister();
        assertThat(register.write("holder", holder.token, 1)).isTrue();
        c.call("DEL", KEY);

        Op restart = recorder.faultStart(Op.RESTART + " node A killed and started again empty, inside the lease");
        a.kill();
        a.start();
        recorder.faultEnd(restart);
        assertThat(a.call("EXISTS", KEY)).as("A forgot the lock").isEqualTo(0L);
        LockClient contender = client(nodes, safeguard, options, LEASE);
        assertThat(holder.handle.isHeld()).as("all this happened inside the holder's lease").isTrue();
        return new F6(nodes, recorder, register, holder, contender);
    }

    // ---- a minority down -------------------------------------------------------------------------------------

    /**
     * One of three nodes killed after the client connected: acquire and release still work on the other two,
     * tokens increase, a second client finds the lock busy (an empty answer, not a failure), and nothing waits
     * for the dead node.
     */
    @Test
    @DisplayName("one of 3 nodes killed: acquire and release work on the other two, tokens increase, busy is still an empty answer")
    void oneOfThreeKilled() throws Exception {
        List<RedisServer> nodes = startNodes(3, Persistence.AOF_ALWAYS);
        LockClient first = client(nodes, RestartSafeguard.DELAYED_TRUST, LockOptions.defaults(), null);
        LockClient second = client(nodes, RestartSafeguard.DELAYED_TRUST, LockOptions.defaults(), null);
        long before = acquireAndRelease(first);
        nodes.get(2).kill();

        assertCyclesWorkQuickly(first, second, before, Duration.ofSeconds(2));
    }

    /**
     * One of five nodes stopped with SIGSTOP (it keeps its connections and answers nothing), node timeout 2 s: an
     * acquire is decided by the first quorum of answers and a release by the first quorum of deletions, so
     * neither waits for the silent node. A broken implementation that waits for every node takes a node timeout
     * per call.
     *
     * <p>The busy answer is measured too. BUG (lock-redlock RedlockBackend.RedlockAcquisition#giveUp): a busy
     * attempt with a node still silent releases its owner value everywhere and waits for that release round,
     * which never reaches a quorum of deletions (nobody held that owner value) and so ends only when the silent
     * node times out: every busy tryAcquire costs a node timeout, contrary to "a silent minority costs nothing".
     */
    @Test
    @DisplayName("one of 5 nodes stopped (SIGSTOP): acquire, release and a busy tryAcquire do not wait for the silent node")
    void oneOfFivePaused() throws Exception {
        List<RedisServer> nodes = startNodes(5, Persistence.AOF_ALWAYS);
        Duration nodeTimeout = Duration.ofSeconds(2);
        LockClient first = toClose.add(RedlockClient.builder(uris(nodes)).nodeTimeout(nodeTimeout).build());
        LockClient second = toClose.add(RedlockClient.builder(uris(nodes)).nodeTimeout(nodeTimeout).build());
        long before = acquireAndRelease(first);
        RedisServer silent = nodes.get(4);
        paused.add(silent);
        silent.pause();

        assertCyclesWorkQuickly(first, second, before, nodeTimeout.dividedBy(2));
    }

    /**
     * Five acquire/release cycles of {@code first}, each of which must finish within {@code bound}, tokens strictly
     * increasing from {@code before}; during each hold {@code second}'s tryAcquire() must answer empty within
     * {@code bound}.
     */
    private static void assertCyclesWorkQuickly(LockClient first, LockClient second, long before, Duration bound)
            throws InterruptedException {
        long previous = before;
        for (int i = 0; i < 5; i++) {
            long started = System.nanoTime();
            LockHandle handle = first.lock(LOCK).tryAcquire().orElseThrow(
                    () -> new AssertionError("the lock was free but not granted"));
            assertThat(elapsed(started)).as("acquire %d", i).isLessThan(bound);
            assertThat(handle.fencingToken()).as("token of cycle %d", i).isGreaterThan(previous);
            previous = handle.fencingToken();

            long busyStarted = System.nanoTime();
            assertThat(second.lock(LOCK).tryAcquire()).as("held by the first client").isEmpty();
            // with a silent node this fails: see the BUG note on oneOfFivePaused
            assertThat(elapsed(busyStarted)).as("busy tryAcquire %d", i).isLessThan(bound);

            long releaseStarted = System.nanoTime();
            handle.release();
            assertThat(elapsed(releaseStarted)).as("release %d", i).isLessThan(bound);
        }
        LockHandle next = second.lock(LOCK).tryAcquire().orElseThrow(
                () -> new AssertionError("released, but the second client did not get it"));
        assertThat(next.fencingToken()).isGreaterThan(previous);
        next.release();
    }

    // ---- a majority down -------------------------------------------------------------------------------------

    /**
     * Two of three nodes killed: no quorum can vote. {@code tryAcquire()} fails at once with a
     * {@link LockBackendException} naming the dead nodes, and {@code tryAcquire(1 s)} fails the same way at the end
     * of its wait: neither hangs nor answers empty (empty would claim someone holds the lock). The grant of the
     * surviving node is given back. Once the nodes are back, the lock is granted again with a larger token.
     */
    @Test
    @DisplayName("two of 3 nodes killed: tryAcquire fails fast with a LockBackendException naming them, never empty; it recovers when they return")
    void majorityKilled() throws Exception {
        List<RedisServer> nodes = startNodes(3, Persistence.AOF_ALWAYS);
        LockClient client = client(nodes, RestartSafeguard.DELAYED_TRUST, LockOptions.defaults(), null);
        long before = acquireAndRelease(client);
        RedisServer a = nodes.get(0);
        RedisServer b = nodes.get(1);
        a.kill();
        b.kill();

        long started = System.nanoTime();
        assertThatThrownBy(() -> client.lock(LOCK).tryAcquire()).isInstanceOf(LockBackendException.class)
                .hasMessageContaining("no quorum of 2 of 3 Redlock nodes could vote")
                .hasMessageContaining(a.host() + ":" + a.port()).hasMessageContaining(b.host() + ":" + b.port());
        assertThat(elapsed(started)).as("tryAcquire() with two nodes dead").isLessThan(Duration.ofSeconds(2));

        started = System.nanoTime();
        assertThatThrownBy(() -> client.lock(LOCK).tryAcquire(Duration.ofSeconds(1)))
                .isInstanceOf(LockBackendException.class).hasMessageContaining("no quorum of 2 of 3");
        assertThat(elapsed(started)).as("tryAcquire(1 s) with two nodes dead").isLessThan(Duration.ofSeconds(3));
        Awaitility.await().atMost(Duration.ofSeconds(2))
                .untilAsserted(() -> assertThat(nodes.get(2).call("EXISTS", KEY)).as("C's grant given back").isEqualTo(0L));

        a.start();
        b.start();
        LockHandle after = client.lock(LOCK).tryAcquire(Duration.ofSeconds(10)).orElseThrow(
                () -> new AssertionError("free, but not granted after the nodes came back"));
        assertThat(after.fencingToken()).isGreaterThan(before);
        after.release();
    }

    // ---- rolling restarts ------------------------------------------------------------------------------------

    /**
     * Four clients (one thread each, each its own RedlockClient) increment a fenced register under the lock while
     * the nodes, without persistence, are killed and started again one at a time (two seconds apart), with the
     * DELAYED_TRUST safeguard and a 1 s maxLeaseTime equal to the lease, so that each restarted node rejoins. Tokens
     * strictly increase in grant order, holders never overlap, no increment is lost, and grants go on between and
     * after the restarts.
     */
    @Test
    @DisplayName("rolling restarts without persistence under DELAYED_TRUST: tokens strictly increase in grant order and holders never overlap")
    void rollingRestartsKeepTokensIncreasing() throws Exception {
        Duration lease = Duration.ofSeconds(1);
        List<RedisServer> nodes = startNodes(3, Persistence.NONE);
        awaitUptime(nodes, lease);
        LockOptions options = LockOptions.builder().leaseTime(lease).build();
        List<DistributedLock> locks = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            locks.add(client(nodes, RestartSafeguard.DELAYED_TRUST, options, lease).lock(LOCK));
        }
        History history = new History();
        List<Op> restartEnds = new ArrayList<>();
        CompletableFuture<Void> restarts = async("rolling-restarts", () -> {
            for (RedisServer node : nodes) {
                TimeUnit.SECONDS.sleep(restartEnds.isEmpty() ? 1 : 2); // the fault schedule, not synchronisation
                Op start = history.faultStart("test", null, Op.RESTART + " " + node + " killed and started again empty");
                node.kill();
                node.start();
                synchronized (restartEnds) {
                    restartEnds.add(history.faultEnd(start));
                }
            }
            return null;
        });
        LostUpdateWorkload.Result result = LostUpdateWorkload.builder(locks).threadsPerClient(1)
                .increments(1_000_000).duration(Duration.ofSeconds(8)).acquireWait(Duration.ofSeconds(2))
                .joinGrace(Duration.ofSeconds(5)).history(history).build().run();
        await(restarts, Duration.ofSeconds(5));
        System.out.println("rolling restarts: " + result);

        CheckResult.assertAllValid(result.checkAll());
        List<History.Call> grants = history.calls().stream()
                .filter(call -> call.invoke().type() == Op.Type.ACQUIRE && call.isOk())
                .sorted(java.util.Comparator.comparingLong(call -> call.completion().time())).toList();
        for (int i = 1; i < grants.size(); i++) {
            assertThat(grants.get(i).completion().token()).as("grant %d in grant order: %s after %s", i,
                    grants.get(i).completion(), grants.get(i - 1).completion())
                    .isGreaterThan(grants.get(i - 1).completion().token());
        }
        List<Long> phaseEnds = new ArrayList<>();
        synchronized (restartEnds) {
            assertThat(restartEnds).hasSize(3);
            restartEnds.forEach(end -> phaseEnds.add(end.time()));
        }
        phaseEnds.add(Long.MAX_VALUE);
        long phaseStart = Long.MIN_VALUE;
        for (long phaseEnd : phaseEnds) {
            long from = phaseStart;
            assertThat(grants).as("grants between restarts, up to %s", phaseEnd)
                    .anyMatch(call -> call.invoke().time() > from && call.completion().time() < phaseEnd);
            phaseStart = phaseEnd;
        }
    }

    // ---- F7: a voter's clock jumps forward -------------------------------------------------------------------

    /**
     * F7. The holder has {A, B}; then A's wall clock jumps 10 s forward, so A expires the holder's key early. A
     * contender gets {A, C} while the holder still believes it holds the lock: Redlock is unsafe when a voter's
     * clock jumps (no safeguard can tell, the node did not restart). The fencing token still orders them: A's
     * token is drawn from its clock, now ahead, so the stale holder's write is refused.
     */
    @Test
    @DisplayName("F7: a voter's clock jumps forward and expires the lock early: Redlock is UNSAFE here (two holders), the fenced register still refuses the stale writer")
    void clockJumpOnOneVoterGivesTwoHoldersButTheFenceHolds() throws Exception {
        RedisServer a = start(RedisServer.builder().persistence(Persistence.AOF_ALWAYS).fakeTime());
        List<RedisServer> nodes = new ArrayList<>(List.of(a));
        nodes.addAll(startNodes(2, Persistence.AOF_ALWAYS));
        RedisServer b = nodes.get(1);
        RedisServer c = nodes.get(2);
        LockOptions options = LockOptions.builder().leaseTime(LEASE).autoRenew(false).build();
        LockClient holderClient = client(nodes, RestartSafeguard.DELAYED_TRUST, options, LEASE);
        LockClient contenderClient = client(nodes, RestartSafeguard.DELAYED_TRUST, options, LEASE);
        LockRecorder recorder = new LockRecorder();
        c.call("SET", KEY, FOREIGN_OWNER, "PX", "60000");
        Held holder = recorder.acquire("holder", holderClient.lock(LOCK), Duration.ZERO);
        assertThat(b.call("GET", KEY)).isEqualTo(a.call("GET", KEY)).isNotNull();
        FencedRegister register = new FencedRegister();
        assertThat(register.write("holder", holder.token, 1)).isTrue();
        c.call("DEL", KEY);

        a.shiftClock(Duration.ofSeconds(10));
        assertThat(a.call("EXISTS", KEY)).as("A expired the holder's key early").isEqualTo(0L);
        Held contender = recorder.acquire("contender", contenderClient.lock(LOCK), Duration.ZERO);
        assertThat(holder.handle.isHeld() && contender.handle.isHeld()).as("documented unsafe: two holders at once")
                .isTrue();
        assertThat(contender.token).isGreaterThan(holder.token);
        assertThat(register.write("contender", contender.token, 2)).isTrue();
        assertThat(register.write("holder", holder.token, 3)).as("the fence refuses the stale holder").isFalse();
        Checkers.fencedResource(register).assertValid();
        assertThat(Checkers.holderIntervals(recorder.history).violations())
                .anyMatch(v -> v.startsWith("overlapping holders"));
        contender.release();
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    private RedisServer start(RedisServer.Builder builder) {
        RedisServer server = toClose.add(builder.build());
        server.start();
        return server;
    }

    private List<RedisServer> startNodes(int count, Persistence persistence) {
        List<RedisServer> nodes = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            nodes.add(start(RedisServer.builder().persistence(persistence)));
        }
        return nodes;
    }

    private static List<String> uris(List<RedisServer> nodes) {
        return nodes.stream().map(RedisServer::uri).toList();
    }

    /** A client of its own Lettuce clients, as another process would be; {@code maxLeaseTime} null: the lease. */
    private LockClient client(List<RedisServer> nodes, RestartSafeguard safeguard, LockOptions options,
            @Nullable Duration maxLeaseTime) {
        RedlockClient.Builder builder = RedlockClient.builder(uris(nodes)).defaultOptions(options)
                .restartSafeguard(safeguard);
        if (maxLeaseTime != null) {
            builder.maxLeaseTime(maxLeaseTime);
        }
        return toClose.add(builder.build());
    }

    /** Waits until every node reports at least {@code atLeast} of uptime: a client built then trusts them at once. */
    private static void awaitUptime(List<RedisServer> nodes, Duration atLeast) {
        Awaitility.await().pollInterval(Duration.ofMillis(50)).atMost(atLeast.plusSeconds(3))
                .until(() -> nodes.stream().allMatch(node -> Long.parseLong(RedlockNode.parseInfo(
                        (String) node.call("INFO", "server")).get("uptime_in_seconds")) >= atLeast.toSeconds()));
    }

    /** One acquire and release while every node is up; returns the token. */
    private static long acquireAndRelease(LockClient client) throws InterruptedException {
        LockHandle handle = client.lock(LOCK).tryAcquire().orElseThrow();
        handle.release();
        return handle.fencingToken();
    }

    private static Duration elapsed(long startedNanos) {
        return Duration.ofNanos(System.nanoTime() - startedNanos);
    }
}
