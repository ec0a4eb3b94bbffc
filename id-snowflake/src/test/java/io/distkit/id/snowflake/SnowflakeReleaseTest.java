package io.distkit.id.snowflake;

import static io.distkit.id.snowflake.SnowflakeLayout.TWITTER;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * A generator built on an assigner leases a worker id again after losing its lease: calls throw
 * meanwhile, ids then go on, above every id issued before the loss, with whatever worker id the
 * assigner gives. A lease the user gave is never replaced.
 */
class SnowflakeReleaseTest {

    static final Instant START = SnowflakeIdGeneratorTest.START;
    static final long START_TICK = SnowflakeIdGeneratorTest.START_TICK;
    static final int PER_TICK = SnowflakeIdGeneratorTest.PER_TICK;
    static final Duration BOUND = Duration.ofSeconds(10);

    final ManualTime time = new ManualTime(START);
    final ScriptedAssigner assigner = new ScriptedAssigner();
    private final List<SnowflakeIdGenerator> generators = new ArrayList<>();

    @AfterEach
    void closeGenerators() {
        generators.forEach(SnowflakeIdGenerator::close);
    }

    /** Manual time (waits advance it); a persist interval of 1 h, so no background save runs. */
    SnowflakeIdGenerator.Builder builder() {
        return time.builder(TWITTER).persistInterval(Duration.ofHours(1));
    }

    SnowflakeIdGenerator build(SnowflakeIdGenerator.Builder builder) {
        SnowflakeIdGenerator generator = builder.build();
        generators.add(generator);
        return generator;
    }

    /** The id, or null while the generator is between leases. */
    static Long idOrNull(SnowflakeIdGenerator generator) {
        try {
            return generator.nextId();
        } catch (WorkerLeaseLostException e) {
            return null;
        }
    }

    @Test
    @DisplayName("after a loss calls throw until a new lease is held; then ids go on, above, with the new worker id")
    void afterALossCallsThrowUntilANewLeaseIsHeldThenIdsGoOnAbove() {
        TestLease first = new TestLease(3);
        assigner.willGive(first);
        SnowflakeIdGenerator generator = build(builder().workerIdAssigner(assigner));
        long[] before = generator.nextIds(2 * PER_TICK + 5);
        long lastBefore = before[before.length - 1];

        first.lose(); // the assigner has nothing to give yet: the re-lease waits in acquire
        await().atMost(BOUND).until(() -> assigner.acquires() == 2);
        assertThatThrownBy(generator::nextId)
                .isInstanceOf(WorkerLeaseLostException.class)
                .hasMessageContaining("worker id 3")
                .hasMessageContaining("a new worker id is being leased from " + assigner);
        assertThat(first.closeCalls()).as("the lost lease is closed at once").isEqualTo(1);

        TestLease second = new TestLease(9);
        assigner.willGive(second);
        Long resumed = await().atMost(BOUND).until(() -> idOrNull(generator), id -> id != null);

        assertThat(TWITTER.decode(resumed).worker()).isEqualTo(9);
        assertThat(generator.workerId()).isEqualTo(9);
        assertThat(resumed).isGreaterThan(lastBefore);
        assertThat(second.saves()).as("the new lease's first mark, saved before its first id").hasSize(1);
        assertThat(((LeasingSnowflakeGenerator) generator).leaseCount()).isEqualTo(2);
    }

