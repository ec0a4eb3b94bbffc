package io.distkit.lock.redis;

import static io.distkit.lock.redis.FailureSupport.expiry;
import static io.distkit.lock.redis.FailureSupport.lease;
import static io.distkit.lock.redis.FailureSupport.state;
import static io.distkit.lock.redis.FailureSupport.untouched;
import static io.distkit.testkit.history.LockRecorder.MS;
import static io.distkit.testkit.history.LockRecorder.async;
import static io.distkit.testkit.history.LockRecorder.await;
import static io.distkit.testkit.history.LockRecorder.awaitRenewalReply;
import static io.distkit.testkit.history.LockRecorder.deadlineNanos;
import static io.distkit.testkit.history.LockRecorder.drift;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockLostException;
import io.distkit.lock.LockOptions;
import io.distkit.lock.redis.FailureSupport.Expiry;
import io.distkit.lock.redis.FailureSupport.LockState;
import io.distkit.lock.redis.internal.LockKeys;
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
import io.distkit.testkit.server.RedisServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Scenarios of docs/failures.md for the Redis lock where the fault is at a holder or between a holder and Redis:
 * F1 (holder paused past its lease), F3 (protected write delayed past expiry), F4 (holder cut off), F9
 * (slow renewal replies), F13 (ambiguous acquire) and F14 (stale release and renewal). Server faults
 * (F5, F10, F15) are in {@link RedisServerFailureTest}, hand-off costs in {@link RedisHandOffFailureTest}.
 *
 * <p>Safety is asserted strictly (who may hold when, which writes the fenced resource accepts), liveness
 * with slack (free within lease + 2 s). Where a check could pass vacuously, the test also runs a
 * negative control through the same check: an unfenced register (F1, F3), an owner-blind release and
 * renewal (F14), a deadline counted from the reply instead of the send (F9).
 *
 * <p>Times are {@link System#nanoTime()}; server expiries are bounded with {@code PTTL} (see
 * {@link FailureSupport#expiry}). The only sleep is the length of F1's pause, which is the fault itself.
 */
@Timeout(60)
class RedisLockFailureTest {

    @RegisterExtension
    static RedisServer redis = RedisServer.builder().build();

    /** One per test; a client that connects to its port instead of Redis's can be cut, delayed or frozen. */
    @RegisterExtension
    final FaultProxy proxy = FaultProxy.builder().target(redis.host(), redis.port()).build();

    private final String prefix = FailureSupport.freshPrefix();
    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        proxy.heal(); // first: a client still cut off would wait for its releases to time out
        toClose.close();
    }

    private LockClient direct(LockOptions options) {
        return toClose.add(RedisLockClient.builder(redis.uri()).keyPrefix(prefix).defaultOptions(options).build());
    }

    private LockClient viaProxy(LockOptions options, Duration commandTimeout) {
        return toClose.add(RedisLockClient.builder(proxy.uri("redis")).keyPrefix(prefix).defaultOptions(options)
                .commandTimeout(commandTimeout).build());
    }

    // ---- F1 ----------------------------------------------------------------------------------------------

    /**
     * F1. The holder is a child JVM (its lease 1 s), SIGSTOPped for the lease plus a seeded extra. The
     * contender finds the lock busy at once, then gets it no earlier than the expiry {@code PTTL} bounds
     * and within lease + 2 s. On SIGCONT the holder reports the loss; its write with the old token is
     * refused by the fenced register while an unfenced register (negative control, same writes) accepts
     * it and the fenced-resource checker flags that; its release throws and leaves the contender's owner
     * value, fence and TTL as they were.
     */
    @Test
    @DisplayName("F1: a holder paused past its lease is replaced only after expiry; resumed, it is fenced off, told lost, and its release touches nothing")
    void pausedHolderIsReplacedAfterExpiryAndFencedOff() throws Exception {
        Random random = new Random(LockRecorder.seed("F1"));
        Duration lease = Duration.ofSeconds(1);
        Duration pausePastLease = Duration.ofMillis(200 + random.nextInt(600));
        String name = "f1-" + UUID.randomUUID(); // the child uses the default key prefix
        LockKeys keys = LockKeys.of(RedisLockClient.DEFAULT_KEY_PREFIX, name);
        LockClient contenderClient = toClose.add(RedisLockClient.builder(redis.uri())
                .defaultOptions(lease(Duration.ofSeconds(2))).build());
        LockRecorder recorder = new LockRecorder();
        FencedRegister register = new FencedRegister();
        FencedRegister unfenced = FencedRegister.unfenced(); // negative control: the same writes, no fencing

        try (LockHolderProcess holder = LockHolderProcess.builder(redis.uri()).leaseTime(lease).processName("holder")
                .start()) {
            long holderToken = holder.acquire(name, Duration.ZERO).orElseThrow();
            assertThat(holder.write(register, 1)).isTrue();
            unfenced.write(holder.processName(), holderToken, 1);

            holder.pause();
            long pausedAt = System.nanoTime();
            assertThat(recorder.tryAcquire("contender", contenderClient.lock(name), Duration.ZERO))
                    .as("never before expiry: the paused holder's lease still runs").isEmpty();
            Expiry expiry = expiry(redis, keys.lock());
            Held contender = recorder.acquire("contender", contenderClient.lock(name), lease.plusSeconds(2));
            assertThat(contender.acquiredAt).as("the contender gets the lock only after the holder's key expired")
                    .isGreaterThanOrEqualTo(expiry.lower() - MS);
            assertThat(contender.acquiredAt - pausedAt).as("and within lease + 2 s of the pause")
                    .isLessThan(lease.plusSeconds(2).toNanos());
            assertThat(contender.token).isGreaterThan(holderToken);
            assertThat(register.write("contender", contender.token, 2)).isTrue();
            unfenced.write("contender", contender.token, 2);
            LockState contenderState = state(redis, keys);

            // the fault itself: the pause lasts the lease plus a seeded extra
            TimeUnit.NANOSECONDS.sleep(Math.max(0, pausedAt + lease.plus(pausePastLease).toNanos() - System.nanoTime()));
            holder.resume();

            assertThat(holder.awaitLost(Duration.ofSeconds(5))).as("the resumed holder is told").isEqualTo(holderToken);
            assertThat(holder.status().held()).isFalse();
            assertThat(holder.write(register, 3)).as("the resumed holder's write is refused by token").isFalse();
            assertThat(unfenced.write(holder.processName(), holderToken, 3)).as("control: unfenced, it is accepted").isTrue();
            assertThatThrownBy(holder::release).isInstanceOf(LockLostException.class).hasMessageContaining(name);

            untouched(redis, keys, contenderState, 2_000).assertValid();
            assertThat(contender.handle.isHeld()).isTrue();
            assertThat(register.read()).isEqualTo(2);
            Checkers.fencedResource(register).assertValid();
            CheckResult control = Checkers.fencedResource(unfenced);
            assertThat(control.violations()).as("the checker flags the unfenced register")
                    .anyMatch(v -> v.contains("stale token accepted"));
            Checkers.tokenIssuance(History.merge(holder.history(), recorder.history)).assertValid();
            contender.release();
        }
    }

    // ---- F3 ----------------------------------------------------------------------------------------------

    /**
     * F3. The resource is a fenced register in Redis reached through the proxy ({@link RedisFencedResource});
     * the lock traffic goes direct. The holder (lease 1 s, no renewal: its lease runs out while its write
     * travels) sends a write while it holds the lock; the proxy freezes it; the lease expires and a
     * contender takes the lock and writes with its larger token; then the frozen write arrives and is
     * refused by token. The same late write to an unfenced register (negative control) is accepted and the
     * checker flags it.
     */
    @Test
    @DisplayName("F3: a protected write delayed past the lease's expiry is refused by token when it arrives")
    void writeDelayedPastExpiryIsRefusedByToken() throws Exception {
        Duration lease = Duration.ofSeconds(1);
        LockClient holderClient = direct(lease(lease, false));
        LockClient contenderClient = direct(lease(Duration.ofSeconds(2)));
        RedisFencedResource fenced = new RedisFencedResource(redis, prefix + "resource", true);
        RedisFencedResource unfenced = new RedisFencedResource(redis, prefix + "unfenced", false);
        Duration writeTimeout = Duration.ofSeconds(20);
        LockRecorder recorder = new LockRecorder();

        Held holder = recorder.acquire("holder", holderClient.lock("f3"), Duration.ZERO);
        assertThat(fenced.write(proxy.port(), writeTimeout, "holder", holder.token, 1)).isTrue();
        unfenced.write(proxy.port(), writeTimeout, "holder", holder.token, 1);

        proxy.freeze();
        long connections = proxy.connectionsAccepted();
        assertThat(holder.handle.isHeld()).as("the write is sent while the lock is held").isTrue();
        CompletableFuture<Boolean> late = async("late-write",
                () -> fenced.write(proxy.port(), writeTimeout, "holder", holder.token, 2));
        CompletableFuture<Boolean> lateUnfenced = async("late-write-unfenced",
                () -> unfenced.write(proxy.port(), writeTimeout, "holder", holder.token, 2));
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> proxy.connectionsAccepted() >= connections + 2);

        Held contender = recorder.acquire("contender", contenderClient.lock("f3"), lease.plusSeconds(2));
        assertThat(holder.handle.isHeld()).isFalse();
        assertThat(contender.token).isGreaterThan(holder.token);
        assertThat(fenced.write("contender", contender.token, 10)).isTrue();
        assertThat(unfenced.write("contender", contender.token, 10)).isTrue();
        assertThat(late).as("the holder's write is still in the network").isNotDone();

        proxy.unfreeze();
        assertThat(await(late, writeTimeout)).as("the late write is refused by token").isFalse();
        assertThat(await(lateUnfenced, writeTimeout)).as("control: unfenced, it is accepted").isTrue();
        assertThat(fenced.value()).isEqualTo(10);
        assertThat(unfenced.value()).isEqualTo(2);
        Checkers.fencedResource(fenced.writes()).assertValid();
        assertThat(Checkers.fencedResource(unfenced.writes()).violations()).as("the checker flags the unfenced register")
                .anyMatch(v -> v.contains("stale token accepted"));
        Checkers.tokenIssuance(recorder.history).assertValid();
        contender.release();
    }

    // ---- F4 ----------------------------------------------------------------------------------------------

    /**
     * F4. The holder (lease 2 s) reaches Redis through the proxy, which black-holes both directions. The
     * holder declares the loss at its local deadline and not before; that deadline comes from a renewal
     * sent before the cut (at most cut + lease - drift). The contender (direct) gets the lock only after the
     * server-side expiry bounded by {@code PTTL}, and after the holder stopped believing (the
     * holder-interval checker applies: no pause, no clock fault). After healing (the cut connection is
     * reset, which fails the renewal still pending on it) the holder's client reconnects and works, its
     * handle stays lost (loss is final; a lost lease is never renewed again), and the contender's owner
     * value, fence and TTL are untouched.
     */
    @Test
    @DisplayName("F4: a holder cut off declares the loss at its local deadline; the contender gets the lock only after server expiry; no resurrection after healing")
    void holderCutOffLosesAtItsDeadline() throws Exception {
        Duration lease = Duration.ofSeconds(2);
        Duration contenderLease = Duration.ofSeconds(3);
        // the default command timeout (5 s): the renewal sent into the black hole is still pending at healing
        LockClient holderClient = viaProxy(lease(lease), RedisLockClient.DEFAULT_COMMAND_TIMEOUT);
        LockClient contenderClient = direct(lease(contenderLease));
        LockKeys keys = LockKeys.of(prefix, "f4");
        LockRecorder recorder = new LockRecorder();

        Held holder = recorder.acquire("holder", holderClient.lock("f4"), Duration.ZERO);
        proxy.blackHole();
        long cutAt = System.nanoTime(); // after: a renewal that got through was sent before this
        assertThat(recorder.tryAcquire("contender", contenderClient.lock("f4"), Duration.ZERO)).isEmpty();
        Expiry expiry = expiry(redis, keys.lock());
        Held contender = recorder.acquire("contender", contenderClient.lock("f4"), lease.plusSeconds(2));
        long lostAt = holder.awaitLost(Duration.ofSeconds(2));
        long deadline = deadlineNanos(holder.handle); // final: a lost lease's deadline never moves

        assertThat(deadline).as("the deadline comes from a renewal sent before the cut")
                .isLessThanOrEqualTo(cutAt + lease.toNanos() - drift(lease) + MS);
        assertThat(lostAt).as("the loss is declared at the local deadline, not before")
                .isGreaterThanOrEqualTo(deadline - MS);
        assertThat(lostAt - deadline).as("and soon after it").isLessThan(Duration.ofSeconds(1).toNanos());
        assertThat(contender.acquiredAt).as("the contender acquires only after the server-side expiry")
                .isGreaterThanOrEqualTo(expiry.lower() - MS);
        assertThat(contender.acquiredAt).as("when the holder no longer believes it holds the lock")
                .isGreaterThan(deadline);

        LockState contenderState = state(redis, keys);
        long connections = proxy.connectionsAccepted();
        long evalshaBefore = FailureSupport.calls(redis, "evalsha");
        proxy.heal();
        // answered only after everything queued before it on the holder's connection
        holderClient.lock("f4-probe").tryAcquire().orElseThrow().release();
        System.out.println("F4: after healing the holder's client reconnected " + (proxy.connectionsAccepted() - connections)
                + " time(s); script calls meanwhile (probe acquire + release, any re-sent renewal, contender renewals): "
                + (FailureSupport.calls(redis, "evalsha") - evalshaBefore));
        assertThat(proxy.connectionsAccepted()).as("the holder's client reconnected").isGreaterThan(connections);
        untouched(redis, keys, contenderState, contenderLease.toMillis()).assertValid();
        assertThat(holder.handle.isHeld()).as("no resurrection").isFalse();
        assertThat(holder.releaseLost()).hasMessageContaining("no renewal succeeded before the lease deadline");
        assertThat(contender.handle.isHeld()).isTrue();
        contender.release();

        Checkers.holderIntervals(recorder.history).assertValid();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }

    // ---- F9 ----------------------------------------------------------------------------------------------

    /**
     * F9. The holder (lease 2 s, renewal every 1 s) reaches Redis through the proxy, which delays replies
     * only: each renewal takes effect on the server at once, its answer arrives late.
     *
     * <p>Replies 400 ms late: the lock stays held, and after each renewal reply the local deadline is not
     * past the server's expiry, because it counts from the renewal's send. Control: a deadline counted from
     * the reply's arrival would be ~380 ms past it, and the same comparison flags that.
     *
     * <p>Replies 1.8 s late, near the lease: the holder declares the loss at the deadline of its last
     * timely renewal; the late successful reply afterwards does not revive it (it stays lost, its release
     * says so, and the contender, which gets the lock only after the loss, keeps it).
     */
    @Test
    @DisplayName("F9: deadlines count from the renewal's send; a renewal reply that comes after the deadline does not revive the lock")
    void slowRenewalRepliesNeitherStretchNorReviveTheLease() throws Exception {
        Duration lease = Duration.ofSeconds(2);
        LockOptions options = LockOptions.builder().leaseTime(lease).renewInterval(Duration.ofSeconds(1)).build();
        LockClient holderClient = viaProxy(options, Duration.ofSeconds(5));
        LockClient contenderClient = direct(lease(Duration.ofSeconds(3)));
        LockKeys keys = LockKeys.of(prefix, "f9");
        LockRecorder recorder = new LockRecorder();
        Held holder = recorder.acquire("holder", holderClient.lock("f9"), Duration.ZERO);

        proxy.delay(Direction.SERVER_TO_CLIENT, Duration.ofMillis(400));
        awaitRenewalReply(holder.handle); // may be one whose reply left before the delay: not judged
        for (int renewal = 1; renewal <= 2; renewal++) {
            awaitRenewalReply(holder.handle);
            long replySeenAt = System.nanoTime();
            long deadline = deadlineNanos(holder.handle);
            Expiry expiry = expiry(redis, keys.lock());
            assertThat(deadline).as("renewal %d: the local deadline is within the server's lease", renewal)
                    .isLessThanOrEqualTo(expiry.upper() + MS);
            assertThat(replySeenAt + lease.toNanos() - drift(lease))
                    .as("control, renewal %d: a deadline counted from the reply would be past the server's expiry", renewal)
                    .isGreaterThan(expiry.upper() + MS);
        }
        assertThat(holder.handle.isHeld()).isTrue();

        proxy.delay(Direction.SERVER_TO_CLIENT, Duration.ofMillis(1_800));
        CompletableFuture<Held> contender = async("f9-contender",
                () -> recorder.acquire("contender", contenderClient.lock("f9"), Duration.ofSeconds(8)));
        long lostAt = holder.awaitLost(Duration.ofSeconds(4));
        long deadline = deadlineNanos(holder.handle);
        assertThat(lostAt).as("lost at the deadline of the last timely renewal")
                .isGreaterThanOrEqualTo(deadline - MS);
        assertThat(lostAt - deadline).isLessThan(Duration.ofSeconds(1).toNanos());
        Held newHolder = await(contender, Duration.ofSeconds(10));
        // the contender could only get the lock after the late reply reached the holder: the renewal had
        // extended the key on the server until the reply's cleanup release, or its lease, removed it
        assertThat(newHolder.acquiredAt).isGreaterThan(deadline);
        LockState newHolderState = state(redis, keys);
        assertThat(holder.handle.isHeld()).as("the late reply did not revive the lock").isFalse();
        assertThat(holder.releaseLost()).hasMessageContaining("no renewal succeeded before the lease deadline");
        untouched(redis, keys, newHolderState, 3_000).assertValid();
        assertThat(newHolder.handle.isHeld()).isTrue();
        newHolder.release();
        Checkers.holderIntervals(recorder.history).assertValid();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }

    // ---- F13 ---------------------------------------------------------------------------------------------

    /**
     * F13, the connection that lost the reply is then reset (RST), as after a real network failure. The
     * acquire script ran (the key holds this acquisition's owner value) but its answer never comes: Lettuce
     * fails the command with the reset, the caller gets {@link LockBackendException} and does not enter,
     * and the acquisition gives the lock back by its owner value once reconnected, long before its lease
     * would have run out. The fence was bumped once; the client works normally afterwards.
     */
    @Test
    @DisplayName("F13: a lost acquire reply, then a reset: the caller does not enter and the lock is given back by owner value")
    void ambiguousAcquireCutByResetIsGivenBackByOwnerValue() throws Exception {
        Duration lease = Duration.ofSeconds(2);
        LockClient holderClient = viaProxy(lease(lease), Duration.ofSeconds(3));
        LockKeys keys = LockKeys.of(prefix, "f13-reset");
        holderClient.lock("f13-warm-up").tryAcquire().orElseThrow().release(); // connected, scripts cached

        proxy.dropNextReply();
        CompletableFuture<LockHandle> acquiring = holderClient.lock("f13-reset").acquireAsync(Duration.ofSeconds(10));
        Awaitility.await().atMost(Duration.ofSeconds(2))
                .until(() -> proxy.chunksDropped(Direction.SERVER_TO_CLIENT) == 1 && redis.call("GET", keys.lock()) != null);
        LockState applied = state(redis, keys);
        Expiry wouldExpire = expiry(redis, keys.lock());
        assertThat(acquiring).as("no answer: the client has not entered").isNotDone();

        proxy.heal(); // resets the connection that lost the reply
        assertThatThrownBy(() -> await(acquiring, Duration.ofSeconds(5))).as("the caller does not enter")
                .isInstanceOf(LockBackendException.class).hasMessageContaining("given back by its owner value");
        Awaitility.await().pollInterval(Duration.ofMillis(5)).atMost(lease)
                .until(() -> redis.call("EXISTS", keys.lock()).equals(0L));
        assertThat(System.nanoTime()).as("removed by owner value, before its lease ran out")
                .isLessThan(wouldExpire.lower());
        assertThat(redis.call("GET", keys.fence())).as("one token issued").isEqualTo(applied.fence());

        LockHandle again = holderClient.lock("f13-reset").tryAcquire().orElseThrow();
        assertThat(again.fencingToken()).isGreaterThan(Long.parseLong(applied.fence()));
        again.release();
    }

    /**
     * F13, the server closes the connection that lost the reply (a clean close: FIN, not RST). Lettuce
     * re-sends the commands that were in flight, the acquire among them (at-least-once); the script finds
     * its own owner value and answers with the token it issued the first time. The ambiguity is resolved
     * by owner value: the client holds the lock with that token, and the fence was bumped once, not twice.
     */
    @Test
    @DisplayName("F13: a lost acquire reply, then the server closes the connection: Lettuce re-sends it and the owner value resolves it to one grant, one token")
    void ambiguousAcquireReSentAfterCloseIsResolvedByOwnerValue() throws Exception {
        String clientName = "f13-" + UUID.randomUUID();
        LockClient holderClient = toClose.add(RedisLockClient.builder(proxy.uri("redis") + "?clientName=" + clientName)
                .keyPrefix(prefix).defaultOptions(lease(Duration.ofSeconds(2))).commandTimeout(Duration.ofSeconds(3))
                .build());
        LockKeys keys = LockKeys.of(prefix, "f13-close");
        holderClient.lock("f13-warm-up").tryAcquire().orElseThrow().release();

        proxy.dropNextReply();
        CompletableFuture<LockHandle> acquiring = holderClient.lock("f13-close").acquireAsync(Duration.ofSeconds(10));
        Awaitility.await().atMost(Duration.ofSeconds(2))
                .until(() -> proxy.chunksDropped(Direction.SERVER_TO_CLIENT) == 1 && redis.call("GET", keys.lock()) != null);
        LockState applied = state(redis, keys);
        assertThat(acquiring).as("no answer: the client has not entered").isNotDone();

        assertThat(redis.call("CLIENT", "KILL", "ID", clientId(clientName))).isEqualTo(1L);
        LockHandle handle = await(acquiring, Duration.ofSeconds(5));
        assertThat(handle.fencingToken()).as("the token issued when the request first ran")
                .isEqualTo(Long.parseLong(applied.fence()));
        LockState now = state(redis, keys);
        assertThat(now.owner()).as("the same acquisition").isEqualTo(applied.owner());
        assertThat(now.fence()).as("the re-sent request issued no second token").isEqualTo(applied.fence());
        handle.release();
        assertThat(redis.call("EXISTS", keys.lock())).isEqualTo(0L);
    }

    /** The id of the one connection named {@code name}, from {@code CLIENT LIST}. */
    private static String clientId(String name) {
        List<String> ids = new ArrayList<>();
        for (String line : ((String) redis.call("CLIENT", "LIST")).split("\n")) {
            if ((" " + line.strip() + " ").contains(" name=" + name + " ")) {
                ids.add(line.substring(line.indexOf("id=") + 3, line.indexOf(' ', line.indexOf("id="))));
            }
        }
        assertThat(ids).as("connections named %s", name).hasSize(1);
        return ids.get(0);
    }

    /**
     * F13, silence. The proxy drops the acquire's reply and the connection stays up (the reply is simply
     * never seen): the attempt times out, the caller gets {@link LockBackendException} and does not enter;
     * the lock, which the request did take on the server, is given back by owner value (or would free by
     * its lease): it is free again within the lease, and a contender gets it with a larger token. After
     * healing, the client that timed out works again.
     */
    @Test
    @DisplayName("F13: a lost acquire reply never answered: the caller does not enter and the lock frees within the lease")
    void ambiguousAcquireTimesOutWithoutEnteringAndFrees() throws Exception {
        Duration lease = Duration.ofSeconds(2);
        LockClient holderClient = viaProxy(lease(lease), Duration.ofSeconds(1));
        LockClient contenderClient = direct(lease(lease));
        LockKeys keys = LockKeys.of(prefix, "f13b");
        holderClient.lock("f13-warm-up").tryAcquire().orElseThrow().release();

        proxy.dropNextReply();
        long invokedAt = System.nanoTime();
        assertThatThrownBy(() -> holderClient.lock("f13b").tryAcquire(Duration.ofSeconds(5)))
                .as("the caller does not enter").isInstanceOf(LockBackendException.class)
                .hasMessageContaining("given back by its owner value");
        assertThat(proxy.chunksDropped(Direction.SERVER_TO_CLIENT)).isEqualTo(1);
        String phantomToken = (String) redis.call("GET", keys.fence());
        assertThat(phantomToken).as("the request did run on the server").isNotNull();

        Awaitility.await().pollInterval(Duration.ofMillis(5)).atMost(lease.plusSeconds(2))
                .until(() -> redis.call("EXISTS", keys.lock()).equals(0L));
        System.out.println("F13: lock of the unanswered acquire gone " + (System.nanoTime() - invokedAt) / MS
                + " ms after the call (lease " + lease.toMillis() + " ms)");
        Held contender = new LockRecorder().acquire("contender", contenderClient.lock("f13b"), Duration.ZERO);
        assertThat(contender.token).isGreaterThan(Long.parseLong(phantomToken));
        contender.release();

        proxy.heal();
        LockHandle again = holderClient.lock("f13b").tryAcquire(Duration.ofSeconds(5)).orElseThrow();
        assertThat(again.fencingToken()).isGreaterThan(contender.token);
        again.release();
    }

    // ---- F14 ---------------------------------------------------------------------------------------------

    /**
     * F14, on a Redis whose wall clock jumps 10 s forward: both holders' keys expire on the server while
     * their clients still believe they hold them (their local deadlines are seconds away). A new holder
     * (lease 2 s) takes both locks. The stale release (holder A1, no renewal) reaches Redis, finds another
     * owner value, touches nothing and throws {@link LockLostException}. The stale renewal (holder A2,
     * lease 3 s, held in a frozen proxy until the new holder has the lock) finds another owner value,
     * touches nothing (a renewal with its 3 s lease would push the new holder's TTL above 2 s), and the
     * holder is told lost by that renewal. Negative control: an owner-blind release ({@code DEL}) and
     * renewal ({@code PEXPIRE} with the stale lease) are flagged by the same check.
     */
    @Test
    @DisplayName("F14: a stale release or renewal after ownership loss reports the loss and leaves the new holder's lock, lease and token alone")
    void staleReleaseAndRenewalLeaveTheNewHolderAlone() throws Exception {
        RedisServer clocked = toClose.add(RedisServer.builder().fakeTime().build());
        clocked.start();
        FaultProxy frozen = toClose.add(FaultProxy.builder().target(clocked.host(), clocked.port()).build());
        frozen.start();
        Duration staleLease = Duration.ofSeconds(3);
        Duration newLease = Duration.ofSeconds(2);
        LockClient releaser = toClose.add(RedisLockClient.builder(clocked.uri()).keyPrefix(prefix)
                .defaultOptions(lease(staleLease, false)).build());
        LockClient renewer = toClose.add(RedisLockClient.builder(frozen.uri("redis")).keyPrefix(prefix)
                .defaultOptions(lease(staleLease)).build());
        LockClient newClient = toClose.add(RedisLockClient.builder(clocked.uri()).keyPrefix(prefix)
                .defaultOptions(lease(newLease)).build());
        LockKeys releaseKeys = LockKeys.of(prefix, "f14-release");
        LockKeys renewKeys = LockKeys.of(prefix, "f14-renew");
        LockRecorder recorder = new LockRecorder();
        Held a1 = recorder.acquire("a1", releaser.lock("f14-release"), Duration.ZERO);
        Held a2 = recorder.acquire("a2", renewer.lock("f14-renew"), Duration.ZERO);

        frozen.freeze();
        clocked.shiftClock(Duration.ofSeconds(10));
        assertThat(clocked.call("EXISTS", releaseKeys.lock(), renewKeys.lock())).as("both expired on the server")
                .isEqualTo(0L);
        Held b1 = recorder.acquire("b1", newClient.lock("f14-release"), Duration.ZERO);
        Held b2 = recorder.acquire("b2", newClient.lock("f14-renew"), Duration.ZERO);
        assertThat(b1.token).isGreaterThan(a1.token);
        assertThat(b2.token).isGreaterThan(a2.token);
        LockState b1State = state(clocked, releaseKeys);
        LockState b2State = state(clocked, renewKeys);

        assertThat(a1.handle.isHeld()).as("a1's local deadline has not passed").isTrue();
        assertThat(a1.releaseLost()).as("the stale release reached Redis and found another owner")
                .hasMessageContaining("no longer held when released");
        untouched(clocked, releaseKeys, b1State, newLease.toMillis()).assertValid();

        frozen.unfreeze();
        a2.awaitLost(staleLease);
        assertThat(a2.releaseLost()).as("told by its renewal, well before its deadline")
                .hasMessageContaining("a renewal found the lock gone");
        untouched(clocked, renewKeys, b2State, newLease.toMillis()).assertValid();
        assertThat(b1.handle.isHeld()).isTrue();
        assertThat(b2.handle.isHeld()).isTrue();
        Checkers.tokenIssuance(recorder.history).assertValid();

        // negative control: what an owner-blind release and renewal by the stale holders would have done
        clocked.call("DEL", releaseKeys.lock());
        clocked.call("PEXPIRE", renewKeys.lock(), Long.toString(staleLease.toMillis()));
        assertThat(untouched(clocked, releaseKeys, b1State, newLease.toMillis()).violations())
                .as("the check flags an owner-blind release").anyMatch(v -> v.contains("owner"));
        assertThat(untouched(clocked, renewKeys, b2State, newLease.toMillis()).violations())
                .as("the check flags an owner-blind renewal").anyMatch(v -> v.contains("TTL"));
    }
}
