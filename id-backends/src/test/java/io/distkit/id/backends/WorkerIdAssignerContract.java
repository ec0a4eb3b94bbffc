package io.distkit.id.backends;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.id.IdGenerationException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import io.distkit.testkit.Closer;
import io.distkit.testkit.id.IdChecks;
import io.distkit.testkit.server.FaultProxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * What every {@link LockedWorkerIdAssigner} on a store must do, whatever the store: distinct lowest ids under
 * concurrent acquirers, the high-water mark kept at its maximum and handed to the next holder, renewal, loss
 * when the lock is taken behind a lease's back, a save fenced off once another holder read the mark,
 * exhaustion, close. A subclass supplies the store; every assigner it makes works on the same worker ids
 * (the same namespace), as separate processes would.
 */
public abstract class WorkerIdAssignerContract {

    protected final Closer toClose = new Closer();

    /**
     * A new assigner on the shared store, with its own connection (as another process would have) and
     * this lease time; the test closes it.
     */
    protected abstract WorkerIdAssigner newAssigner(Duration leaseTime);

    /**
     * Deletes the lock of {@code lockName} on the store behind its holder's back (an operator, or an expiry
     * the holder did not see), without touching the mark.
     */
    protected abstract void deleteLockBehindItsBack(String lockName) throws Exception;

    /** Empties the store's worker ids and marks: every test starts on a store that never leased one. */
    protected abstract void clearStore() throws Exception;

    /**
     * A new assigner like {@link #newAssigner} whose every connection to the store goes through {@code proxy}
     * (made by {@link #proxyToStore()}); null where the store cannot be reached through a proxy (the cut-off
     * test is then skipped).
     */
    protected @Nullable WorkerIdAssigner newAssignerThrough(FaultProxy proxy, Duration leaseTime) {
        return null;
    }

    /** A started proxy to the store (one server of it), for {@link #newAssignerThrough}; null if none. */
    protected @Nullable FaultProxy proxyToStore() {
        return null;
    }

    /** The shortest lease time the store takes that still renews a few times a second or so: 2 s by default. */
    protected Duration shortLease() {
        return Duration.ofSeconds(2);
    }

    /** A lease time long enough that no renewal happens during a test. */
    protected Duration longLease() {
        return Duration.ofSeconds(60);
    }

    @BeforeEach
    void startEmpty() throws Exception {
        clearStore();
    }

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    private WorkerIdAssigner assigner(Duration leaseTime) {
        return toClose.add(newAssigner(leaseTime));
    }

    private static String lockName(WorkerLease lease) {
        return ((LockedWorkerLease) lease).lockName();
    }

    @Test
    @DisplayName("assigners acquiring concurrently get distinct ids, exactly the lowest ones")
    void concurrentAcquirersGetDistinctLowestIds() throws Exception {
        List<WorkerLease> leases = acquireConcurrently(() -> assigner(longLease()));
        Map<String, long[]> ids = new LinkedHashMap<>();
        for (WorkerLease lease : leases) {
            ids.put(lease.toString(), new long[] {lease.workerId()});
        }
        IdChecks.distinct(ids).assertNoViolations();
        assertThat(leases).extracting(WorkerLease::workerId).as("lowest first: exactly [0, %d)", leases.size())
                .containsExactlyInAnyOrderElementsOf(IntStream.range(0, leases.size()).boxed().toList());
        for (WorkerLease lease : leases) {
            assertThat(lease.isValid()).isTrue();
            assertThat(lease.lastTimestamp()).isZero();
        }
    }

    @Test
    @DisplayName("saveLastTimestamp keeps the maximum; a closed lease frees its id at once and the next holder reads the mark")
    void highWaterMarkKeepsTheMaximumAndOutlivesTheLease() {
        WorkerLease lease = assigner(longLease()).acquire(4);
        assertThat(lease.workerId()).isZero();
        assertThat(lease.lastTimestamp()).isZero();
        lease.saveLastTimestamp(100);
        lease.saveLastTimestamp(50); // a lower value leaves the mark
        lease.saveLastTimestamp(200);
        lease.saveLastTimestamp(150);
        assertThat(lease.lastTimestamp()).as("fixed at acquisition").isZero();
        lease.close();
        lease.close(); // idempotent
        assertThat(lease.isValid()).isFalse();
        assertThatThrownBy(() -> lease.saveLastTimestamp(300)).isInstanceOf(WorkerLeaseLostException.class)
                .hasMessageContaining("worker id 0").hasMessageContaining("closed");

        WorkerLease next = assigner(longLease()).acquire(4);
        assertThat(next.workerId()).as("freed at once, not after the lease time").isZero();
        assertThat(next.lastTimestamp()).as("the maximum saved, not the last nor the refused one").isEqualTo(200);
    }

