package io.distkit.lock.etcd;

import static io.distkit.testkit.history.LockRecorder.MS;
import static io.distkit.testkit.history.LockRecorder.deadlineNanos;
import static io.distkit.testkit.history.LockRecorder.drift;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.Closer;
import io.distkit.testkit.history.Checkers;
import io.distkit.testkit.history.FencedRegister;
import io.distkit.testkit.history.LockRecorder;
import io.distkit.testkit.history.LockRecorder.Held;
import io.distkit.testkit.history.Op;
import io.distkit.testkit.server.EtcdCluster;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.options.GetOption;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Faults of a 3-member etcd cluster (docs/failures.md): F11, a member cut off into a minority, and the
 * leader killed while waiters queue.
 *
 * <p><b>How the minority is made.</b> The fixture has no per-link network faults between members (a
 * proxy in front of a member's peer port cannot tell which peer a connection comes from, and etcd dials
 * every peer at the one URL all members agree on), so F11 is driven in its two halves, each with a real
 * process fault: the two other members stopped (SIGSTOP) leave the client's member running but without a
 * quorum, which is exactly what a minority member sees (its peers go silent); the client's member stopped
 * leaves the other two a working majority that sees exactly what it would see of a partitioned member,
 * and the client on the cut-off member sees timeouts. Stopped processes keep their connections open, as
 * a partition does, instead of refusing them.
 */
@Timeout(90)
class EtcdClusterFailureTest {

    private static final Duration LEASE = Duration.ofSeconds(2);
    /** Short, so that calls into the minority fail fast: each attempt there ends within this. */
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(1);

    @RegisterExtension
    static EtcdCluster etcd = EtcdCluster.builder().members(3).build();

    private final Closer closer = new Closer();
    private final java.util.Map<String, Client> admins = new java.util.HashMap<>();

    @AfterEach
    void close() throws Exception {
        closer.close();
    }

    private LockClient client(Duration lease, String... endpoints) {
        return client(lease, COMMAND_TIMEOUT, endpoints);
    }

    private LockClient client(Duration lease, Duration commandTimeout, String... endpoints) {
        return closer.add(EtcdLockClient.builder(endpoints)
                .defaultOptions(LockOptions.builder().leaseTime(lease).build())
                .commandTimeout(commandTimeout).build());
    }

    /** A member that is not the leader now: the usual member to be cut off. */
    private static int follower() {
        int leader = etcd.awaitLeader(Duration.ofSeconds(10));
        return (leader + 1) % etcd.size();
    }

    private static List<EtcdCluster.Member> othersThan(int index) {
        return etcd.members().stream().filter(m -> m.index() != index).toList();
    }

    // ---- F11, the minority side -----------------------------------------------------------------------

