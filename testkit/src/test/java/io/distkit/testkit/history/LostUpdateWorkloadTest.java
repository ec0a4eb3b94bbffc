package io.distkit.testkit.history;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.history.LostUpdateWorkload.PauseHook;
import io.distkit.testkit.history.LostUpdateWorkload.Result;
import io.distkit.testkit.history.Op.Kind;
import io.distkit.testkit.history.Op.Type;
import io.distkit.testkit.memory.InMemoryLockServer;
import io.distkit.testkit.memory.InMemoryLockServer.Fault;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The workload and the checkers over the in-memory reference: the correct backend passes every
 * checker; each deliberately broken one is caught by the checker meant to catch it.
 */
class LostUpdateWorkloadTest {

    private final List<LockClient> clients = new ArrayList<>();

    @AfterEach
    void closeClients() {
        clients.forEach(LockClient::close);
    }

    private LockClient client(InMemoryLockServer server, LockOptions options) {
        LockClient client = server.newClient(options);
        clients.add(client);
        return client;
    }

    private List<DistributedLock> twoClients(InMemoryLockServer server) {
        return twoClients(server, LockOptions.builder().reentrant(false).build());
    }

    private List<DistributedLock> twoClients(InMemoryLockServer server, LockOptions options) {
        return List.of(client(server, options).lock("counter"), client(server, options).lock("counter"));
    }

    /** Makes the first two critical sections wait for each other: only a lock without exclusion lets them. */
    private static PauseHook meetInside() {
        CountDownLatch bothInside = new CountDownLatch(2);
        return (process, handle) -> {
            bothInside.countDown();
            if (!bothInside.await(10, TimeUnit.SECONDS)) {
                throw new AssertionError(process + ": no second holder came in");
            }
        };
    }

    @Test
    void correctLockPassesEveryChecker() throws InterruptedException {
        Result result = LostUpdateWorkload.builder(twoClients(new InMemoryLockServer()))
                .threadsPerClient(3).increments(1_000).duration(Duration.ofSeconds(20)).build().run();

        CheckResult.assertAllValid(result.checkAll());
        assertThat(result.acknowledged()).isGreaterThanOrEqualTo(1_000).isEqualTo(result.register().read());
        assertThat(result.plainCounter()).isEqualTo(result.criticalSections());
        assertThat(result.history().ops()).extracting(Op::process)
                .isSubsetOf("c1-t1", "c1-t2", "c1-t3", "c2-t1", "c2-t2", "c2-t3");
    }

    // Without exclusion, racing holders keep refusing each other's writes, so progress is luck:
    // these runs are bounded by time, and what they assert does not need the target reached.
    @Test
    void lockWithoutExclusionIsCaughtWhileFencingKeepsTheRegisterRight() throws InterruptedException {
        Result result = LostUpdateWorkload.builder(twoClients(InMemoryLockServer.withFaults(Fault.NO_EXCLUSION)))
                .threadsPerClient(1).increments(20).duration(Duration.ofSeconds(3)).pause(meetInside()).build().run();

        CheckResult.assertAllValid(result.checkSafety());
        CheckResult intervals = Checkers.holderIntervals(result.history());
        assertThat(intervals.violations()).isNotEmpty().allMatch(v -> v.startsWith("overlapping holders on lock counter"));
        assertThat(result.register().writes()).anyMatch(w -> !w.accepted());
    }

    @Test
    void lockWithoutExclusionAndWithoutFencingLosesIncrements() throws InterruptedException {
        Result result = LostUpdateWorkload.builder(twoClients(InMemoryLockServer.withFaults(Fault.NO_EXCLUSION)))
                .threadsPerClient(1).increments(20).duration(Duration.ofSeconds(3)).pause(meetInside())
                .register(FencedRegister.unfenced()).build().run();

        assertThat(Checkers.lostUpdates(result.history(), result.register()).violations())
                .anyMatch(v -> v.startsWith("lost updates"));
    }

    @Test
    void repeatedTokensAreCaughtByTheFencedResourceAndTokenCheckers() throws InterruptedException {
        // two holders are made to meet inside (no exclusion either), so that the repeated token is certainly
        // written by two holders: under exclusion one process can win every hand-over (a releasing thread takes
        // the lock again before the woken waiter's attempt runs), and the resource would see a single holder
        Result result = LostUpdateWorkload.builder(twoClients(
                        InMemoryLockServer.withFaults(Fault.REPEATED_TOKEN, Fault.NO_EXCLUSION)))
                .threadsPerClient(1).increments(20).duration(Duration.ofSeconds(3)).pause(meetInside()).build().run();

        assertThat(Checkers.tokenIssuance(result.history()).violations())
                .anyMatch(v -> v.startsWith("duplicate token"));
        assertThat(Checkers.fencedResource(result.register()).violations())
                .anyMatch(v -> v.startsWith("token shared by two holders"));
    }

    @Test
    void leaseLostInsideTheCriticalSectionIsRecordedNotACrash() throws InterruptedException {
        InMemoryLockServer server = new InMemoryLockServer();
        AtomicBoolean lostOnce = new AtomicBoolean();
        PauseHook loseFirstLease = (process, handle) -> {
            if (lostOnce.compareAndSet(false, true)) {
                server.delete("counter"); // behind the holder's back: its next renewal finds out
                Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !handle.isHeld());
            }
        };
        LockOptions shortLease = LockOptions.builder().reentrant(false).leaseTime(Duration.ofSeconds(1)).build();
        Result result = LostUpdateWorkload.builder(twoClients(server, shortLease))
                .increments(100).pause(loseFirstLease).build().run();

        // the deletion broke exclusion (others held while the stale holder was still inside), so
        // only the fencing checks apply: the stale holder's write must have been refused
        CheckResult.assertAllValid(result.checkSafety());
        assertThat(Checkers.holderIntervals(result.history()).isValid()).isFalse();
        List<Op> ops = result.history().ops();
        Op lost = ops.stream().filter(op -> op.type() == Type.LOST).findFirst().orElseThrow();
        assertThat(ops).anyMatch(op -> op.type() == Type.RELEASE && op.kind() == Kind.INFO
                && op.process().equals(lost.process()) && op.token() == lost.token() && op.note().startsWith("lost:"));
    }

    @Test
    void stopsAtTheDeadlineWhenTheLockNeverFrees() throws InterruptedException {
        InMemoryLockServer server = new InMemoryLockServer();
        LockHandle blocker = client(server, LockOptions.defaults()).lock("counter").acquire();
        long start = System.nanoTime();
        Result result = LostUpdateWorkload.builder(twoClients(server))
                .duration(Duration.ofMillis(300)).acquireWait(Duration.ofMillis(50)).build().run();

        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        assertThat(result.acknowledged()).isZero();
        assertThat(result.errors()).isEmpty();
        assertThat(result.history().calls()).isNotEmpty()
                .allMatch(call -> call.completion() != null && call.completion().kind() == Kind.FAIL);
        blocker.release();
    }

    @Test
    void refusesLocksOfDifferentNamesAndUsedRegisters() {
        InMemoryLockServer server = new InMemoryLockServer();
        LockClient client = client(server, LockOptions.defaults());
        assertThatThrownBy(() -> LostUpdateWorkload.builder(List.of(client.lock("a"), client.lock("b"))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[a, b]");
        FencedRegister used = new FencedRegister();
        used.write("x", 1, 1);
        assertThatThrownBy(() -> LostUpdateWorkload.builder(twoClients(server)).register(used))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("fresh");
    }
}
