package io.distkit.lock.etcd;

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
import io.distkit.testkit.history.Op;
import io.distkit.testkit.process.LockHolderProcess;
import io.distkit.testkit.server.EtcdCluster;
import io.distkit.testkit.server.FaultProxy;
import io.distkit.testkit.server.FaultProxy.Direction;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.LeaseOption;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Scenarios of docs/failures.md for the etcd lock on a single member: F1 (holder paused past its lease),
 * F4 (holder cut off), F9 (slow renewal replies), F10 (etcd itself paused past the lease), F12 (the
 * session's lease revoked from outside), F13 (ambiguous acquire) and F14 (stale release and renewal).
 *
 * <p>Safety is asserted strictly (who may hold when, which writes the fenced resource accepts, what the
 * new holder's key looks like), liveness with slack. Where a check could pass vacuously, a negative control
 * runs through the same check: an unfenced register (F1, F10), a deadline counted from the reply (F9), an
 * owner-blind release and renewal (F14).
 *
 * <p>Server-side expiry is bounded with the lease's {@code TimeToLive}, which etcd truncates to whole
 * seconds ({@link #leaseExpiry}); etcd deletes the keys of an expired lease up to 500 ms after it expired
 * (its lessor looks every 500 ms), so liveness bounds add a second to the lease. Times are
 * {@link System#nanoTime()}; the only sleeps are the lengths of the pauses, which are the faults themselves.
 */
@Timeout(60)
class EtcdLockFailureTest {

    @RegisterExtension
    static EtcdCluster etcd = EtcdCluster.builder().build();

    /** One per test; a client that connects to its port instead of etcd's can be cut, delayed or frozen. */
    @RegisterExtension
    final FaultProxy proxy = FaultProxy.builder().target("127.0.0.1", URI.create(etcd.member(0).endpoint()).getPort())
            .build();

    private static Client admin;
    private final Closer toClose = new Closer();

    @BeforeAll
    static void connectAdmin() {
        admin = Client.builder().endpoints(etcd.endpoints().toArray(String[]::new)).build();
    }

    @AfterAll
    static void closeAdmin() {
        if (admin != null) {
            admin.close();
        }
    }

    @AfterEach
    void closeAll() throws Exception {
        etcd.member(0).resumeIfPaused(); // a failed F10 must not leave etcd stopped for the next test
        proxy.heal(); // first: a client still cut off would wait for its releases to time out
        toClose.close();
    }

    // ---- clients and server-side state -------------------------------------------------------------------

    private LockClient direct(LockOptions options, Duration commandTimeout) {
        return toClose.add(EtcdLockClient.builder(etcd.member(0).endpoint()).defaultOptions(options)
                .commandTimeout(commandTimeout).build());
    }

    private LockClient viaProxy(LockOptions options, Duration commandTimeout) {
        return toClose.add(EtcdLockClient.builder(proxy.uri("http")).defaultOptions(options)
                .commandTimeout(commandTimeout).build());
    }

    private static LockOptions lease(Duration lease) {
        return LockOptions.builder().leaseTime(lease).build();
    }

    private static String uniqueName(String prefix) {
        return prefix + "-" + UUID.randomUUID();
    }

    /** Every key under the lock's prefix (default key prefix), lowest create revision first. */
    private static List<KeyValue> keysOf(String name) throws Exception {
        return admin.getKVClient().get(bytes(EtcdLockClient.lockPrefix(EtcdLockClient.DEFAULT_KEY_PREFIX, name)),
                        GetOption.builder().isPrefix(true).withSortField(GetOption.SortTarget.CREATE)
                                .withSortOrder(GetOption.SortOrder.ASCEND).build())
                .get(10, TimeUnit.SECONDS).getKvs();
    }

    /** The one key of the lock (the holder's, nobody waiting). */
    private static KeyValue onlyKey(String name) throws Exception {
        List<KeyValue> keys = keysOf(name);
        assertThat(keys).as("keys of %s", name).hasSize(1);
        return keys.get(0);
    }

    private static ByteSequence bytes(String text) {
        return ByteSequence.from(text, StandardCharsets.UTF_8);
    }

    /** The remaining TTL etcd reports for a lease, in whole seconds (truncated); -1 once it is gone. */
    private static long ttlOf(long leaseId) throws Exception {
        return admin.getLeaseClient().timeToLive(leaseId, LeaseOption.DEFAULT).get(10, TimeUnit.SECONDS).getTTL();
    }

    /**
     * When a lease expires on etcd, bounded from both sides on the nanoTime scale. {@code TimeToLive} is
     * answered at some instant between sending and receiving, with the remaining time truncated to whole
     * seconds: the expiry is at least {@code sent + ttl} and less than {@code received + ttl + 1 s}.
     */
    record Expiry(long lower, long upper) {}

    private static Expiry leaseExpiry(long leaseId) throws Exception {
        long sent = System.nanoTime();
        long ttl = ttlOf(leaseId);
        long received = System.nanoTime();
        assertThat(ttl).as("TTL of lease %x", leaseId).isPositive();
        return new Expiry(sent + TimeUnit.SECONDS.toNanos(ttl), received + TimeUnit.SECONDS.toNanos(ttl + 1));
    }

    /**
     * Checks that a stale holder's operation left the current holder's lock as it was: the lock has exactly
     * that key, with the same create revision (the token), modification revision, value (owner) and lease,
     * and that lease is alive with a TTL not above {@code maxTtlSeconds} (the holder's own lease time). A
     * check that returns its verdict instead of throwing, so that a negative control can show it fails.
     */
    private static CheckResult untouched(String name, KeyValue before, long maxTtlSeconds) throws Exception {
        List<String> violations = new ArrayList<>();
        List<KeyValue> now = keysOf(name);
        if (now.size() != 1 || !now.get(0).getKey().equals(before.getKey())) {
            violations.add("the keys of " + name + " are " + now.stream().map(kv -> kv.getKey().toString()).toList()
                    + ", expected only " + before.getKey());
        } else {
            KeyValue kv = now.get(0);
            if (kv.getCreateRevision() != before.getCreateRevision()) {
                violations.add("token (create revision) changed from " + before.getCreateRevision() + " to "
                        + kv.getCreateRevision());
            }
            if (kv.getModRevision() != before.getModRevision()) {
                violations.add("key rewritten: mod revision " + before.getModRevision() + " -> " + kv.getModRevision());
            }
            if (!kv.getValue().equals(before.getValue())) {
                violations.add("owner value changed from " + before.getValue() + " to " + kv.getValue());
            }
            if (kv.getLease() != before.getLease()) {
                violations.add("lease changed from " + Long.toHexString(before.getLease()) + " to "
                        + Long.toHexString(kv.getLease()));
            }
        }
        long ttl = ttlOf(before.getLease());
        if (ttl <= 0 || ttl > maxTtlSeconds) {
            violations.add("TTL of lease " + Long.toHexString(before.getLease()) + " is " + ttl + " s, expected within (0, "
                    + maxTtlSeconds + "]");
        }
        return new CheckResult("new holder untouched", violations);
    }

    // ---- F1 ----------------------------------------------------------------------------------------------

    /**
     * F1. The holder is a child JVM (lease 2 s, etcd's minimum), SIGSTOPped for the lease plus a seeded
     * extra. The contender finds the lock busy at once, then gets it no earlier than the expiry of the
     * holder's etcd lease ({@code TimeToLive} bounds it) and within lease + 3 s. On SIGCONT the holder
     * reports the loss; its write with the old token is refused by the fenced register while an unfenced
     * register (negative control, same writes) accepts it and the fenced-resource checker flags that; its
     * release throws and leaves the contender's key, lease and token as they were.
     */
    @Test
    @DisplayName("F1: a holder paused past its lease is replaced only after its etcd lease expired; resumed, it is fenced off, told lost, and its release touches nothing")
    void pausedHolderIsReplacedAfterExpiryAndFencedOff() throws Exception {
        Random random = new Random(LockRecorder.seed("F1"));
        Duration lease = Duration.ofSeconds(2);
        Duration pausePastLease = Duration.ofMillis(300 + random.nextInt(700));
        String name = uniqueName("f1"); // the child uses the default key prefix
        URI backend = URI.create("etcd://" + URI.create(etcd.member(0).endpoint()).getAuthority());
        LockClient contenderClient = direct(lease(Duration.ofSeconds(3)), EtcdLockClient.DEFAULT_COMMAND_TIMEOUT);
        LockRecorder recorder = new LockRecorder();
        FencedRegister register = new FencedRegister();
        FencedRegister unfenced = FencedRegister.unfenced(); // negative control: the same writes, no fencing

        try (LockHolderProcess holder = LockHolderProcess.builder(backend).leaseTime(lease).processName("holder")
                .start()) {
            long holderToken = holder.acquire(name, Duration.ZERO).orElseThrow();
            KeyValue holderKey = onlyKey(name);
            assertThat(holderKey.getCreateRevision()).isEqualTo(holderToken);
            assertThat(holder.write(register, 1)).isTrue();
            unfenced.write(holder.processName(), holderToken, 1);

            holder.pause();
            long pausedAt = System.nanoTime();
            assertThat(recorder.tryAcquire("contender", contenderClient.lock(name), Duration.ZERO))
                    .as("never before expiry: the paused holder's lease still runs").isEmpty();
            Expiry expiry = leaseExpiry(holderKey.getLease());
            Held contender = recorder.acquire("contender", contenderClient.lock(name), lease.plusSeconds(3));
            assertThat(contender.acquiredAt).as("the contender gets the lock only after the holder's lease expired")
                    .isGreaterThanOrEqualTo(expiry.lower() - MS);
            assertThat(contender.acquiredAt - pausedAt).as("and within lease + 3 s of the pause")
                    .isLessThan(lease.plusSeconds(3).toNanos());
            assertThat(contender.token).isGreaterThan(holderToken);
            assertThat(ttlOf(holderKey.getLease())).as("the holder's session is gone on etcd").isEqualTo(-1);
            assertThat(register.write("contender", contender.token, 2)).isTrue();
            unfenced.write("contender", contender.token, 2);
            KeyValue contenderKey = onlyKey(name);

            // the fault itself: the pause lasts the lease plus a seeded extra
            TimeUnit.NANOSECONDS.sleep(Math.max(0, pausedAt + lease.plus(pausePastLease).toNanos() - System.nanoTime()));
            holder.resume();

            assertThat(holder.awaitLost(Duration.ofSeconds(5))).as("the resumed holder is told").isEqualTo(holderToken);
            assertThat(holder.status().held()).isFalse();
            assertThat(holder.write(register, 3)).as("the resumed holder's write is refused by token").isFalse();
            assertThat(unfenced.write(holder.processName(), holderToken, 3)).as("control: unfenced, it is accepted")
                    .isTrue();
            assertThatThrownBy(holder::release).isInstanceOf(LockLostException.class).hasMessageContaining(name);

            untouched(name, contenderKey, 3).assertValid();
            assertThat(contender.handle.isHeld()).isTrue();
            assertThat(register.read()).isEqualTo(2);
            Checkers.fencedResource(register).assertValid();
            CheckResult control = Checkers.fencedResource(unfenced);
            assertThat(control.violations()).as("the checker flags the unfenced register")
                    .anyMatch(v -> v.contains("stale token accepted"));
            Checkers.tokenIssuance(History.merge(holder.history(), recorder.history)).assertValid();
            contender.release();
            assertThat(keysOf(name)).as("nothing left behind").isEmpty();
        }
    }

    // ---- F4 ----------------------------------------------------------------------------------------------

    /**
     * F4. The holder (lease 2 s, command timeout 1 s) reaches etcd through the proxy, which black-holes both
     * directions. The holder declares the loss at its local deadline and not before; that deadline comes
     * from a renewal sent before the cut (at most cut + lease - drift). The contender (direct) gets the lock
     * only after the server-side expiry of the holder's lease, and after the holder stopped believing (the
     * holder-interval checker applies: no pause, no clock fault). After healing the holder's client works
     * again, its handle stays lost, and the contender's key, lease and token are untouched.
     */
    @Test
    @DisplayName("F4: a holder cut off from etcd declares the loss at its local deadline; the contender gets the lock only after the lease ran out on etcd; no resurrection after healing")
    void holderCutOffLosesAtItsDeadline() throws Exception {
        Duration lease = Duration.ofSeconds(2);
        Duration contenderLease = Duration.ofSeconds(3);
        LockClient holderClient = viaProxy(lease(lease), Duration.ofSeconds(1));
        LockClient contenderClient = direct(lease(contenderLease), Duration.ofSeconds(1));
        String name = uniqueName("f4");
        LockRecorder recorder = new LockRecorder();

        Held holder = recorder.acquire("holder", holderClient.lock(name), Duration.ZERO);
        long holderLease = onlyKey(name).getLease();
        proxy.blackHole();
        long cutAt = System.nanoTime(); // after: a renewal that got through was sent before this
        assertThat(recorder.tryAcquire("contender", contenderClient.lock(name), Duration.ZERO)).isEmpty();
        Expiry expiry = leaseExpiry(holderLease);
        Held contender = recorder.acquire("contender", contenderClient.lock(name), lease.plusSeconds(3));
        long lostAt = holder.awaitLost(Duration.ofSeconds(3));
        long deadline = deadlineNanos(holder.handle); // final: a lost lease's deadline never moves

        assertThat(deadline).as("the deadline comes from a renewal sent before the cut")
                .isLessThanOrEqualTo(cutAt + lease.toNanos() - drift(lease) + MS);
        assertThat(lostAt).as("the loss is declared at the local deadline, not before")
                .isGreaterThanOrEqualTo(deadline - MS);
        assertThat(lostAt - deadline).as("and soon after it").isLessThan(Duration.ofSeconds(1).toNanos());
        assertThat(contender.acquiredAt).as("the contender acquires only after the lease ran out on etcd")
                .isGreaterThanOrEqualTo(expiry.lower() - MS);
        assertThat(contender.acquiredAt).as("and only after the holder stopped believing it held the lock")
                .isGreaterThan(deadline);
        assertThat(contender.token).isGreaterThan(holder.token);
        KeyValue contenderKey = onlyKey(name);

        proxy.heal(); // resets the cut connections: the holder's client reconnects
        await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(100)).ignoreExceptions()
                .until(() -> {
                    holderClient.lock(name + "-probe").tryAcquire().orElseThrow().release();
                    return true;
                });
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(() -> !holder.handle.isHeld());
        assertThat(holder.releaseLost()).as("no resurrection").hasMessageContaining("no renewal succeeded before the lease deadline");
        untouched(name, contenderKey, contenderLease.toSeconds()).assertValid();
        assertThat(contender.handle.isHeld()).isTrue();
        contender.release();
        assertThat(keysOf(name)).as("nothing left behind").isEmpty();

        Checkers.holderIntervals(recorder.history).assertValid();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }

    // ---- F9 ----------------------------------------------------------------------------------------------

    /**
     * F2: the reply of a put that made the client the holder sits in buffers for longer than the lease.
     * The engine counts the lease from before the put was sent (from the session's last restart, in fact),
     * so that grant is never reported: the caller gets an error that says why, the key is given back at once
     * (its session still lives: the test keeps it alive from a direct connection, since the client's own
     * keep-alives cannot, with every reply later than the lease), and another client then takes the lock.
     */
    @Test
    @DisplayName("F2: a grant whose reply comes after the lease is never reported and is given back")
    void aGrantWhoseReplyComesAfterTheLeaseIsNeverReportedAndIsGivenBack() throws Exception {
        Duration lease = Duration.ofSeconds(2);
        LockClient client = viaProxy(LockOptions.builder().leaseTime(lease).build(), Duration.ofSeconds(5));
        String name = uniqueName("f2");
        LockHandle keeper = client.lock(name + "-keeper").acquire(); // shows the session's lease
        long session = onlyKey(name + "-keeper").getLease();
        toClose.add(admin.getLeaseClient().keepAlive(session, new io.grpc.stub.StreamObserver<>() {
            @Override
            public void onNext(io.etcd.jetcd.lease.LeaseKeepAliveResponse response) {}

            @Override
            public void onError(Throwable failure) {}

            @Override
            public void onCompleted() {}
        }));

        proxy.delay(Direction.SERVER_TO_CLIENT, Duration.ofMillis(2_300)); // requests go through, replies wait
        long sentAt = System.nanoTime();
        assertThatThrownBy(() -> client.lock(name).tryAcquire()).as("a late grant is never reported")
                .isInstanceOf(LockBackendException.class)
                .hasMessageContaining("the lock was granted, but the reply took")
                .hasMessageContaining("the grant was given back");
        assertThat(System.nanoTime() - sentAt).as("the reply really was late").isGreaterThan(lease.toNanos());

        await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20)).until(() -> keysOf(name).isEmpty());
        assertThat(ttlOf(session)).as("given back by the client, not gone with its session").isPositive();
        proxy.delay(Direction.SERVER_TO_CLIENT, Duration.ZERO);
        LockHandle other = direct(lease(Duration.ofSeconds(3)), Duration.ofSeconds(5)).lock(name).tryAcquire()
                .orElseThrow();
        assertThat(other.isHeld()).isTrue();
        other.release();
        assertThatThrownBy(keeper::release).as("the keeper's own renewals were late too: lost, and says so")
                .isInstanceOf(LockLostException.class);
    }

    /**
     * F9. The holder (lease 2 s, renewal every 1 s) reaches etcd through the proxy, which delays replies
     * only: each keep-alive restarts the lease on etcd at once, its answer arrives late.
     *
     * <p>Replies 400 ms late: the lock stays held, and after each renewal the local deadline is not past the
     * latest moment etcd's lease can run out: etcd restarted it before it sent the keep-alive's reply, which
     * then spent at least 400 ms in the proxy, so it runs out by {@code replySeen - 400 ms + TTL}. Control: a
     * deadline counted from the reply's arrival would be ~380 ms past that, and the same comparison flags it.
     *
     * <p>Replies 1.8 s late, near the lease: the holder declares the loss at the deadline of its last timely
     * renewal; the late successful replies afterwards do not revive it (it stays lost, its release says so,
     * and the contender, which gets the lock only after the loss, keeps it untouched).
     */
    @Test
    @DisplayName("F9: deadlines count from the renewal's send; a renewal reply that comes after the deadline does not revive the lock")
    void slowRenewalRepliesNeitherStretchNorReviveTheLease() throws Exception {
        Duration lease = Duration.ofSeconds(2);
        Duration delay = Duration.ofMillis(400);
        LockOptions options = LockOptions.builder().leaseTime(lease).renewInterval(Duration.ofSeconds(1)).build();
        LockClient holderClient = viaProxy(options, Duration.ofSeconds(5));
        LockClient contenderClient = direct(lease(Duration.ofSeconds(3)), Duration.ofSeconds(5));
        String name = uniqueName("f9");
        LockRecorder recorder = new LockRecorder();
        Held holder = recorder.acquire("holder", holderClient.lock(name), Duration.ZERO);

        proxy.delay(Direction.SERVER_TO_CLIENT, delay);
        awaitRenewalReply(holder.handle); // may be one whose reply left before the delay: not judged
        for (int renewal = 1; renewal <= 2; renewal++) {
            awaitRenewalReply(holder.handle);
            long replySeenAt = System.nanoTime();
            long deadline = deadlineNanos(holder.handle);
            long serverExpiresBy = replySeenAt - delay.toNanos() + lease.toNanos();
            assertThat(deadline).as("renewal %d: the local deadline is within etcd's lease", renewal)
                    .isLessThanOrEqualTo(serverExpiresBy + MS);
            assertThat(replySeenAt + lease.toNanos() - drift(lease))
                    .as("control, renewal %d: a deadline counted from the reply would be past etcd's expiry", renewal)
                    .isGreaterThan(serverExpiresBy + MS);
            assertThat(ttlOf(onlyKey(name).getLease())).as("the lease is alive on etcd").isPositive();
        }
        assertThat(holder.handle.isHeld()).isTrue();

        proxy.delay(Direction.SERVER_TO_CLIENT, Duration.ofMillis(1_800));
        CompletableFuture<Held> contender = async("f9-contender",
                () -> recorder.acquire("contender", contenderClient.lock(name), Duration.ofSeconds(8)));
        long lostAt = holder.awaitLost(Duration.ofSeconds(4));
        long deadline = deadlineNanos(holder.handle);
        assertThat(lostAt).as("lost at the deadline of the last timely renewal").isGreaterThanOrEqualTo(deadline - MS);
        assertThat(lostAt - deadline).isLessThan(Duration.ofSeconds(1).toNanos());
        Held newHolder = LockRecorder.await(contender, Duration.ofSeconds(10));
        assertThat(newHolder.acquiredAt).isGreaterThan(deadline);
        assertThat(newHolder.token).isGreaterThan(holder.token);
        KeyValue newHolderKey = onlyKey(name);
        // the late replies (1.8 s) of the renewals sent before the loss arrive meanwhile
        await().during(Duration.ofMillis(2_500)).atMost(Duration.ofSeconds(4))
                .until(() -> !holder.handle.isHeld() && newHolder.handle.isHeld());
        assertThat(holder.releaseLost()).hasMessageContaining("no renewal succeeded before the lease deadline");
        untouched(name, newHolderKey, 3).assertValid();
        newHolder.release();
        Checkers.holderIntervals(recorder.history).assertValid();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }

    // ---- F10 ---------------------------------------------------------------------------------------------

    /**
     * F10. The etcd member itself is SIGSTOPped for the holder's lease (2 s) plus 1.5 s. The holder's
     * renewals get no reply; it declares the loss at its deadline, during the pause, from a renewal sent
     * before it. After SIGCONT etcd finds the lease expired: the keep-alives and key reads queued during the
     * pause reach it and fail (the lease is not revived, the key is gone), the holder stays lost, and a
     * contender gets the lock with a larger token. The holder's stale write is refused by the fenced register
     * (an unfenced one, the negative control, accepts it and the checker flags it), its release throws and
     * leaves the contender's key alone, and at most one process held the lock at any time.
     */
    @Test
    @DisplayName("F10: etcd paused past the lease: the holder gives up at its deadline; after SIGCONT its replayed renewals fail and nothing unsafe happens")
    void etcdPausedPastTheLease() throws Exception {
        Duration lease = Duration.ofSeconds(2);
        LockClient holderClient = direct(lease(lease), Duration.ofSeconds(1));
        LockClient contenderClient = direct(lease(Duration.ofSeconds(3)), Duration.ofSeconds(1));
        String name = uniqueName("f10");
        LockRecorder recorder = new LockRecorder();
        FencedRegister register = new FencedRegister();
        FencedRegister unfenced = FencedRegister.unfenced();
        EtcdCluster.Member member = etcd.member(0);

        Held holder = recorder.acquire("holder", holderClient.lock(name), Duration.ZERO);
        long holderLease = onlyKey(name).getLease();
        assertThat(register.write("holder", holder.token, 1)).isTrue();
        unfenced.write("holder", holder.token, 1);

        Op pause = recorder.faultStart("pause etcd m0");
        member.pause();
        long pausedAt = System.nanoTime();
        long lostAt = holder.awaitLost(lease.plusSeconds(2));
        long deadline = deadlineNanos(holder.handle);
        assertThat(deadline).as("the deadline comes from a renewal sent before the pause")
                .isLessThanOrEqualTo(pausedAt + lease.toNanos() - drift(lease) + MS);
        assertThat(lostAt).as("lost at the deadline, not before").isGreaterThanOrEqualTo(deadline - MS);
        assertThat(member.isPaused()).as("the loss was declared while etcd was still paused").isTrue();
        // the fault itself: etcd stays stopped past the lease
        TimeUnit.NANOSECONDS.sleep(Math.max(0, pausedAt + lease.plusMillis(1_500).toNanos() - System.nanoTime()));
        // taken before SIGCONT is sent: the server may answer before the kill command that sends it has returned
        long resumedAt = System.nanoTime();
        member.resume();
        recorder.faultEnd(pause);

        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(50)).ignoreExceptions()
                .until(() -> keysOf(name).isEmpty());
        assertThat(ttlOf(holderLease)).as("the queued keep-alives did not revive the expired lease").isEqualTo(-1);
        Held contender = recorder.acquire("contender", contenderClient.lock(name), Duration.ofSeconds(5));
        assertThat(contender.acquiredAt).isGreaterThan(resumedAt);
        assertThat(contender.token).isGreaterThan(holder.token);
        assertThat(register.write("contender", contender.token, 2)).isTrue();
        unfenced.write("contender", contender.token, 2);
        KeyValue contenderKey = onlyKey(name);

        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(2)).until(() -> !holder.handle.isHeld());
        assertThat(register.write("holder", holder.token, 3)).as("the stale holder's write is refused by token").isFalse();
        assertThat(unfenced.write("holder", holder.token, 3)).as("control: unfenced, it is accepted").isTrue();
        assertThat(holder.releaseLost()).hasMessageContaining("no renewal succeeded before the lease deadline");
        untouched(name, contenderKey, 3).assertValid();
        assertThat(contender.handle.isHeld()).isTrue();
        contender.release();

        Checkers.fencedResource(register).assertValid();
        assertThat(Checkers.fencedResource(unfenced).violations()).as("the checker flags the unfenced register")
                .anyMatch(v -> v.contains("stale token accepted"));
        Checkers.holderIntervals(recorder.history).assertValid();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }

    // ---- F12 ---------------------------------------------------------------------------------------------

    /**
     * F12. The holder's session lease (3 s) is revoked from outside while it holds the lock and a waiter in
     * another client (lease 30 s, so its own re-check is 10 s away) is queued behind it. The revoke deletes
     * the holder's key; the waiter, woken by its watch, acquires within 2 s with a larger token; the holder
     * is told by its next renewal (within a renewal interval and a command timeout) that its session ended.
     * No key is left under the lock's prefix but the waiter's, and none at all once it releases; the
     * holder's stale release throws and leaves the waiter's key alone; the holder's client works again on a
     * new session.
     */
    @Test
    @DisplayName("F12: the session's lease revoked while held: the holder is told, the waiter acquires within the bound, no orphan key")
    void revokedSessionLosesTheLockToTheWaiterAndLeavesNoKey() throws Exception {
        Duration lease = Duration.ofSeconds(3);
        LockClient holderClient = direct(lease(lease), Duration.ofSeconds(1));
        LockClient waiterClient = direct(lease(Duration.ofSeconds(30)), Duration.ofSeconds(1));
        String name = uniqueName("f12");
        LockRecorder recorder = new LockRecorder();

        Held holder = recorder.acquire("holder", holderClient.lock(name), Duration.ZERO);
        long holderLease = onlyKey(name).getLease();
        CompletableFuture<Held> waiter = async("f12-waiter",
                () -> recorder.acquire("waiter", waiterClient.lock(name), Duration.ofSeconds(20)));
        await().atMost(Duration.ofSeconds(5)).until(() -> keysOf(name).size() == 2);

        long revokedAt = System.nanoTime();
        admin.getLeaseClient().revoke(holderLease).get(10, TimeUnit.SECONDS);

        Held next = LockRecorder.await(waiter, Duration.ofSeconds(5));
        assertThat(next.acquiredAt - revokedAt).as("the waiter acquires within the bound (woken, not polling)")
                .isLessThan(Duration.ofSeconds(2).toNanos());
        assertThat(next.token).isGreaterThan(holder.token);
        holder.awaitLost(Duration.ofSeconds(3));
        assertThat(holder.handle.lostReason()).hasValueSatisfying(reason -> assertThat(reason).contains("ended"));
        KeyValue waiterKey = onlyKey(name);
        assertThat(waiterKey.getCreateRevision()).as("no orphan: only the waiter's key").isEqualTo(next.token);
        assertThat(ttlOf(holderLease)).as("the revoked session is gone").isEqualTo(-1);

        assertThat(holder.releaseLost()).hasMessageContaining(name);
        untouched(name, waiterKey, 30).assertValid();
        CompletableFuture<Held> again = async("f12-again",
                () -> recorder.acquire("holder-again", holderClient.lock(name), Duration.ofSeconds(10)));
        await().atMost(Duration.ofSeconds(5)).until(() -> keysOf(name).size() == 2);
        assertThat(keysOf(name).get(1).getLease()).as("the holder's client queues on a new session")
                .isNotEqualTo(holderLease);
        next.release();
        Held holderAgain = LockRecorder.await(again, Duration.ofSeconds(5));
        assertThat(holderAgain.token).isGreaterThan(next.token);
        holderAgain.release();
        assertThat(keysOf(name)).as("no orphan key once everyone released").isEmpty();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }

    // ---- F13 ---------------------------------------------------------------------------------------------

    /**
     * F13, the reply is lost after the put was applied (the jetcd client reports the transaction failed,
     * {@code UNAVAILABLE}, as when the connection breaks on the way back). The caller gets
     * {@link LockBackendException} and does not enter; the key the put created, which holds this acquisition's
     * owner value, is deleted by that owner value at once, long before its session's 30 s lease would remove
     * it, while the session itself lives on. Another client then acquires with a larger token, and so does
     * this client afterwards.
     */
    @Test
    @DisplayName("F13: an applied put whose reply is lost: the caller does not enter and the key is deleted by owner value")
    void lostAcquireReplyIsGivenBackByOwnerValue() throws Exception {
        String name = uniqueName("f13");
        InterceptedEtcd intercepted = toClose.add(new InterceptedEtcd(etcd.endpoints()));
        LockClient client = toClose.add(EtcdLockClient.builder(intercepted.client)
                .defaultOptions(lease(Duration.ofSeconds(30))).commandTimeout(Duration.ofSeconds(2)).build());
        LockClient other = direct(lease(Duration.ofSeconds(3)), Duration.ofSeconds(2));
        LockHandle warmUp = client.lock(name + "-warm-up").acquire(); // the session exists and lives on
        long session = onlyKey(name + "-warm-up").getLease();

        intercepted.loseNextPutReply.set(true);
        long invokedAt = System.nanoTime();
        assertThatThrownBy(() -> client.lock(name).tryAcquire()).as("the caller, who does not wait, does not enter")
                .isInstanceOf(LockBackendException.class);
        TxnResponse applied = intercepted.lostPutReply.get(5, TimeUnit.SECONDS);
        assertThat(applied.isSucceeded()).as("the put was applied on etcd").isTrue();
        long phantomToken = applied.getHeader().getRevision();

        await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(20)).until(() -> keysOf(name).isEmpty());
        System.out.println("F13: the key of the lost put was gone " + (System.nanoTime() - invokedAt) / MS
                + " ms after the call (session lease 30 s)");
        assertThat(ttlOf(session)).as("deleted by owner value, not by the end of its session").isPositive();
        assertThat(warmUp.isHeld()).isTrue();

        LockHandle contender = other.lock(name).tryAcquire().orElseThrow();
        assertThat(contender.fencingToken()).isGreaterThan(phantomToken);
        contender.release();
        LockHandle again = client.lock(name).tryAcquire().orElseThrow();
        assertThat(again.fencingToken()).isGreaterThan(contender.fencingToken());
        again.release();

        // a caller who waits tries again: the next put finds the key of the lost one, which is its own, and
        // holds the lock on it (resolved by its own key); no second key, no second grant
        intercepted.lostPutReply = new CompletableFuture<>();
        intercepted.loseNextPutReply.set(true);
        LockHandle resolved = client.lock(name).tryAcquire(Duration.ofSeconds(5)).orElseThrow();
        TxnResponse appliedAgain = intercepted.lostPutReply.get(5, TimeUnit.SECONDS);
        assertThat(resolved.fencingToken()).as("the token is the lost put's revision")
                .isEqualTo(appliedAgain.getHeader().getRevision());
        assertThat(keysOf(name)).extracting(KeyValue::getCreateRevision).containsExactly(resolved.fencingToken());
        resolved.release();
        warmUp.release();
        assertThat(keysOf(name)).isEmpty();
    }

    /**
     * F13 through the network: the proxy swallows every reply (requests still reach etcd), so the put is
     * applied and its answer never comes. The attempt times out after the command timeout (1 s): the caller
     * gets {@link LockBackendException} and does not enter. The owner-value delete of the clean-up reaches
     * etcd the same way, so the key goes within the bound, long before its 30 s session would remove it;
     * a contender then acquires with a larger token. After healing, the client that timed out works again.
     */
    @Test
    @DisplayName("F13: an acquire whose reply never comes: the caller does not enter and the lock frees by owner value")
    void unansweredAcquireDoesNotEnterAndFreesByOwnerValue() throws Exception {
        String name = uniqueName("f13-silent");
        LockClient client = viaProxy(lease(Duration.ofSeconds(30)), Duration.ofSeconds(1));
        LockClient contenderClient = direct(lease(Duration.ofSeconds(3)), Duration.ofSeconds(2));
        client.lock(name + "-warm-up").tryAcquire().orElseThrow().release(); // connected, session granted

        List<WatchEvent> events = new java.util.concurrent.CopyOnWriteArrayList<>();
        // from the revision after now: the watch is registered asynchronously, and without a start revision a put
        // made before the server set it up would be missed (CI saw only the DELETE)
        long now = admin.getKVClient().get(bytes(name)).get(5, TimeUnit.SECONDS).getHeader().getRevision();
        toClose.add(admin.getWatchClient().watch(bytes(EtcdLockClient.lockPrefix(EtcdLockClient.DEFAULT_KEY_PREFIX, name)),
                WatchOption.builder().isPrefix(true).withRevision(now + 1).build(),
                response -> events.addAll(response.getEvents())));
        proxy.blackHole(Direction.SERVER_TO_CLIENT);
        long invokedAt = System.nanoTime();
        assertThatThrownBy(() -> client.lock(name).tryAcquire(Duration.ofSeconds(5))).as("the caller does not enter")
                .isInstanceOf(LockBackendException.class).hasMessageContaining("no reply");
        assertThat(proxy.chunksDropped(Direction.SERVER_TO_CLIENT)).as("replies were lost").isPositive();

        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20)).until(() -> keysOf(name).isEmpty());
        System.out.println("F13: the unanswered acquire's key was gone " + (System.nanoTime() - invokedAt) / MS
                + " ms after the call (session lease 30 s)");
        await().atMost(Duration.ofSeconds(2)).until(() -> events.size() >= 2);
        assertThat(events).extracting(WatchEvent::getEventType).as("the put was applied, then deleted")
                .containsExactly(WatchEvent.EventType.PUT, WatchEvent.EventType.DELETE);
        KeyValue phantom = events.get(0).getKeyValue();
        assertThat(events.get(1).getKeyValue().getKey()).isEqualTo(phantom.getKey());
        assertThat(ttlOf(phantom.getLease())).as("deleted by owner value, not by the end of its 30 s session").isPositive();
        LockHandle contender = contenderClient.lock(name).tryAcquire().orElseThrow();
        assertThat(contender.fencingToken()).isGreaterThan(phantom.getCreateRevision());
        contender.release();

        proxy.heal();
        await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(100)).ignoreExceptions()
                .until(() -> client.lock(name).tryAcquire().map(handle -> {
                    handle.release();
                    return handle.fencingToken() > contender.fencingToken();
                }).orElse(false));
        assertThat(keysOf(name)).isEmpty();
    }

    // ---- F14 ---------------------------------------------------------------------------------------------

    /**
     * F14. Release: holder A1 (lease 30 s, so neither a renewal nor its deadline tells it anything soon)
     * has its session revoked from outside; B1 acquires. A1 still believes it holds the lock; its release
     * reaches etcd, finds its own key gone (the delete compares the create revision), throws
     * {@link LockLostException} and leaves B1's key, lease and token as they were.
     *
     * <p>Renewal: holder A2 (lease 2 s) has its key deleted behind its back while its session lives on (an
     * operator's delete), and B2 acquires. A2's next renewal restarts its session's lease but finds its key
     * gone, so A2 is told it lost the lock, and B2's key is untouched.
     *
     * <p>Negative control: what an owner-blind release (deleting the lock's keys) and renewal (re-attaching
     * the lock's key to the stale holder's longer lease) would do is flagged by the same check.
     */
    @Test
    @DisplayName("F14: a stale release or renewal after ownership loss reports the loss and leaves the new holder's key, lease and token alone")
    void staleReleaseAndRenewalLeaveTheNewHolderAlone() throws Exception {
        Duration newLease = Duration.ofSeconds(3);
        LockClient releaser = direct(lease(Duration.ofSeconds(30)), Duration.ofSeconds(2));
        LockClient renewer = direct(lease(Duration.ofSeconds(2)), Duration.ofSeconds(2));
        LockClient newClient = direct(lease(newLease), Duration.ofSeconds(2));
        String releaseName = uniqueName("f14-release");
        String renewName = uniqueName("f14-renew");
        LockRecorder recorder = new LockRecorder();

        Held a1 = recorder.acquire("a1", releaser.lock(releaseName), Duration.ZERO);
        admin.getLeaseClient().revoke(onlyKey(releaseName).getLease()).get(10, TimeUnit.SECONDS);
        Held b1 = recorder.acquire("b1", newClient.lock(releaseName), Duration.ZERO);
        assertThat(b1.token).isGreaterThan(a1.token);
        KeyValue b1Key = onlyKey(releaseName);
        assertThat(a1.handle.isHeld()).as("a1 has not been told yet").isTrue();
        assertThat(a1.releaseLost()).as("the stale release reached etcd and found its key gone")
                .hasMessageContaining("no longer held when released");
        untouched(releaseName, b1Key, newLease.toSeconds()).assertValid();

        Held a2 = recorder.acquire("a2", renewer.lock(renewName), Duration.ZERO);
        KeyValue a2Key = onlyKey(renewName);
        admin.getKVClient().delete(a2Key.getKey()).get(10, TimeUnit.SECONDS);
        Held b2 = recorder.acquire("b2", newClient.lock(renewName), Duration.ZERO);
        assertThat(b2.token).isGreaterThan(a2.token);
        KeyValue b2Key = onlyKey(renewName);
        a2.awaitLost(Duration.ofSeconds(2));
        assertThat(a2.handle.lostReason()).as("told by its renewal, well before its deadline")
                .hasValueSatisfying(reason -> assertThat(reason).contains("a renewal found the lock gone"));
        assertThat(ttlOf(a2Key.getLease())).as("its session lives on: the key check, not the keep-alive, caught it")
                .isPositive();
        untouched(renewName, b2Key, newLease.toSeconds()).assertValid();
        assertThat(a2.releaseLost()).hasMessageContaining(renewName);
        untouched(renewName, b2Key, newLease.toSeconds()).assertValid();
        assertThat(b1.handle.isHeld()).isTrue();
        assertThat(b2.handle.isHeld()).isTrue();
        Checkers.tokenIssuance(recorder.history).assertValid();

        // negative control: what an owner-blind release and renewal by the stale holders would have done
        admin.getKVClient().delete(b1Key.getKey()).get(10, TimeUnit.SECONDS);
        long staleLease = admin.getLeaseClient().grant(30).get(10, TimeUnit.SECONDS).getID();
        admin.getKVClient().put(b2Key.getKey(), b2Key.getValue(), PutOption.builder().withLeaseId(staleLease).build())
                .get(10, TimeUnit.SECONDS);
        assertThat(untouched(releaseName, b1Key, newLease.toSeconds()).violations())
                .as("the check flags an owner-blind release").anyMatch(v -> v.contains("keys of"));
        assertThat(untouched(renewName, b2Key, newLease.toSeconds()).violations())
                .as("the check flags an owner-blind renewal").anyMatch(v -> v.contains("lease changed"));
        admin.getLeaseClient().revoke(staleLease).get(10, TimeUnit.SECONDS);
    }
}
