package io.distkit.id.snowflake;

import static io.distkit.id.snowflake.SnowflakeLayout.JS_SAFE;
import static io.distkit.id.snowflake.SnowflakeLayout.TWITTER;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.id.ClockMovedBackwardsException;
import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.Ticker;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** The generator's behaviour on a wall clock and a ticker driven by hand ({@link ManualTime}). */
class SnowflakeIdGeneratorTest {

    /** A whole millisecond, so TWITTER's time units start exactly on it. */
    static final Instant START = Instant.parse("2026-11-25T10:00:00Z");
    static final long START_TICK = TWITTER.timestampOf(START);
    static final int PER_TICK = TWITTER.maxSequence() + 1;

    final ManualTime time = new ManualTime(START);
    final TestLease lease = new TestLease(7);
    private final List<SnowflakeIdGenerator> generators = new ArrayList<>();

    @AfterEach
    void closeGenerators() {
        generators.forEach(SnowflakeIdGenerator::close);
    }

    /** Manual time, and the wall clock re-read on every call unless a test says otherwise. */
    SnowflakeIdGenerator.Builder builder(SnowflakeLayout layout) {
        return time.builder(layout);
    }

    SnowflakeIdGenerator build(SnowflakeIdGenerator.Builder builder) {
        SnowflakeIdGenerator generator = builder.build();
        generators.add(generator);
        return generator;
    }

    SnowflakeIdGenerator twitter() {
        return build(builder(TWITTER).workerLease(lease));
    }

    static long timestampOf(long id) {
        return TWITTER.decode(id).timestampUnits();
    }

    @Nested
    @DisplayName("ids")
    class Ids {

        @Test
        void idsCarryTheTimestampTheWorkerIdAndTheSequence() {
            SnowflakeIdGenerator generator = twitter();

            long first = generator.nextId();
            long second = generator.nextId();
            time.advance(Duration.ofMillis(1));
            long third = generator.nextId();

            assertThat(TWITTER.decode(first)).isEqualTo(new SnowflakeLayout.Decoded(START, START_TICK, 7, 0));
            assertThat(TWITTER.decode(second)).isEqualTo(new SnowflakeLayout.Decoded(START, START_TICK, 7, 1));
            assertThat(TWITTER.decode(third))
                    .isEqualTo(new SnowflakeLayout.Decoded(START.plusMillis(1), START_TICK + 1, 7, 0));
            assertThat(generator.lastTimestamp()).isEqualTo(START_TICK + 1);
            assertThat(generator.workerId()).isEqualTo(7);
            assertThat(generator.layout()).isEqualTo(TWITTER);
            assertThat(time.waits()).isZero();
        }

        @Test
        void sequenceOverflowWithinATickWaitsExactlyForTheNextTick() {
            SnowflakeIdGenerator generator = twitter();
            time.advance(Duration.ofNanos(300_000)); // 0.3 ms into the tick

            long[] ids = new long[PER_TICK + 1];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = generator.nextId();
            }

            for (int i = 0; i < PER_TICK; i++) {
                assertThat(TWITTER.decode(ids[i])).isEqualTo(new SnowflakeLayout.Decoded(START, START_TICK, 7, i));
            }
            assertThat(TWITTER.decode(ids[PER_TICK]))
                    .isEqualTo(new SnowflakeLayout.Decoded(START.plusMillis(1), START_TICK + 1, 7, 0));
            assertThat(time.waits()).as("one wait, for the rest of the tick").isEqualTo(1);
            assertThat(time.waited()).isEqualTo(Duration.ofNanos(700_000));
        }