    @Test
    @DisplayName("ids keep increasing across the change even when the old generator ran ahead of the clock")
    void idsKeepIncreasingWhenTheOldGeneratorRanAheadOfTheClock() {
        TestLease first = new TestLease(3);
        assigner.willGive(first);
        SnowflakeIdGenerator generator = build(builder().workerIdAssigner(assigner)
                .logicalClock(Duration.ofMillis(50)).maxStartupWait(Duration.ofSeconds(1)));
        long[] burst = generator.nextIds(40 * PER_TICK); // logical mode borrows ~40 future timestamps
        long lastBefore = burst[burst.length - 1];
        assertThat(TWITTER.decode(lastBefore).timestampUnits()).isGreaterThan(START_TICK + 30);

        // the new worker id has never been used: its mark (0) alone would let ids start at the clock's now,
        // below the burst; the floor of the old generator's last timestamp keeps them above
        TestLease second = new TestLease(4);
        assigner.willGive(second);
        first.lose();
        Long resumed = await().atMost(BOUND).until(() -> idOrNull(generator), id -> id != null);

        assertThat(resumed).isGreaterThan(lastBefore);
        assertThat(TWITTER.decode(resumed).timestampUnits())
                .isGreaterThan(TWITTER.decode(lastBefore).timestampUnits());
    }

    @Test
    @DisplayName("a lease that turned invalid without telling is found by the next new timestamp, and replaced")
    void anInvalidLeaseFoundByACallIsReplaced() {
        TestLease first = new TestLease(3);
        assigner.willGive(first);
        SnowflakeIdGenerator generator = build(builder().workerIdAssigner(assigner));
        long lastBefore = generator.nextId();

        first.invalidate(); // no listener runs
        time.advance(Duration.ofMillis(1));
        assertThatThrownBy(generator::nextId).isInstanceOf(WorkerLeaseLostException.class);
        assigner.willGive(new TestLease(3, START_TICK + 5));
        Long resumed = await().atMost(BOUND).until(() -> idOrNull(generator), id -> id != null);

        assertThat(resumed).isGreaterThan(lastBefore);
        assertThat(TWITTER.decode(resumed).timestampUnits()).as("above the new lease's mark").isGreaterThan(START_TICK + 5);
    }

    @Test
    @DisplayName("failed leases are retried after growing pauses, and the calls meanwhile say why")
    void failedLeasesAreRetriedAndTheCallsSayWhy() {
        TestLease first = new TestLease(3);
        assigner.willGive(first);
        SnowflakeIdGenerator generator = build(builder().workerIdAssigner(assigner));
        generator.nextId();
        assigner.willGive(new IdSourceUnavailableException("distkit_worker", "connection refused", null));

        first.lose();
        await().atMost(BOUND).until(() -> assigner.acquires() >= 2);
        await().atMost(BOUND).untilAsserted(() -> assertThatThrownBy(generator::nextId)
                .isInstanceOf(WorkerLeaseLostException.class)
                .hasMessageContaining("the last attempt failed")
                .hasMessageContaining("connection refused"));
        assigner.willGive(new IdSourceUnavailableException("distkit_worker", "connection refused", null));
        long secondFailedAt = assigner.awaitAcquires(3);
        assigner.willGive(new TestLease(5));
        long succeededAt = assigner.awaitAcquires(4);

        assertThat(Duration.ofNanos(succeededAt - secondFailedAt))
                .as("the pause after the second failure is twice the first")
                .isGreaterThanOrEqualTo(LeasingSnowflakeGenerator.FIRST_RETRY_PAUSE.multipliedBy(2));
        Long resumed = await().atMost(BOUND).until(() -> idOrNull(generator), id -> id != null);
        assertThat(TWITTER.decode(resumed).worker()).isEqualTo(5);
    }

    @Test
    @DisplayName("closing while a lease is being acquired closes what arrives, and no id comes from it")
    void closingWhileReleasingClosesWhatArrives() {
        TestLease first = new TestLease(3);
        assigner.willGive(first);
        SnowflakeIdGenerator generator = build(builder().workerIdAssigner(assigner));
        first.lose();
        await().atMost(BOUND).until(() -> assigner.acquires() == 2); // waiting in acquire

        generator.close();
        TestLease late = new TestLease(4);
        assigner.willGive(late);

        await().atMost(BOUND).until(() -> late.closeCalls() == 1);
        assertThat(late.saves()).as("built and closed, or never built: no mark beyond the first").hasSizeLessThanOrEqualTo(1);
        assertThatThrownBy(generator::nextId).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThat(assigner.acquires()).isEqualTo(2);
    }