    @Test
    @DisplayName("renewal keeps a lease past its lease time; nobody else gets its id meanwhile")
    void renewalKeepsTheLeaseAlive() {
        Duration lease = shortLease();
        WorkerLease held = assigner(lease).acquire(1);
        WorkerIdAssigner other = assigner(lease);
        await().during(lease.multipliedBy(3).dividedBy(2)).atMost(lease.multipliedBy(3))
                .pollInterval(Duration.ofMillis(200))
                .until(() -> held.isValid() && tryAcquire(other, 1) == null);
    }

    @Test
    @DisplayName("a lock deleted behind the lease's back is reported lost by the next renewal, once, on a library thread; saves then throw")
    void lockDeletedBehindItsBackIsLost() throws Exception {
        WorkerLease lease = assigner(shortLease()).acquire(8);
        int id = lease.workerId();
        lease.saveLastTimestamp(70);
        AtomicReference<String> listenerThread = new AtomicReference<>();
        AtomicInteger runs = new AtomicInteger();
        CountDownLatch told = new CountDownLatch(1);
        lease.onLost(() -> {
            throw new IllegalStateException("a listener that throws must not stop the others");
        });
        lease.onLost(() -> {
            listenerThread.set(Thread.currentThread().getName());
            runs.incrementAndGet();
            told.countDown();
        });

        deleteLockBehindItsBack(lockName(lease));
        assertThat(told.await(shortLease().toMillis() * 2, TimeUnit.MILLISECONDS))
                .as("a renewal within the lease reports it").isTrue();
        assertThat(listenerThread.get()).as("a library thread").startsWith("distkit-");
        assertThat(lease.isValid()).isFalse();
        assertThatThrownBy(() -> lease.saveLastTimestamp(999)).isInstanceOf(WorkerLeaseLostException.class)
                .hasMessageContaining("worker id " + id);
        CountDownLatch late = new CountDownLatch(1);
        lease.onLost(late::countDown);
        assertThat(late.await(2, TimeUnit.SECONDS)).as("a listener registered after the loss runs at once").isTrue();
        lease.close();
        assertThat(runs.get()).as("once").isEqualTo(1);

        WorkerLease next = assigner(longLease()).acquire(8);
        assertThat(next.workerId()).isEqualTo(id);
        assertThat(next.lastTimestamp()).as("the lost holder's save after its loss changed nothing").isEqualTo(70);
    }

    @Test
    @DisplayName("F20: a holder cut off from the store past its lease learns of the loss before anyone else gets its id; its saves then throw")
    void cutOffHolderKnowsBeforeTheNextHolderGetsItsId() throws Exception {
        FaultProxy proxy = proxyToStore();
        Assumptions.assumeTrue(proxy != null, "this store is not reached through a proxy");
        toClose.add(proxy);
        Duration lease = shortLease();
        WorkerIdAssigner cut = newAssignerThrough(proxy, lease);
        Assumptions.assumeTrue(cut != null, "this store is not reached through a proxy");
        toClose.add(cut);
        WorkerLease held = cut.acquire(1);
        held.saveLastTimestamp(4_242);
        AtomicLong lostAt = new AtomicLong();
        CountDownLatch lost = new CountDownLatch(1);
        held.onLost(() -> {
            lostAt.set(System.nanoTime());
            lost.countDown();
        });
        WorkerIdAssigner next = assigner(lease);
        proxy.blackHole(); // the holder hears nothing from the store and the store nothing from it
        WorkerLease taken = await().atMost(lease.multipliedBy(4)).pollInterval(Duration.ofMillis(20))
                .until(() -> tryAcquire(next, 1), lease1 -> lease1 != null);
        long takenAt = System.nanoTime();
        assertThat(lost.await(1, TimeUnit.SECONDS)).as("the cut-off holder was told").isTrue();
        assertThat(lostAt.get()).as("... before the next holder had its id").isLessThanOrEqualTo(takenAt);
        assertThat(taken.lastTimestamp()).as("the cut-off holder's mark").isEqualTo(4_242);
        assertThat(held.isValid()).isFalse();
        assertThatThrownBy(() -> held.saveLastTimestamp(9_999)).isInstanceOf(WorkerLeaseLostException.class);
    }

