package io.distkit.id.snowflake;

import static io.distkit.id.snowflake.SnowflakeLayout.TWITTER;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.id.ClockMovedBackwardsException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import io.distkit.testkit.id.IdChecks;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The high-water mark as a reservation: no id above the mark the generator has persisted, a background
 * task keeping it ahead of the clock, callers saving it themselves when it runs out, and the hand-over
 * of a worker id to a successor whose clock is behind (docs/failures.md, F20, in one JVM on manual clocks).
 */
class SnowflakeReservationTest {

    static final Instant START = SnowflakeIdGeneratorTest.START;
    static final long START_TICK = SnowflakeIdGeneratorTest.START_TICK;
    static final long TWO_HOURS = Duration.ofHours(2).toMillis(); // the reserve of a 1 h persist interval, in ticks

    final ManualTime time = new ManualTime(START);
    final TestLease lease = new TestLease(7);
    private final List<SnowflakeIdGenerator> generators = new ArrayList<>();

    @AfterEach
    void closeGenerators() {
        generators.forEach(SnowflakeIdGenerator::close);
    }

    /** Manual time; a persist interval of 1 h, so the background task never runs during a test. */
    SnowflakeIdGenerator.Builder builder(ManualTime time) {
        return time.builder(TWITTER).persistInterval(Duration.ofHours(1));
    }

    SnowflakeIdGenerator build(SnowflakeIdGenerator.Builder builder) {
        SnowflakeIdGenerator generator = builder.build();
        generators.add(generator);
        return generator;
    }

    static long timestampOf(long id) {
        return TWITTER.decode(id).timestampUnits();
    }

    static long reserved(SnowflakeIdGenerator generator) {
        LockFreeSnowflakeGenerator lockFree = generator instanceof LeasingSnowflakeGenerator leasing
                ? leasing.current() : (LockFreeSnowflakeGenerator) generator;
        return lockFree.reservedTimestamp();
    }

    @Test
    @DisplayName("the build persists a first mark, two persist intervals ahead, before any id")
    void theBuildPersistsTheFirstMarkBeforeAnyId() {
        TestLease earlier = new TestLease(7, START_TICK - 50);
        SnowflakeIdGenerator generator = build(builder(time).workerLease(earlier));

        assertThat(earlier.saves()).containsExactly(START_TICK + TWO_HOURS);
        assertThat(reserved(generator)).isEqualTo(START_TICK + TWO_HOURS);
        assertThat(generator.lastTimestamp()).as("nothing issued yet").isEqualTo(START_TICK - 50);
        assertThat(generator.toString()).contains("persisted mark " + (START_TICK + TWO_HOURS));
    }

    @Test
    @DisplayName("a build whose first save fails throws it and closes the lease it acquired")
    void aBuildWhoseFirstSaveFailsThrowsAndClosesTheLeaseItAcquired() {
        lease.failSavesWith(new IdSourceUnavailableException("distkit_worker", "connection refused", null));
        WorkerIdAssigner assigner = new WorkerIdAssigner() {
            @Override
            public WorkerLease acquire(int maxWorkerIds) {
                return lease;
            }

            @Override
            public void close() {}
        };

        assertThatThrownBy(() -> build(builder(time).workerIdAssigner(assigner)))
                .isInstanceOf(IdSourceUnavailableException.class)
                .hasMessageContaining("connection refused");
        assertThat(lease.closeCalls()).isEqualTo(1);
    }

    @Test
    @DisplayName("ids up to the mark need no save; the first id above it saves a new mark on the caller's thread")
    void aCallerThatFindsTheMarkUsedUpSavesANewOneItself() {
        SnowflakeIdGenerator generator = build(builder(time).workerLease(lease));
        long mark = START_TICK + TWO_HOURS;

        time.advance(Duration.ofHours(2)); // the clock at the mark exactly
        long atTheMark = generator.nextId();
        assertThat(timestampOf(atTheMark)).isEqualTo(mark);
        assertThat(lease.saves()).containsExactly(mark);

        time.advance(Duration.ofMillis(1));
        long above = generator.nextId();

        assertThat(timestampOf(above)).isEqualTo(mark + 1);
        assertThat(lease.saves()).containsExactly(mark, mark + 1 + TWO_HOURS);
        assertThat(reserved(generator)).isEqualTo(mark + 1 + TWO_HOURS);
    }