        @Test
        void nextIdsReservesRunsOfSequenceNumbersAcrossTicks() {
            SnowflakeIdGenerator generator = twitter();
            long single = generator.nextId();

            long[] batch = generator.nextIds(10_000);

            assertThat(batch).hasSize(10_000);
            long[] all = IdChecks.concat(new long[] {single}, batch);
            IdChecks.distinctAndIncreasing(Map.of("nextId then nextIds(10000)", all)).assertNoViolations();
            // the rest of the first tick (4095), a whole second tick (4096), the remainder (1809) in a third
            int restOfFirst = PER_TICK - 1;
            assertThat(TWITTER.decode(batch[0])).isEqualTo(new SnowflakeLayout.Decoded(START, START_TICK, 7, 1));
            assertThat(timestampOf(batch[restOfFirst - 1])).isEqualTo(START_TICK);
            assertThat(TWITTER.decode(batch[restOfFirst]).sequence()).isZero();
            assertThat(timestampOf(batch[restOfFirst])).isEqualTo(START_TICK + 1);
            assertThat(timestampOf(batch[restOfFirst + PER_TICK])).isEqualTo(START_TICK + 2);
            assertThat(TWITTER.decode(batch[9_999]))
                    .isEqualTo(new SnowflakeLayout.Decoded(START.plusMillis(2), START_TICK + 2, 7, 10_000 - restOfFirst - PER_TICK - 1));
            for (int i = 1; i < batch.length; i++) {
                if (timestampOf(batch[i]) == timestampOf(batch[i - 1]) && batch[i] != batch[i - 1] + 1) {
                    throw new AssertionError("ids of one tick are not consecutive at #" + i);
                }
            }
            assertThat(time.waits()).isEqualTo(2);
            assertThat(time.waited()).isEqualTo(Duration.ofMillis(2));
        }

        @Test
        void theLastTimestampOfTheLayoutIsIssuedAndThenTheGeneratorRefuses() {
            SnowflakeIdGenerator generator = twitter();
            time.advance(Duration.between(START, TWITTER.endOfLife()).minusMillis(1));

            long last = generator.nextId();
            time.advance(Duration.ofMillis(1));

            assertThat(TWITTER.decode(last).timestampUnits()).isEqualTo(TWITTER.maxTimestamp());
            assertThat(last).isPositive();
            assertThatThrownBy(generator::nextId)
                    .isInstanceOf(IdGenerationException.class)
                    .hasMessageContaining("run out at 2080-07-10T17:30:30.209Z");
            assertThatThrownBy(() -> generator.nextIds(5)).isInstanceOf(IdGenerationException.class);
        }