    @Test
    @DisplayName("once another holder took the worker id and read its mark, the old holder's save throws and changes nothing")
    void saveAfterATakeOverIsFencedOff() throws Exception {
        WorkerLease old = assigner(longLease()).acquire(1); // no renewal during the test: the store must refuse
        old.saveLastTimestamp(500);
        deleteLockBehindItsBack(lockName(old));
        WorkerLease next = assigner(longLease()).acquire(1);
        assertThat(next.workerId()).isZero();
        assertThat(next.lastTimestamp()).isEqualTo(500);
        assertThat(old.isValid()).as("not noticed yet").isTrue();

        assertThatThrownBy(() -> old.saveLastTimestamp(900)).isInstanceOf(WorkerLeaseLostException.class);
        assertThat(old.isValid()).isFalse();
        next.saveLastTimestamp(600);
        next.close();
        assertThat(assigner(longLease()).acquire(1).lastTimestamp()).as("the stale save left no trace").isEqualTo(600);
    }

    @Test
    @DisplayName("closing a lease does not run its loss listeners")
    void closeIsNotALoss() {
        WorkerLease lease = assigner(shortLease()).acquire(2);
        AtomicInteger runs = new AtomicInteger();
        lease.onLost(runs::incrementAndGet);
        lease.close();
        lease.onLost(runs::incrementAndGet);
        await().during(shortLease()).atMost(shortLease().multipliedBy(2)).until(() -> runs.get() == 0);
    }

    @Test
    @DisplayName("a full range is an IdGenerationException naming the range; a wider range has room; a freed id is taken again")
    void fullRangeIsAnError() {
        WorkerIdAssigner first = assigner(longLease());
        List<WorkerLease> leases = List.of(first.acquire(3), first.acquire(3), first.acquire(3));
        assertThat(leases).extracting(WorkerLease::workerId).containsExactly(0, 1, 2);
        WorkerIdAssigner second = assigner(longLease());
        assertThatThrownBy(() -> second.acquire(3)).isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("[0, 3)");
        assertThat(second.acquire(5).workerId()).isEqualTo(3);
        leases.get(1).close();
        assertThat(second.acquire(3).workerId()).isEqualTo(1);
        assertThatThrownBy(() -> second.acquire(0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    @DisplayName("closing the assigner releases its leases (not a loss); it then refuses to acquire")
    void closingTheAssignerClosesItsLeases() {
        WorkerIdAssigner assigner = newAssigner(longLease());
        List<WorkerLease> leases = List.of(assigner.acquire(8), assigner.acquire(8), assigner.acquire(8));
        AtomicInteger runs = new AtomicInteger();
        leases.forEach(lease -> lease.onLost(runs::incrementAndGet));
        assigner.close();
        assigner.close(); // idempotent
        for (WorkerLease lease : leases) {
            assertThat(lease.isValid()).isFalse();
            assertThatThrownBy(() -> lease.saveLastTimestamp(1)).isInstanceOf(WorkerLeaseLostException.class)
                    .hasMessageContaining("closed");
        }
        assertThatThrownBy(() -> assigner.acquire(8)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThat(runs.get()).isZero();
        assertThat(assigner(longLease()).acquire(8).workerId()).as("released, not left to expire").isZero();
    }

    // ---- support -----------------------------------------------------------------------------------------

    /** A lease of the lowest free id in [0, max), or null when all are held. */
    protected static WorkerLease tryAcquire(WorkerIdAssigner assigner, int max) {
        try {
            return assigner.acquire(max);
        } catch (IdGenerationException e) {
            if (e.getMessage() != null && e.getMessage().contains("[0, " + max + ")")) {
                return null;
            }
            throw e;
        }
    }

    /** 4 assigners × 3 threads × 2 acquires in [0, 64), released at once by a latch. */
    public static List<WorkerLease> acquireConcurrently(Supplier<WorkerIdAssigner> newAssigner) throws Exception {
        int assigners = 4;
        int threadsEach = 3;
        int acquiresEach = 2;
        List<WorkerIdAssigner> all = new ArrayList<>();
        for (int i = 0; i < assigners; i++) {
            all.add(newAssigner.get());
        }
        Queue<WorkerLease> leases = new ConcurrentLinkedQueue<>();
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService threads = Executors.newFixedThreadPool(assigners * threadsEach);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (WorkerIdAssigner assigner : all) {
                for (int t = 0; t < threadsEach; t++) {
                    done.add(threads.submit(() -> {
                        start.await();
                        for (int k = 0; k < acquiresEach; k++) {
                            leases.add(assigner.acquire(64));
                        }
                        return null;
                    }));
                }
            }
            start.countDown();
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            threads.shutdownNow();
        }
        assertThat(leases).hasSize(assigners * threadsEach * acquiresEach);
        return List.copyOf(leases);
    }
}