    @Test
    @DisplayName("while the store fails, no id above the mark: IdSourceUnavailableException naming the mark; ids resume when it is back")
    void noIdAboveTheMarkWhileTheStoreFails() {
        SnowflakeIdGenerator generator = build(builder(time).workerLease(lease));
        long mark = START_TICK + TWO_HOURS;
        time.advance(Duration.ofHours(2));
        generator.nextId();
        lease.failSavesWith(new IdSourceUnavailableException("distkit_worker", "connection refused", null));

        time.advance(Duration.ofMillis(1));
        assertThatThrownBy(generator::nextId)
                .isInstanceOfSatisfying(IdSourceUnavailableException.class,
                        e -> assertThat(e.source()).isEqualTo("distkit_worker"))
                .hasMessageContaining("worker id 7 has used up its persisted high-water mark " + mark)
                .hasMessageContaining("covering timestamp " + (mark + 1))
                .hasMessageContaining("connection refused")
                .hasMessageContaining("no id is issued above the persisted mark");
        assertThatThrownBy(() -> generator.nextIds(5)).isInstanceOf(IdSourceUnavailableException.class);
        assertThat(generator.lastTimestamp()).isEqualTo(mark);

        lease.failSavesWith(null);
        long after = generator.nextId();
        assertThat(timestampOf(after)).isEqualTo(mark + 1);
    }