    @Test
    @DisplayName("a closed assigner ends the generator for good, and the calls say so")
    void aClosedAssignerEndsTheGenerator() {
        TestLease first = new TestLease(3);
        assigner.willGive(first);
        SnowflakeIdGenerator generator = build(builder().workerIdAssigner(assigner));
        assigner.willGive(new IllegalStateException("the assigner is closed"));

        first.lose();

        await().atMost(BOUND).untilAsserted(() -> assertThatThrownBy(generator::nextId)
                .isInstanceOf(WorkerLeaseLostException.class)
                .hasMessageContaining("no new worker id either")
                .hasMessageContaining("build a new generator"));
        assertThat(assigner.acquires()).as("no retry against a closed assigner").isEqualTo(2);
    }

    @Test
    @DisplayName("a lease that cannot fit the layout ends the re-leasing at once, instead of taking worker ids every 10 s")
    void aLeaseThatCannotFitEndsTheReleasing() {
        TestLease first = new TestLease(3);
        assigner.willGive(first);
        SnowflakeIdGenerator generator = build(builder().workerIdAssigner(assigner));
        TestLease foreign = new TestLease(4, TWITTER.maxTimestamp() + 1); // a mark saved by another layout
        assigner.willGive(foreign);

        first.lose();

        await().atMost(BOUND).untilAsserted(() -> assertThatThrownBy(generator::nextId)
                .isInstanceOf(WorkerLeaseLostException.class)
                .hasMessageContaining("failed for good")
                .hasMessageContaining("another layout"));
        assertThat(foreign.closeCalls()).as("the lease that did not fit is given back").isEqualTo(1);
        assertThat(assigner.acquires()).isEqualTo(2);
    }

    @Test
    @DisplayName("a lease the user gave is never replaced: the generator stops for good")
    void aLeaseOfTheUsersIsNeverReplaced() {
        TestLease lease = new TestLease(3);
        SnowflakeIdGenerator generator = build(builder().workerLease(lease));
        generator.nextId();

        lease.lose();

        assertThatThrownBy(generator::nextId)
                .isInstanceOf(WorkerLeaseLostException.class)
                .hasMessageContaining("build a new one on a valid lease");
        assertThat(generator).isInstanceOf(LockFreeSnowflakeGenerator.class);
    }

    /**
     * Gives, on each {@code acquire}, the next of what the test queued: a lease, or an exception to throw;
     * waits for the test to queue one (up to 30 s).
     */
    static final class ScriptedAssigner implements WorkerIdAssigner {
        private final BlockingQueue<Object> script = new LinkedBlockingQueue<>();
        private final AtomicInteger acquires = new AtomicInteger();
        private final BlockingQueue<Long> acquiredAt = new LinkedBlockingQueue<>();

        void willGive(Object leaseOrException) {
            script.add(leaseOrException);
        }

        int acquires() {
            return acquires.get();
        }

        /** Waits until the {@code n}th acquire has been answered; returns when (nanoTime). */
        long awaitAcquires(int n) {
            await().atMost(BOUND).until(() -> acquiredAt.size() >= n);
            return new ArrayList<>(acquiredAt).get(n - 1);
        }

        @Override
        public WorkerLease acquire(int maxWorkerIds) {
            acquires.incrementAndGet();
            Object next = null;
            boolean interrupted = false;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (next == null && deadline - System.nanoTime() > 0) {
                try { // like a database call, deaf to interrupts
                    next = script.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            acquiredAt.add(System.nanoTime());
            if (next == null) {
                throw new AssertionError("the test queued nothing for acquire #" + acquires.get());
            }
            if (next instanceof RuntimeException e) {
                throw e;
            }
            return (WorkerLease) next;
        }

        @Override
        public void close() {}

        @Override
        public String toString() {
            return "ScriptedAssigner";
        }
    }
}