        @Test
        void jsSafeIdsNeverExceedTwoToThe53MinusOne() {
            long maxSafe = (1L << 53) - 1;
            SnowflakeIdGenerator generator = build(builder(JS_SAFE).workerLease(new TestLease(63)));

            long[] now = generator.nextIds(5_000);
            time.advance(Duration.between(time.wallNow(), JS_SAFE.endOfLife()).minus(JS_SAFE.timeUnit()));
            long[] atTheEnd = generator.nextIds(JS_SAFE.maxSequence() + 1);

            assertThat(java.util.stream.LongStream.of(IdChecks.concat(now, atTheEnd)).summaryStatistics())
                    .satisfies(all -> assertThat(all.getCount()).isEqualTo(5_000 + 1_024))
                    .satisfies(all -> assertThat(all.getMin()).isPositive())
                    .satisfies(all -> assertThat(all.getMax()).isEqualTo(maxSafe));
            assertThat(atTheEnd[atTheEnd.length - 1]).as("the very last id of the layout").isEqualTo(maxSafe);
            assertThatThrownBy(generator::nextId).hasMessageContaining("run out");
        }
    }

    @Nested
    @DisplayName("clock rollback, strict mode")
    class StrictRollback {

        @Test
        void aSmallBackwardStepIsWaitedOut() {
            SnowflakeIdGenerator generator = twitter();
            long before = generator.nextId();
            time.stepWall(Duration.ofMillis(-5));

            long after = generator.nextId();

            assertThat(after).isGreaterThan(before);
            assertThat(timestampOf(after)).isEqualTo(START_TICK);
            // the re-read clock is trusted to the top of its millisecond: 4 ms and a nanosecond to wait
            assertThat(time.waited()).isBetween(Duration.ofMillis(4), Duration.ofMillis(5));
        }

        @Test
        void aLargeBackwardStepThrowsWithTheSizeOfTheJumpAndWithoutWaiting() {
            SnowflakeIdGenerator generator = twitter();
            long before = generator.nextId();
            time.stepWall(Duration.ofSeconds(-60));

            assertThatThrownBy(generator::nextId)
                    .isInstanceOfSatisfying(ClockMovedBackwardsException.class, e -> assertThat(e.jump())
                            .isBetween(Duration.ofSeconds(60).minusMillis(1), Duration.ofSeconds(60)))
                    .hasMessageContaining("clock moved backwards by 59999 ms")
                    .hasMessageContaining("worker id 7 issued ids up to timestamp " + START_TICK)
                    .hasMessageContaining("maxBackwardWait PT0.01S");
            assertThatThrownBy(() -> generator.nextIds(3)).isInstanceOf(ClockMovedBackwardsException.class);
            assertThat(time.waits()).isZero();

            time.stepWall(Duration.ofSeconds(60));
            long after = generator.nextId();
            assertThat(after).isGreaterThan(before);
        }

        @Test
        void aMaxBackwardWaitOfZeroThrowsAtOnceEvenForAFewMilliseconds() {
            SnowflakeIdGenerator generator = build(builder(TWITTER).workerLease(lease).maxBackwardWait(Duration.ZERO));
            generator.nextId();
            time.stepWall(Duration.ofMillis(-5));

            assertThatThrownBy(generator::nextId).isInstanceOf(ClockMovedBackwardsException.class);
            assertThat(time.waits()).isZero();
        }

        @Test
        void aWallClockStepUndoneBeforeTheNextResyncNeverReachesTheIds() {
            SnowflakeIdGenerator generator = build(builder(TWITTER).workerLease(lease).resyncInterval(Duration.ofSeconds(1)));
            long first = generator.nextId();

            time.stepWall(Duration.ofSeconds(-60));
            time.advance(Duration.ofMillis(100));
            long duringTheStep = generator.nextId();
            time.stepWall(Duration.ofSeconds(60));
            time.advance(Duration.ofSeconds(1));
            long afterTheResync = generator.nextId();

            assertThat(timestampOf(duringTheStep)).isEqualTo(START_TICK + 100);
            assertThat(timestampOf(afterTheResync)).isEqualTo(START_TICK + 1100);
            assertThat(new long[] {first, duringTheStep, afterTheResync}).isSorted();
        }

        @Test
        void aBackwardStepThatLastsIsFollowedAtTheNextResync() {
            SnowflakeIdGenerator generator = build(builder(TWITTER).workerLease(lease).resyncInterval(Duration.ofSeconds(1)));
            generator.nextId();
            time.advance(Duration.ofMillis(500));
            generator.nextId(); // timestamp START + 500 ms

            time.stepWall(Duration.ofSeconds(-60));
            time.advance(Duration.ofMillis(400));
            long stillTicking = generator.nextId();
            time.advance(Duration.ofMillis(100)); // one second since the build: the re-sync is due

            assertThat(timestampOf(stillTicking)).isEqualTo(START_TICK + 900);
            assertThatThrownBy(generator::nextId)
                    .isInstanceOfSatisfying(ClockMovedBackwardsException.class, e -> assertThat(e.jump())
                            .isBetween(Duration.ofMillis(59_899), Duration.ofMillis(59_900)));
        }

        @Test
        void aForwardStepMovesTheIdsForward() {
            SnowflakeIdGenerator generator = twitter();
            long before = generator.nextId();
            time.stepWall(Duration.ofSeconds(60));

            long after = generator.nextId();

            assertThat(timestampOf(after)).isEqualTo(START_TICK + 60_000);
            assertThat(after).isGreaterThan(before);
        }

        @Test
        void aTickerThatGoesBackIsCaughtByTheSameGuard() {
            SnowflakeIdGenerator generator = build(builder(TWITTER).workerLease(lease).resyncInterval(Duration.ofHours(1)));
            generator.nextId();
            time.stepTicker(Duration.ofSeconds(-1));

            assertThatThrownBy(generator::nextId)
                    .isInstanceOfSatisfying(ClockMovedBackwardsException.class,
                            e -> assertThat(e.jump()).isEqualTo(Duration.ofSeconds(1)));
        }

        @Test
        void withoutTheGuardABackwardStepRepeatsIdsAndTheCheckerSeesIt() {
            // the negative control: the same schedule on a generator that forgets its last timestamp
            SnowflakeIdGenerator naive = NaiveSnowflakeGenerator.of(builder(TWITTER).workerLease(new TestLease(3)));
            generators.add(naive);
            Map<String, long[]> broken = runTicksStepBackAndRunAgain(naive);
            Map<String, long[]> guarded = runTicksStepBackAndRunAgain(build(builder(TWITTER).workerLease(lease)));

            IdChecks.Result duplicates = IdChecks.distinct(broken);
            assertThat(duplicates.count(IdChecks.Kind.DUPLICATE)).isEqualTo(10 * 3);
            assertThat(duplicates.report()).contains("returned 2 times: by before the step", "and by after the step");
            long[] brokenIds = IdChecks.concat(broken.values().toArray(long[][]::new));
            assertThat(IdChecks.strictlyIncreasing(Map.of("one generator", brokenIds)).count(IdChecks.Kind.NOT_INCREASING))
                    .isEqualTo(1);
            IdChecks.distinct(guarded).assertNoViolations();
            long[] guardedIds = IdChecks.concat(guarded.values().toArray(long[][]::new));
            IdChecks.strictlyIncreasing(Map.of("one generator", guardedIds)).assertNoViolations();
        }

        /** Ten ticks of three ids, the wall clock 8 ms back, and the same again. */
        private Map<String, long[]> runTicksStepBackAndRunAgain(SnowflakeIdGenerator generator) {
            Map<String, long[]> ids = new LinkedHashMap<>();
            for (String phase : List.of("before the step", "after the step")) {
                long[] run = new long[30];
                for (int i = 0; i < run.length; i++) {
                    run[i] = generator.nextId();
                    if (i % 3 == 2) {
                        time.advance(Duration.ofMillis(1));
                    }
                }
                ids.put(phase, run);
                time.stepWall(Duration.ofMillis(-10));
            }
            return ids;
        }
    }

    @Nested
    @DisplayName("clock rollback, logical mode")
    class LogicalRollback {

        @Test
        void idsGoOnFromTheLastTimestampWithoutWaiting() {
            SnowflakeIdGenerator generator = build(builder(TWITTER).workerLease(lease).logicalClock(Duration.ofSeconds(1)));
            long before = generator.nextId();
            time.stepWall(Duration.ofMillis(-500));

            long[] after = generator.nextIds(3 * PER_TICK);

            assertThat(time.waits()).isZero();
            IdChecks.distinctAndIncreasing(Map.of("ids", IdChecks.concat(new long[] {before}, after))).assertNoViolations();
            assertThat(timestampOf(after[0])).as("never below the last timestamp").isEqualTo(START_TICK);
            assertThat(timestampOf(after[after.length - 1])).isEqualTo(START_TICK + 3);
        }

        @Test
        void theLeadOverTheClockNeverExceedsMaxLogicalLead() {
            long leadUnits = 100;
            SnowflakeIdGenerator generator = build(builder(TWITTER).workerLease(lease)
                    .logicalClock(Duration.ofMillis(leadUnits)));
            long previous = generator.nextId();
            time.stepWall(Duration.ofMillis(-50));

            // the clock is 50 ticks behind: ticks up to START_TICK + 50 without waiting, then ten more
            long maxLead = Long.MIN_VALUE;
            for (long i = 1; i < (51 + 10) * (long) PER_TICK; i++) {
                long id = generator.nextId();
                if (id <= previous) {
                    throw new AssertionError("id " + id + " at #" + i + " is not above " + previous);
                }
                previous = id;
                // the re-read clock is trusted to the top of its millisecond: 1 unit of slack
                long lead = timestampOf(id) - TWITTER.timestampOf(time.wallNow());
                maxLead = Math.max(maxLead, lead);
                if (lead > leadUnits + 1) {
                    throw new AssertionError("id #" + i + " leads the wall clock by " + lead + " units");
                }
            }
            assertThat(maxLead).isEqualTo(leadUnits + 1);
            assertThat(time.waits()).as("once the lead is used up, one wait per tick").isEqualTo(10);
            assertThat(timestampOf(previous)).isEqualTo(START_TICK + 60);
        }

        @Test
        void aStepBackBeyondTheLeadThrows() {
            SnowflakeIdGenerator generator = build(builder(TWITTER).workerLease(lease)
                    .logicalClock(Duration.ofMillis(100)));
            generator.nextId();
            time.stepWall(Duration.ofSeconds(-2));

            assertThatThrownBy(generator::nextId)
                    .isInstanceOfSatisfying(ClockMovedBackwardsException.class, e -> assertThat(e.jump())
                            .isBetween(Duration.ofSeconds(2).minusMillis(1), Duration.ofSeconds(2)))
                    .hasMessageContaining("maxLogicalLead PT0.1S");
        }
    }

    @Nested
    @DisplayName("start against the lease's persisted timestamp")
    class Startup {

        @Test
        void refusesToStartWhileTheClockIsFarBehindThePersistedTimestamp() {
            TestLease ahead = new TestLease(7, START_TICK + 10_000);

            assertThatThrownBy(() -> build(builder(TWITTER).workerLease(ahead)))
                    .isInstanceOfSatisfying(ClockMovedBackwardsException.class,
                            e -> assertThat(e.jump()).isEqualTo(Duration.ofMillis(10_001)))
                    .hasMessageContaining("the clock reads " + START + " (timestamp " + START_TICK + ")")
                    .hasMessageContaining("last timestamp " + (START_TICK + 10_000) + " ("
                            + START.plusSeconds(10) + ") persisted for worker id 7")
                    .hasMessageContaining("maxStartupWait PT5S");
            assertThat(ahead.closeCalls()).as("a lease given to the builder stays open").isZero();
            assertThat(time.waits()).isZero();
        }

        @Test
        void closesTheLeaseItAcquiredWhenItRefusesToStart() {
            TestLease ahead = new TestLease(7, START_TICK + 10_000);
            WorkerIdAssigner assigner = new WorkerIdAssigner() {
                @Override
                public WorkerLease acquire(int maxWorkerIds) {
                    return ahead;
                }

                @Override
                public void close() {}
            };

            assertThatThrownBy(() -> build(builder(TWITTER).workerIdAssigner(assigner)))
                    .isInstanceOf(ClockMovedBackwardsException.class);
            assertThat(ahead.closeCalls()).isEqualTo(1);
        }

        @Test
        void waitsOutAShortGapAndStartsAboveThePersistedTimestamp() {
            SnowflakeIdGenerator generator = build(builder(TWITTER).workerLease(new TestLease(7, START_TICK + 200)));

            assertThat(time.waited()).isEqualTo(Duration.ofMillis(201));
            assertThat(timestampOf(generator.nextId())).isEqualTo(START_TICK + 201);
        }

        @Test
        void aPersistedTimestampInTheCurrentTickMeansTheNextTick() {
            time.advance(Duration.ofNanos(400_000));
            SnowflakeIdGenerator generator = build(builder(TWITTER).workerLease(new TestLease(7, START_TICK)));

            assertThat(timestampOf(generator.nextId())).isEqualTo(START_TICK + 1);
            assertThat(time.waited()).isEqualTo(Duration.ofNanos(600_000));
        }

        @Test
        void logicalModeStartsAtOnceWhenThePersistedTimestampIsWithinTheLead() {
            SnowflakeIdGenerator generator = build(builder(TWITTER).workerLease(new TestLease(7, START_TICK + 10_000))
                    .logicalClock(Duration.ofSeconds(30)));

            assertThat(time.waits()).isZero();
            assertThat(timestampOf(generator.nextId())).isEqualTo(START_TICK + 10_001);
        }

        @Test
        void aRestartAfterABackwardStepRefusesOrWaitsAsConfigured() {
            StaticWorkerIdAssigner assigner = StaticWorkerIdAssigner.of(7);
            SnowflakeIdGenerator first = build(builder(TWITTER).workerIdAssigner(assigner));
            long[] before = first.nextIds(1000);
            first.close();
            time.stepWall(Duration.ofSeconds(-5));

            // the persisted mark is the first generator's reservation, 2 persist intervals (2 s) ahead of
            // its clock: the clock is now 7 s behind it, beyond the default maxStartupWait of 5 s
            assertThat(assigner.lastTimestamp()).isEqualTo(START_TICK + 2_000);
            assertThatThrownBy(() -> build(builder(TWITTER).workerIdAssigner(assigner)))
                    .isInstanceOf(ClockMovedBackwardsException.class);
            SnowflakeIdGenerator patient = build(builder(TWITTER).workerIdAssigner(assigner)
                    .maxStartupWait(Duration.ofSeconds(10)));
            long after = patient.nextId();

            IdChecks.noRewindAfterRestart(Map.of("before the restart", before), "after the restart", after)
                    .assertNoViolations();
            assertThat(timestampOf(after)).isEqualTo(START_TICK + 2_001);
            assertThat(time.waited()).isBetween(Duration.ofMillis(7_000), Duration.ofMillis(7_001));
        }

        @Test
        void aStartupWaitEndsAtTheNextResyncOnceTheClockIsCorrectedForward() {
            TestLease ahead = new TestLease(7, START_TICK + 10_000);
            boolean[] corrected = {false};
            Waiter correctingOnFirstWait = nanos -> {
                if (!corrected[0]) {
                    corrected[0] = true;
                    time.stepWall(Duration.ofMillis(10_500)); // the clock was 10.5 s behind; NTP steps it right
                }
                time.waiter().await(nanos);
            };

            SnowflakeIdGenerator generator = build(builder(TWITTER).workerLease(ahead)
                    .resyncInterval(Duration.ofSeconds(1)).maxStartupWait(Duration.ofSeconds(15))
                    .waiter(correctingOnFirstWait));

            assertThat(time.waited()).as("one park, up to the next re-sync, not the 10 s computed from the wrong clock")
                    .isEqualTo(Duration.ofSeconds(1));
            assertThat(timestampOf(generator.nextId())).isEqualTo(START_TICK + 11_500);
        }

        @Test
        void aPersistedTimestampThatDoesNotFitTheLayoutIsRefused() {
            assertThatThrownBy(() -> build(builder(TWITTER).workerLease(new TestLease(7, TWITTER.maxTimestamp() + 1))))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("lastTimestamp of worker id 7's lease must be between 0 and "
                            + TWITTER.maxTimestamp())
                    .hasMessageContaining("was " + (TWITTER.maxTimestamp() + 1));
            assertThatThrownBy(() -> build(builder(TWITTER).workerLease(new TestLease(7, -1))))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("was -1");
        }
    }

    @Nested
    @DisplayName("worker lease")
    class Lease {

        @Test
        void stopsForGoodWhenTheLeaseIsLost() {
            SnowflakeIdGenerator generator = twitter();
            generator.nextId();

            lease.lose();

            assertThatThrownBy(generator::nextId)
                    .isInstanceOfSatisfying(WorkerLeaseLostException.class, e -> assertThat(e.workerId()).isEqualTo(7))
                    .hasMessageContaining("onLost listener fired");
            time.advance(Duration.ofSeconds(1));
            assertThatThrownBy(() -> generator.nextIds(10)).isInstanceOf(WorkerLeaseLostException.class);
        }

        @Test
        void stopsAtTheNextTickOnceTheLeaseIsNoLongerValid() {
            SnowflakeIdGenerator generator = twitter();
            generator.nextId();

            lease.invalidate();
            time.advance(Duration.ofMillis(1));

            assertThatThrownBy(generator::nextId)
                    .isInstanceOf(WorkerLeaseLostException.class)
                    .hasMessageContaining("no longer valid");
            assertThatThrownBy(generator::nextId).isInstanceOf(WorkerLeaseLostException.class);
        }

        @Test
        void aLeaseLostBeforeTheBuildIsRefused() {
            TestLease lost = new TestLease(7);
            lost.invalidate();

            assertThatThrownBy(() -> build(builder(TWITTER).workerLease(lost)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("workerLease must be valid");
        }

        @Test
        void keepsThePersistedMarkTwoIntervalsAheadOfTheClockUsedOrIdle() {
            SnowflakeIdGenerator generator = build(builder(TWITTER).workerLease(lease)
                    .persistInterval(Duration.ofMillis(10)));
            assertThat(lease.saves()).as("the first mark, saved by the build before any id").containsExactly(START_TICK + 20);

            time.advance(Duration.ofMillis(5)); // 15 ms of reserve left: not yet
            generator.nextId();
            await().during(Duration.ofMillis(100)).atMost(Duration.ofSeconds(5))
                    .until(() -> lease.saves().size() == 1);

            time.advance(Duration.ofMillis(6)); // 9 ms left, under one interval: the background saves, idle or not
            await().atMost(Duration.ofSeconds(10)).until(() -> lease.saves().contains(START_TICK + 11 + 20));
            assertThat(SnowflakeReservationTest.reserved(generator)).isEqualTo(START_TICK + 31);
        }

        @Test
        void closeSavesNothingStopsTheGeneratorAndIsIdempotent() {
            SnowflakeIdGenerator generator = build(builder(TWITTER).workerLease(lease)
                    .persistInterval(Duration.ofHours(1)));
            generator.nextIds(3 * PER_TICK);
            long last = generator.lastTimestamp();

            generator.close();
            generator.close();

            assertThat(last).isEqualTo(START_TICK + 2);
            // the mark saved at build (2 persist intervals ahead) already covers every id issued
            assertThat(lease.saves()).containsExactly(START_TICK + Duration.ofHours(2).toMillis());
            assertThat(lease.closeCalls()).as("a lease given to the builder stays the caller's").isZero();
            assertThatThrownBy(generator::nextId)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("worker id 7 is closed");
        }

        @Test
        void closeReleasesTheLeaseItAcquiredAndTheNextGeneratorStartsAbove() {
            StaticWorkerIdAssigner assigner = StaticWorkerIdAssigner.of(5);
            SnowflakeIdGenerator first = build(builder(TWITTER).workerIdAssigner(assigner));
            long[] before = first.nextIds(2 * PER_TICK + 17);

            first.close();
            long mark = assigner.lastTimestamp();
            SnowflakeIdGenerator second = build(builder(TWITTER).workerIdAssigner(assigner));

            // the assigner keeps the first generator's reservation, not its last timestamp: the second
            // generator waits for it (2 s at most with the default persist interval)
            assertThat(mark).isEqualTo(SnowflakeReservationTest.reserved(first))
                    .isGreaterThanOrEqualTo(first.lastTimestamp());
            long firstOfSecond = second.nextId();
            IdChecks.noRewindAfterRestart(Map.of("first", before), "second", firstOfSecond).assertNoViolations();
            assertThat(timestampOf(firstOfSecond)).isEqualTo(mark + 1);
        }

        @Test
        void aStoreThatFailsOnCloseDoesNotMakeCloseThrow() {
            SnowflakeIdGenerator generator = twitter();
            generator.nextId();
            lease.failSavesWith(new IdSourceUnavailableException("distkit_worker", "connection refused", null));

            generator.close();

            assertThat(lease.saves()).as("the build's mark only: close does not save").hasSize(1);
        }

        @Test
        void aSaveThatFindsTheLeaseLostStopsTheGenerator() {
            SnowflakeIdGenerator generator = build(builder(TWITTER).workerLease(lease)
                    .persistInterval(Duration.ofMillis(10)));
            lease.failSavesWith(new WorkerLeaseLostException(7));
            time.advance(Duration.ofMillis(1));
            generator.nextId();
            time.advance(Duration.ofMillis(10)); // under one interval of reserve left: the background saves

            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThatThrownBy(generator::nextId)
                    .isInstanceOf(WorkerLeaseLostException.class)
                    .hasMessageContaining("saving the last timestamp found the lease lost"));
        }
    }
}
