package io.distkit.id.backends;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.id.IdGenerationException;
import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockOptions;
import io.distkit.lock.spi.Scheduler;
import io.distkit.testkit.Closer;
import io.distkit.testkit.memory.InMemoryLockServer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Worker ids as locks, on the in-memory lock server and a mark store in a map: the worker-id range, the
 * fenced mark, and the lease kept by the lock engine (local deadline on its ticker, loss listeners). The
 * JDBC contract and failure tests run the same assigner on real databases.
 */
class LockedWorkerIdAssignerTest {

    private static final long MS = 1_000_000L;

    private final AtomicLong ticker = new AtomicLong();
    private final InMemoryLockServer server = new InMemoryLockServer(ticker::get);
    private final InMemoryMarkStore marks = new InMemoryMarkStore();
    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    @Test
    void eachAcquireTakesTheLowestFreeWorkerIdEvenOnOneThread() {
        LockedWorkerIdAssigner assigner = assigner(LockedWorkerIdAssigner.builder(client(), marks));
        List<WorkerLease> leases = List.of(assigner.acquire(4), assigner.acquire(4), assigner.acquire(4));
        assertThat(leases).extracting(WorkerLease::workerId).as("not reentrant: three ids for one thread")
                .containsExactly(0, 1, 2);
        assertThat(server.holder("distkit-ids/worker-1")).as("worker id n is the lock <namespace>worker-<n>").isNotNull();
        leases.get(1).close();
        assertThat(server.holder("distkit-ids/worker-1")).isNull();
        assertThat(assigner.acquire(4).workerId()).isEqualTo(1);
    }

    @Test
    void theStoresHintOrdersTheAttemptsAndAStaleHintCostsNoSafety() {
        LockedWorkerIdAssigner first = assigner(LockedWorkerIdAssigner.builder(client(), marks));
        List<WorkerLease> held = List.of(first.acquire(8), first.acquire(8), first.acquire(8)); // 0, 1, 2
        LockedWorkerIdAssigner second = assigner(LockedWorkerIdAssigner.builder(client(), marks));
        marks.reportHeld(java.util.Set.of("distkit-ids/worker-0", "distkit-ids/worker-1", "distkit-ids/worker-2"));
        assertThat(second.acquire(8).workerId()).as("the first id not known to be held").isEqualTo(3);

        held.get(0).close();
        // stale: says 0 is still held and 4 is not; 4 is free indeed, so it is taken before the freed 0
        marks.reportHeld(java.util.Set.of("distkit-ids/worker-0", "distkit-ids/worker-1", "distkit-ids/worker-2",
                "distkit-ids/worker-3"));
        assertThat(second.acquire(8).workerId()).isEqualTo(4);
        // wrong: says nothing is held; the attempts on 1 and 2 fail and the lowest free id is found all the same
        marks.reportHeld(java.util.Set.of());
        assertThat(second.acquire(8).workerId()).isZero();
        marks.reportHeld(java.util.Set.of("distkit-ids/worker-1"));
        assertThatThrownBy(() -> second.acquire(3)).as("ids said to be held are tried too, last")
                .isExactlyInstanceOf(IdGenerationException.class).hasMessageContaining("3 live lease(s)");
    }

    @Test
    void theMarkIsFencedAndOutlivesTheLease() {
        LockedWorkerIdAssigner assigner = assigner(LockedWorkerIdAssigner.builder(client(), marks).namespace("ids/"));
        LockedWorkerLease first = (LockedWorkerLease) assigner.acquire(1);
        assertThat(first.lockName()).isEqualTo("ids/worker-0");
        first.saveLastTimestamp(100);
        first.saveLastTimestamp(40);
        assertThat(marks.mark("ids/worker-0")).isEqualTo(100);
        first.close();

        LockedWorkerLease second = (LockedWorkerLease) assigner.acquire(1);
        assertThat(second.lastTimestamp()).isEqualTo(100);
        assertThat(second.fencingToken()).isGreaterThan(first.fencingToken());
        assertThatThrownBy(() -> first.saveLastTimestamp(500)).isInstanceOf(WorkerLeaseLostException.class)
                .hasMessageContaining("closed");
        assertThat(marks.mark("ids/worker-0")).isEqualTo(100);
    }