    /**
     * F11, the minority side. Holder and contender reach only member m, which keeps running while both
     * other members stop: m has no quorum. The holder's renewals fail, and it declares the loss at its
     * local deadline (from a renewal sent before the cut), not before and not much after. Meanwhile every
     * acquire through m, of the held lock and of a free one, ends in an error or "busy" within its bound,
     * never in a grant. After the majority is back, the lock is free (the lease ran out at the leader),
     * the contender acquires with a higher token, and the holder stays lost.
     */
    @Test
    @DisplayName("F11: a member without quorum answers errors or timeouts, never a grant; its holder is lost at its deadline")
    void aMemberWithoutQuorumNeverGrantsAndItsHolderIsLostAtItsDeadline() throws Exception {
        EtcdCluster.Member minority = etcd.member(follower());
        LockClient holderClient = client(LEASE, minority.endpoint());
        LockClient contenderClient = client(LEASE, minority.endpoint());
        String name = "f11-minority-" + UUID.randomUUID();
        String free = name + "-free";
        LockRecorder recorder = new LockRecorder();

        Held holder = recorder.acquire("holder", holderClient.lock(name), Duration.ZERO);
        contenderClient.lock(free).tryAcquire().orElseThrow().release(); // the contender's session is up
        Op partition = recorder.faultStart("partition " + minority + " alone");
        othersThan(minority.index()).forEach(EtcdCluster.Member::pause);
        long cutAt = System.nanoTime(); // after both: a renewal that succeeded was sent before this

        List<String> outcomes = new ArrayList<>();
        while (!holder.lostAt.isDone()) {
            for (DistributedLock lock : List.of(contenderClient.lock(name), contenderClient.lock(free))) {
                long start = System.nanoTime();
                outcomes.add(lock.name().endsWith("-free") ? "free: " : "held: ");
                try {
                    Optional<Held> got = recorder.tryAcquire("contender", lock, Duration.ZERO);
                    assertThat(got).as("a grant from a member without quorum").isEmpty();
                    outcomes.set(outcomes.size() - 1, outcomes.get(outcomes.size() - 1) + "busy");
                } catch (LockBackendException e) {
                    outcomes.set(outcomes.size() - 1, outcomes.get(outcomes.size() - 1) + e.getMessage());
                }
                assertThat(System.nanoTime() - start).as("each attempt ends within its bound")
                        .isLessThan(COMMAND_TIMEOUT.toNanos() * 4);
            }
            assertThat(System.nanoTime() - cutAt).as("the holder is lost in time").isLessThan(LEASE.toNanos() * 3);
        }
        long lostAt = holder.awaitLost(Duration.ofSeconds(1));
        long deadline = deadlineNanos(holder.handle);
        System.out.println("F11 minority: attempts through " + minority + " while it had no quorum: " + outcomes);
        assertThat(outcomes).as("the contender tried while the holder still believed").isNotEmpty();
        assertThat(outcomes).anyMatch(o -> o.startsWith("free: ") && !o.endsWith("busy"));
        assertThat(deadline).as("the deadline comes from a renewal sent before the cut")
                .isLessThanOrEqualTo(cutAt + LEASE.toNanos() - drift(LEASE) + MS);
        assertThat(lostAt).as("the loss is declared at the local deadline, not before").isGreaterThanOrEqualTo(deadline - MS);
        assertThat(lostAt - deadline).as("and soon after it").isLessThan(Duration.ofSeconds(1).toNanos());

        othersThan(minority.index()).forEach(EtcdCluster.Member::resume);
        recorder.faultEnd(partition);
        etcd.members().forEach(m -> m.awaitHealthy(Duration.ofSeconds(15))); // an acquire fails on a call that fails
        Held contender = recorder.acquire("contender", contenderClient.lock(name), Duration.ofSeconds(20));
        assertThat(contender.acquiredAt).isGreaterThan(deadline);
        assertThat(contender.token).isGreaterThan(holder.token);
        assertThat(holder.handle.isHeld()).as("no resurrection").isFalse();
        holder.releaseLost();
        contender.release();

        Checkers.holderIntervals(recorder.history).assertValid();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }

    // ---- F11, the majority side -----------------------------------------------------------------------