    @Test
    @DisplayName("callers queued behind a failed save throw its failure without one more save each")
    void callersQueuedBehindAFailedSaveThrowItsFailure() throws Exception {
        SnowflakeIdGenerator generator = build(builder(time).workerLease(lease));
        time.advance(Duration.ofHours(2).plusMillis(1)); // past the mark
        CountDownLatch gate = new CountDownLatch(1);
        lease.holdSaves(gate);
        lease.failSavesWith(new IdSourceUnavailableException("distkit_worker", "statement timeout", null));

        FutureTask<Long> first = new FutureTask<>(generator::nextId);
        Thread firstThread = new Thread(first, "first-caller");
        firstThread.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> lease.saveCalls() == 2); // the build's and this one
        FutureTask<Long> second = new FutureTask<>(generator::nextId);
        Thread secondThread = new Thread(second, "second-caller");
        secondThread.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> secondThread.getState() == Thread.State.BLOCKED);
        gate.countDown();

        for (FutureTask<Long> caller : List.of(first, second)) {
            assertThatThrownBy(() -> caller.get(10, TimeUnit.SECONDS))
                    .isInstanceOf(ExecutionException.class)
                    .hasCauseInstanceOf(IdSourceUnavailableException.class)
                    .hasMessageContaining("statement timeout");
        }
        assertThat(lease.saveCalls()).as("one save for the two callers").isEqualTo(2);

        lease.holdSaves(null);
        assertThatThrownBy(generator::nextId).as("the next wave tries again").isInstanceOf(IdSourceUnavailableException.class);
        assertThat(lease.saveCalls()).isEqualTo(3);
    }

    @Test
    @DisplayName("a save on the caller's thread that finds the lease lost stops the generator for good")
    void aSaveOnTheHotPathThatFindsTheLeaseLostStopsTheGenerator() {
        SnowflakeIdGenerator generator = build(builder(time).workerLease(lease));
        time.advance(Duration.ofHours(2).plusMillis(1));
        lease.failSavesWith(new WorkerLeaseLostException(7, "the row has another owner", null));

        assertThatThrownBy(generator::nextId)
                .isInstanceOf(WorkerLeaseLostException.class)
                .hasMessageContaining("the row has another owner");
        lease.failSavesWith(null);
        assertThatThrownBy(generator::nextId)
                .isInstanceOf(WorkerLeaseLostException.class)
                .hasMessageContaining("saving the last timestamp found the lease lost");
        assertThat(lease.saves()).hasSize(1);
    }

    @Test
    @DisplayName("a forward step of the wall clock beyond the reserve: the next id follows it after one save")
    void aForwardStepBeyondTheReserveIsFollowedAfterOneSave() {
        SnowflakeIdGenerator generator = build(builder(time).workerLease(lease).persistInterval(Duration.ofMillis(10)));
        long before = generator.nextId();

        time.stepWall(Duration.ofSeconds(60));
        long after = generator.nextId();

        assertThat(timestampOf(after)).isEqualTo(START_TICK + 60_000);
        assertThat(after).isGreaterThan(before);
        assertThat(lease.saves()).contains(START_TICK + 60_000 + 20);
        assertThat(reserved(generator)).isGreaterThanOrEqualTo(START_TICK + 60_000 + 20);
    }

    @Test
    @DisplayName("logical mode: a burst borrowing future timestamps extends the mark before it uses them")
    void aLogicalBurstStaysWithinTheMark() {
        SnowflakeIdGenerator generator = build(builder(time).workerLease(lease).logicalClock(Duration.ofMillis(500))
                .persistInterval(Duration.ofHours(1)));
        time.advance(Duration.ofHours(2)); // the clock at the mark: the burst must borrow above it

        long[] burst = generator.nextIds(100 * (TWITTER.maxSequence() + 1));

        assertThat(timestampOf(burst[burst.length - 1])).as("100 ticks borrowed").isEqualTo(START_TICK + TWO_HOURS + 99);
        assertThat(lease.saves()).hasSize(2);
        assertThat(lease.saves().get(1)).isGreaterThanOrEqualTo(START_TICK + TWO_HOURS + 99);
        IdChecks.distinctAndIncreasing(Map.of("burst", burst)).assertNoViolations();
    }

    // ---- F20 on manual clocks: the hand-over to a successor whose clock is behind -----------------------

    /**
     * A holder A on a clock 5 s ahead issues ids; then it is paused past its lease, and the store hands
     * its worker id to B, whose clock is right. A resumes, has not noticed yet, and issues for another
     * 100 ticks before its lease check catches up. With the reservation, A's ids all sit at or below the
     * mark B read, and B starts above it: no duplicate.
     */
    @Test
    @DisplayName("F20: a holder that goes on issuing after its worker id was handed over never repeats its successor's ids")
    void aHolderThatGoesOnAfterTheHandOverNeverRepeatsItsSuccessor() {
        HandOver run = handOver(true);

        IdChecks.distinct(run.ids()).assertNoViolations();
        IdChecks.strictlyIncreasing(run.ids()).assertNoViolations();
        assertThat(run.aMaxTimestamp()).as("every timestamp A issued, after the pause too, is at or below the mark B read")
                .isLessThanOrEqualTo(run.markBRead());
        assertThat(run.bMinTimestamp()).isGreaterThan(run.markBRead());
        assertThat(run.aLost()).isInstanceOf(WorkerLeaseLostException.class);
    }

    /** The negative control: the same history on the design before the reservation repeats ids, and the checker sees it. */
    @Test
    @DisplayName("F20 control: the same history with the last issued timestamp persisted instead of a reservation repeats ids")
    void withoutTheReservationTheSameHistoryRepeatsIds() {
        HandOver run = handOver(false);

        IdChecks.Result result = IdChecks.distinct(run.ids());
        assertThat(result.count(IdChecks.Kind.DUPLICATE)).as("%s", result).isPositive();
        assertThat(result.report()).contains("by A before the pause", "and by B");
        assertThat(run.aMaxTimestamp()).as("A issued above the mark B read").isGreaterThan(run.markBRead());
    }

    record HandOver(Map<String, long[]> ids, long markBRead, long aMaxTimestamp, long bMinTimestamp,
            RuntimeException aLost) {}

    private HandOver handOver(boolean reservation) {
        ManualTime aTime = new ManualTime(START.plusSeconds(5));
        ManualTime bTime = new ManualTime(START);
        SharedWorkerRow row = new SharedWorkerRow(7);
        // a 2 min persist interval: the background never runs during the test, so the history is exact
        SnowflakeIdGenerator a = handOverGenerator(aTime, row.lease(), reservation);
        long[] aBefore = ticks(a, aTime, 50);

        aTime.advance(Duration.ofSeconds(3)); // paused past its lease: the store hands the worker id to B
        SharedWorkerRow.Lease bLease = row.lease();
        SnowflakeIdGenerator b = handOverGenerator(bTime, bLease, reservation);
        long[] bIds = ticks(b, bTime, 9_000);

        long[] aAfter = ticks(a, aTime, 100); // resumed, and not told yet
        row.tellLost();
        RuntimeException lost = null;
        try {
            a.nextId();
        } catch (WorkerLeaseLostException | IllegalStateException e) {
            lost = e;
        }
        aTime.advance(Duration.ofMillis(1));
        try {
            a.nextId();
        } catch (WorkerLeaseLostException e) {
            lost = e;
        }

        Map<String, long[]> ids = new LinkedHashMap<>();
        ids.put("A before the pause", aBefore);
        ids.put("A after the pause", aAfter);
        ids.put("B", bIds);
        long aMax = LongStream.concat(LongStream.of(aBefore), LongStream.of(aAfter))
                .map(SnowflakeReservationTest::timestampOf).max().orElseThrow();
        long bMin = LongStream.of(bIds).map(SnowflakeReservationTest::timestampOf).min().orElseThrow();
        return new HandOver(ids, bLease.lastTimestamp(), aMax, bMin, Objects.requireNonNull(lost, "A never threw"));
    }

    /** The real generator, or without {@code reservation} the negative control, {@link LastIssuedTimestampPersister}. */
    private SnowflakeIdGenerator handOverGenerator(ManualTime clock, WorkerLease lease, boolean reservation) {
        SnowflakeIdGenerator.Builder builder = builder(clock)
                .persistInterval(Duration.ofMinutes(2))
                .maxStartupWait(Duration.ofMinutes(10))
                .workerLease(lease);
        SnowflakeIdGenerator generator = reservation ? builder.build() : LastIssuedTimestampPersister.generator(builder);
        generators.add(generator);
        return generator;
    }

    /** Three ids per tick for {@code count} ticks. */
    private static long[] ticks(SnowflakeIdGenerator generator, ManualTime clock, int count) {
        long[] ids = new long[3 * count];
        for (int i = 0; i < count; i++) {
            for (int k = 0; k < 3; k++) {
                ids[3 * i + k] = generator.nextId();
            }
            clock.advance(Duration.ofMillis(1));
        }
        return ids;
    }

    /**
     * One worker id's row of a store such as the JDBC assigner's: a high-water mark (the highest saved)
     * and an owner. A new lease takes the row over (the old one's lease expired there); saves are
     * fenced by owner, so the old lease's saves fail from then on. The old holder's {@code isValid()}
     * stays true until {@link #tellLost()}: a paused process has not looked at its deadline yet.
     */
    static final class SharedWorkerRow {
        private final int workerId;
        private long mark;
        private @org.jspecify.annotations.Nullable Lease owner;
        private volatile boolean told;

        SharedWorkerRow(int workerId) {
            this.workerId = workerId;
        }

        synchronized Lease lease() {
            told = false;
            owner = new Lease(mark);
            return owner;
        }

        /** Every lease but the owner's now reports itself invalid. */
        void tellLost() {
            told = true;
        }

        final class Lease implements WorkerLease {
            private final long markAtAcquire;

            Lease(long markAtAcquire) {
                this.markAtAcquire = markAtAcquire;
            }

            @Override
            public int workerId() {
                return workerId;
            }

            @Override
            public boolean isValid() {
                synchronized (SharedWorkerRow.this) {
                    return owner == this || !told;
                }
            }

            @Override
            public long lastTimestamp() {
                return markAtAcquire;
            }

            @Override
            public void saveLastTimestamp(long timestamp) {
                synchronized (SharedWorkerRow.this) {
                    if (owner != this) {
                        throw new WorkerLeaseLostException(workerId, "the row has another owner", null);
                    }
                    mark = Math.max(mark, timestamp);
                }
            }

            @Override
            public void onLost(Runnable listener) {
                Objects.requireNonNull(listener, "listener"); // the test tells loss through isValid()
            }

            @Override
            public void close() {}
        }
    }

    // ---- property: no id above a mark the store acknowledged ---------------------------------------------

    static LongStream seeds() {
        return LongStream.range(0, 40);
    }

    /**
     * Random layouts and clock histories ({@link SnowflakePropertyTest.Scenario}) with persist intervals
     * of 1 to 20 time units, so that the background task and the callers both save marks: after every
     * call, each id it returned has a timestamp at or below the highest mark the lease had acknowledged.
     */
    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void noIdAboveAMarkTheStoreAcknowledged(long seed) {
        SnowflakePropertyTest.Scenario scenario = SnowflakePropertyTest.Scenario.random(seed);
        Random random = new Random(seed ^ 0x2545F4914F6CDD1DL);
        ManualTime clock = new ManualTime(START);
        TestLease store = new TestLease(scenario.workerId);
        SnowflakeIdGenerator.Builder builder = clock.builder(scenario.layout)
                .workerLease(store)
                .maxBackwardWait(scenario.maxBackwardWait)
                .resyncInterval(scenario.resyncInterval)
                .persistInterval(scenario.layout.timeUnit().multipliedBy(1 + random.nextInt(20)));
        if (scenario.maxLogicalLead != null) {
            builder.logicalClock(scenario.maxLogicalLead);
        }
        SnowflakePropertyTest.LongList all = new SnowflakePropertyTest.LongList();
        try (SnowflakeIdGenerator generator = builder.build()) {
            for (int step = 0; step < 2_000; step++) {
                long[] ids;
                try {
                    int dice = random.nextInt(100);
                    if (dice < 45) {
                        ids = new long[] {generator.nextId()};
                    } else if (dice < 60) {
                        ids = generator.nextIds(1 + random.nextInt(scenario.perTick() * 3));
                    } else {
                        scenario.moveClock(clock, random);
                        continue;
                    }
                } catch (ClockMovedBackwardsException e) {
                    clock.advanceNanos(random.nextLong(scenario.unitNanos * 20));
                    continue;
                }
                long acknowledged = store.saves().stream().mapToLong(Long::longValue).max().orElse(0);
                for (long id : ids) {
                    long timestamp = scenario.layout.decode(id).timestampUnits();
                    if (timestamp > acknowledged) {
                        throw new AssertionError(scenario + ": id " + id + " at step " + step + " has timestamp "
                                + timestamp + ", above the highest mark the lease acknowledged, " + acknowledged);
                    }
                }
                all.addAll(ids);
            }
        }
        IdChecks.distinctAndIncreasing(Map.of(scenario.toString(), all.toArray())).assertNoViolations();
    }
}