    @Test
    void aSaveThatALaterHolderFencedOffEndsTheLeaseOnce() throws Exception {
        LockedWorkerIdAssigner old = assigner(LockedWorkerIdAssigner.builder(client(), marks));
        WorkerLease lease = old.acquire(1);
        AtomicInteger runs = new AtomicInteger();
        AtomicReference<String> thread = new AtomicReference<>();
        CountDownLatch told = new CountDownLatch(1);
        lease.onLost(() -> {
            throw new IllegalStateException("a listener that throws must not stop the others");
        });
        lease.onLost(() -> {
            thread.set(Thread.currentThread().getName());
            runs.incrementAndGet();
            told.countDown();
        });

        server.delete("distkit-ids/worker-0"); // its lock expired behind its back...
        WorkerLease next = assigner(LockedWorkerIdAssigner.builder(client(), marks)).acquire(1); // ...and was taken
        assertThat(next.workerId()).isZero();

        assertThatThrownBy(() -> lease.saveLastTimestamp(7)).isInstanceOf(WorkerLeaseLostException.class)
                .hasMessageContaining("worker id 0").hasMessageContaining("a later holder has taken");
        assertThat(marks.mark("distkit-ids/worker-0")).as("nothing saved").isZero();
        assertThat(lease.isValid()).isFalse();
        assertThat(told.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(thread.get()).as("a library thread").startsWith("distkit-");
        assertThat(next.isValid()).as("the old holder's give-up touched the new holder's lock not").isTrue();
        assertThat(runs.get()).isOne();
    }

    @Test
    void theLeaseEndsAtTheLocksLocalDeadlineOnTheEnginesTicker() {
        QueuedScheduler scheduler = new QueuedScheduler();
        WorkerLease lease = assigner(LockedWorkerIdAssigner.builder(manualClient(scheduler), marks)
                .leaseTime(Duration.ofSeconds(1))).acquire(1);
        AtomicInteger lost = new AtomicInteger();
        lease.onLost(lost::incrementAndGet);
        long drift = 10 * MS + 2 * MS; // 1% of the lease + 2 ms, as for every lock

        ticker.set(1000 * MS - drift - 1);
        assertThat(lease.isValid()).isTrue();
        ticker.set(1000 * MS - drift); // the acquire was sent at 0 by this ticker; no renewal since
        assertThat(lease.isValid()).as("lost at the deadline on the ticker, whatever the real time").isFalse();
        scheduler.runQueued();
        assertThat(lost.get()).isOne();
        assertThatThrownBy(() -> lease.saveLastTimestamp(1)).isInstanceOf(WorkerLeaseLostException.class)
                .hasMessageContaining("worker id 0").hasMessageContaining("lease deadline");
    }

    @Test
    void aCloseAfterTheLossKeepsTheLossAndItsListeners() throws Exception {
        QueuedScheduler scheduler = new QueuedScheduler();
        WorkerLease lease = assigner(LockedWorkerIdAssigner.builder(manualClient(scheduler), marks)
                .leaseTime(Duration.ofSeconds(1))).acquire(1);
        AtomicInteger lost = new AtomicInteger();
        lease.onLost(lost::incrementAndGet);

        ticker.set(2000 * MS); // past the deadline: lost, though nobody has looked yet
        lease.close(); // as a generator that found the loss closes its lease, before the listeners ran
        scheduler.runQueued();
        assertThat(lost.get()).as("the loss came first: the close does not cancel its listeners").isOne();
        assertThatThrownBy(() -> lease.saveLastTimestamp(1)).isInstanceOf(WorkerLeaseLostException.class)
                .hasMessageContaining("lease deadline");
        CountDownLatch late = new CountDownLatch(1);
        AtomicReference<String> lateThread = new AtomicReference<>();
        lease.onLost(() -> {
            lateThread.set(Thread.currentThread().getName());
            late.countDown();
        });
        assertThat(late.await(5, TimeUnit.SECONDS)).as("registered after the loss (and the close): runs at once").isTrue();
        assertThat(lateThread.get()).startsWith("distkit-worker-lease-");

        WorkerLease closed = assigner(LockedWorkerIdAssigner.builder(manualClient(scheduler), marks)
                .leaseTime(Duration.ofSeconds(1))).acquire(1);
        closed.onLost(lost::incrementAndGet);
        closed.close();
        ticker.set(9000 * MS);
        assertThat(closed.isValid()).isFalse();
        scheduler.runQueued();
        assertThat(lost.get()).as("a close before any loss is no loss").isOne();
        assertThatThrownBy(() -> closed.saveLastTimestamp(1)).hasMessageContaining("closed");
    }

    @Test
    void aFullRangeNamesTheRangeAndTheLiveLeasesAndClosingEndsEveryLeaseWithoutListeners() {
        LockedWorkerIdAssigner first = assigner(LockedWorkerIdAssigner.builder(client(), marks));
        List<WorkerLease> leases = List.of(first.acquire(2), first.acquire(2));
        LockedWorkerIdAssigner second = assigner(LockedWorkerIdAssigner.builder(client(), marks));
        assertThatThrownBy(() -> second.acquire(2)).isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("[0, 2)").hasMessageContaining("2 live lease(s)")
                .hasMessageContaining("marks in memory");

        AtomicInteger runs = new AtomicInteger();
        leases.forEach(lease -> lease.onLost(runs::incrementAndGet));
        first.close();
        first.close();
        assertThat(leases).noneMatch(WorkerLease::isValid);
        assertThat(second.acquire(2).workerId()).as("released on close").isZero();
        assertThatThrownBy(() -> first.acquire(2)).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThat(runs.get()).isZero();
    }

    @Test
    void argumentsAreChecked() {
        LockClient client = client();
        assertThatNullPointerException().isThrownBy(() -> LockedWorkerIdAssigner.builder(null, marks)).withMessage("locks");
        assertThatNullPointerException().isThrownBy(() -> LockedWorkerIdAssigner.builder(client, null)).withMessage("marks");
        LockedWorkerIdAssigner.Builder builder = LockedWorkerIdAssigner.builder(client, marks);
        assertThatNullPointerException().isThrownBy(() -> builder.namespace(null)).withMessage("namespace");
        assertThatIllegalArgumentException().isThrownBy(() -> builder.namespace("x".repeat(190)))
                .withMessageStartingWith("namespace 'xxx").withMessageContaining("does not make lock names");
        assertThatIllegalArgumentException().isThrownBy(() -> builder.namespace("ids\n"))
                .withMessageContaining("does not make lock names");
        assertThatIllegalArgumentException().isThrownBy(() -> builder.leaseTime(Duration.ofMillis(499)))
                .withMessageStartingWith("leaseTime must be at least 500 ms");
        builder.leaseTime(Duration.ofSeconds(1)).renewInterval(Duration.ofMillis(501));
        assertThatIllegalArgumentException().isThrownBy(builder::build).withMessageContaining("at most half the leaseTime");

        LockedWorkerIdAssigner assigner = assigner(LockedWorkerIdAssigner.builder(client, marks));
        assertThatIllegalArgumentException().isThrownBy(() -> assigner.acquire(0))
                .withMessage("maxWorkerIds must be at least 1, was 0");
        WorkerLease lease = assigner.acquire(1);
        assertThatIllegalArgumentException().isThrownBy(() -> lease.saveLastTimestamp(-1))
                .withMessage("timestamp must not be negative, was -1");
        assertThatNullPointerException().isThrownBy(() -> lease.onLost(null)).withMessage("listener");
    }

    /** A client on the test's ticker whose timers never fire (no renewals: deadlines are found by looking). */
    private LockClient manualClient(QueuedScheduler scheduler) {
        return toClose.add(server.newClient(engine -> engine.ticker(ticker::get).scheduler(scheduler)));
    }

    /** Timers never fire; tasks to run at once wait for {@link #runQueued}, so a test orders them. */
    private static final class QueuedScheduler implements Scheduler {
        private final java.util.Queue<Runnable> queued = new java.util.concurrent.ConcurrentLinkedQueue<>();

        @Override
        public Cancellable schedule(Runnable task, long delayNanos) {
            return () -> {};
        }

        @Override
        public void execute(Runnable task) {
            queued.add(task);
        }

        @Override
        public void shutdown() {}

        void runQueued() {
            for (Runnable task; (task = queued.poll()) != null; ) {
                task.run();
            }
        }
    }

    private LockClient client() {
        return toClose.add(server.newClient(LockOptions.defaults()));
    }

    private LockedWorkerIdAssigner assigner(LockedWorkerIdAssigner.Builder builder) {
        return toClose.add(builder.build());
    }
}