    /**
     * F11, the majority side. The holder reaches only member m, which is cut off (stopped); a client of the
     * two others, the majority, asks at once (busy: the lease is still valid there) and then waits. It gets
     * the lock only after the holder's lease ran out, after the holder's local deadline, with a higher
     * token. The holder, whose calls now time out, declares the loss at that deadline, and an acquire
     * through m fails instead of granting. When m is back, nothing revives: the holder's release reports
     * the loss and the majority client's key stays. The cut-off holder's late write with its old token is
     * refused by the fenced register after the new holder's; an unfenced register (the negative control)
     * accepts it, and the fenced-resource checker flags that.
     */
    @Test
    @DisplayName("F11: the majority grants the lock of a cut-off holder only after its lease ran out")
    void theMajorityGrantsACutOffHoldersLockOnlyAfterItsLeaseRanOut() throws Exception {
        EtcdCluster.Member minority = etcd.member(follower());
        String[] majority = othersThan(minority.index()).stream().map(EtcdCluster.Member::endpoint).toArray(String[]::new);
        LockClient holderClient = client(LEASE, minority.endpoint());
        LockClient majorityClient = client(LEASE, majority);
        String name = "f11-majority-" + UUID.randomUUID();
        LockRecorder recorder = new LockRecorder();

        Held holder = recorder.acquire("holder", holderClient.lock(name), Duration.ZERO);
        Op partition = recorder.faultStart("partition " + minority + " cut off");
        minority.pause();
        long cutAt = System.nanoTime();
        assertThat(recorder.tryAcquire("majority", majorityClient.lock(name), Duration.ZERO)).as("the lease still runs")
                .isEmpty();
        CompletableFuture<Optional<Held>> minorityTry = LockRecorder.async("minority",
                () -> recorder.tryAcquire("holder-side", holderClient.lock(name + "-other"), Duration.ZERO));
        Held winner = recorder.acquire("majority", majorityClient.lock(name), LEASE.plusSeconds(8));
        long lostAt = holder.awaitLost(Duration.ofSeconds(2));
        long deadline = deadlineNanos(holder.handle);

        assertThat(deadline).isLessThanOrEqualTo(cutAt + LEASE.toNanos() - drift(LEASE) + MS);
        assertThat(lostAt).isGreaterThanOrEqualTo(deadline - MS);
        assertThat(lostAt - deadline).isLessThan(Duration.ofSeconds(1).toNanos());
        assertThat(winner.acquiredAt).as("the majority grants only after the holder's deadline").isGreaterThan(deadline);
        assertThat(winner.token).isGreaterThan(holder.token);
        try {
            assertThat(LockRecorder.await(minorityTry, COMMAND_TIMEOUT.multipliedBy(4))).as("no grant on the cut-off side")
                    .isEmpty();
        } catch (LockBackendException e) {
            System.out.println("F11 majority: the cut-off side's acquire failed: " + e.getMessage());
        }

        minority.resume();
        recorder.faultEnd(partition);
        minority.awaitHealthy(Duration.ofSeconds(10));
        assertThat(holder.handle.isHeld()).as("no resurrection").isFalse();
        holder.releaseLost();
        assertThat(winner.handle.isHeld()).isTrue();
        assertThat(keys(majority, name)).extracting(KeyValue::getCreateRevision).containsExactly(winner.token);

        FencedRegister fenced = new FencedRegister();
        FencedRegister unfenced = FencedRegister.unfenced();
        for (FencedRegister register : List.of(fenced, unfenced)) {
            assertThat(register.write("majority", winner.token, 1)).isTrue();
        }
        assertThat(fenced.write("holder", holder.token, 2)).as("the cut-off holder's late write is refused").isFalse();
        assertThat(unfenced.write("holder", holder.token, 2)).as("control: unfenced, it is accepted").isTrue();
        Checkers.fencedResource(fenced).assertValid();
        assertThat(Checkers.fencedResource(unfenced).violations()).as("the checker flags the unfenced register")
                .isNotEmpty();
        winner.release();

        Checkers.holderIntervals(recorder.history).assertValid();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }

    // ---- the leader killed while waiters queue --------------------------------------------------------

    /**
     * 16 waiters in 4 clients (each client on all three members, in a different order, with the default
     * command timeout of 5 s, which outlasts an election) queue behind a holder; the leader is killed (SIGKILL) while they all wait, and the holder releases at once, into the
     * election. Every waiter is served exactly once, at most one holds at a time, fencing tokens strictly
     * increase in the order of holding, and the fenced register accepts every holder's write.
     */
    @Test
    @DisplayName("leader killed while 16 waiters queue: each served once, one holder at a time, tokens increasing")
    void leaderKilledWhileWaitersQueue() throws Exception {
        Duration lease = Duration.ofSeconds(5);
        int waiters = 16;
        int clients = 4;
        int leader = etcd.awaitLeader(Duration.ofSeconds(10));
        List<String> endpoints = etcd.endpoints();
        List<LockClient> waiterClients = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            List<String> rotated = new ArrayList<>(endpoints);
            java.util.Collections.rotate(rotated, c);
            waiterClients.add(client(lease, EtcdLockClient.DEFAULT_COMMAND_TIMEOUT, rotated.toArray(String[]::new)));
        }
        LockClient holderClient = client(lease, EtcdLockClient.DEFAULT_COMMAND_TIMEOUT, endpoints.toArray(String[]::new));
        String name = "leader-kill-" + UUID.randomUUID();
        LockRecorder recorder = new LockRecorder();
        FencedRegister register = new FencedRegister();

        Held holder = recorder.acquire("holder", holderClient.lock(name), Duration.ZERO);
        register.write(holder.process, holder.token, register.read(holder.token) + 1);
        List<CompletableFuture<Held>> waiting = IntStream.range(0, waiters)
                .mapToObj(i -> LockRecorder.async("w" + i, () -> {
                    Held held = recorder.acquire("w" + i, waiterClients.get(i % clients).lock(name), Duration.ofSeconds(60));
                    boolean accepted = register.write(held.process, held.token, register.read(held.token) + 1);
                    held.release();
                    assertThat(accepted).as("%s's write with token %d", held.process, held.token).isTrue();
                    return held;
                }))
                .toList();
        String[] all = endpoints.toArray(String[]::new);
        await().atMost(Duration.ofSeconds(20)).until(() -> keys(all, name).size() == 1 + waiters);

        Op kill = recorder.faultStart("kill leader " + etcd.member(leader));
        etcd.member(leader).kill();
        try {
            holder.release();
        } catch (LockBackendException e) {
            System.out.println("leader kill: the holder's release failed (its key goes with its lease): " + e.getMessage());
        }
        List<Held> holders = new ArrayList<>();
        List<String> failed = new ArrayList<>();
        for (int i = 0; i < waiters; i++) {
            try {
                holders.add(LockRecorder.await(waiting.get(i), Duration.ofSeconds(70)));
            } catch (LockBackendException e) {
                failed.add("w" + i + ": " + e.getMessage());
            }
        }
        recorder.faultEnd(kill);

        // safety first: whatever happened to liveness, nothing unsafe may have happened
        holders.sort(Comparator.comparingLong(h -> h.acquiredAt));
        System.out.println("leader kill: order of holding " + holders.stream().map(h -> h.process + "@" + h.token).toList()
                + "; waiters that failed: " + failed.size() + " " + failed);
        assertThat(holders).extracting(h -> h.token).as("strictly increasing in the order of holding")
                .isSorted().doesNotHaveDuplicates();
        assertThat(holders).allMatch(h -> h.token > holder.token);
        assertThat(recorder.history.calls()).filteredOn(c -> c.invoke().type() == Op.Type.ACQUIRE && c.isOk())
                .as("one grant per waiter served, one for the holder").hasSize(holders.size() + 1);
        assertThat(register.read()).isEqualTo(holders.size() + 1);
        Checkers.fencedResource(register).assertValid();
        Checkers.holderIntervals(recorder.history).assertValid();
        Checkers.tokenIssuance(recorder.history).assertValid();
        // a release lost in the election leaves its key to its lease or a later renewal pass; a failed
        // waiter's key is deleted by its owner value: nothing is left queued that would block the lock
        await().atMost(lease.plusSeconds(5)).until(() -> keys(all, name).isEmpty());

        // then liveness: a leader change must not cost a waiter its place
        assertThat(failed).as("waiters whose acquire (wait 60 s) failed across the leader change").isEmpty();
        assertThat(holders).extracting(h -> h.process).doesNotHaveDuplicates().hasSize(waiters);
    }

    private List<KeyValue> keys(String[] endpoints, String name) throws Exception {
        Client admin = admins.computeIfAbsent(String.join(",", endpoints),
                ignored -> closer.add(Client.builder().endpoints(endpoints).build()));
        return admin.getKVClient()
                .get(ByteSequence.from(EtcdLockClient.lockPrefix(EtcdLockClient.DEFAULT_KEY_PREFIX, name), StandardCharsets.UTF_8),
                        GetOption.builder().isPrefix(true).withSortField(GetOption.SortTarget.CREATE)
                                .withSortOrder(GetOption.SortOrder.ASCEND).build())
                .get(10, TimeUnit.SECONDS).getKvs();
    }
}
