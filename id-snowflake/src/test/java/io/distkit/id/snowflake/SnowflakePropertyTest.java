package io.distkit.id.snowflake;

import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.id.ClockMovedBackwardsException;
import io.distkit.id.Ticker;
import io.distkit.testkit.id.IdChecks;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Random layouts, settings and clock histories, backward steps of the wall clock and of the ticker
 * included: a generator never returns an id twice and never a lower id than before. Each case is
 * seeded by its display name ({@code seed N}); rerun one by its seed. The negative control runs the
 * same kind of history on a generator without a rollback guard ({@link NaiveSnowflakeGenerator}), and
 * the same checks catch it.
 */
class SnowflakePropertyTest {

    static final Instant START = Instant.parse("2026-11-25T10:00:00Z");

    static LongStream seeds() {
        return LongStream.range(0, 200);
    }

    static LongStream fewSeeds() {
        return LongStream.range(0, 12);
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void neverADuplicateNorADecreasingIdWhateverTheClockDoes(long seed) {
        Scenario scenario = Scenario.random(seed);

        Outcome outcome = scenario.run(true, false);

        IdChecks.distinctAndIncreasing(Map.of(scenario.toString(), outcome.ids())).assertNoViolations();
        assertThat(outcome.ids().length).as("ids issued in %s (%d calls refused)", scenario, outcome.refused())
                .isGreaterThan(100);
        assertThat(LongStream.of(outcome.ids()).min().orElseThrow()).isNotNegative();
        assertThat(LongStream.of(outcome.ids()).max().orElseThrow()).isLessThanOrEqualTo(scenario.layout.maxId());
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("fewSeeds")
    void theSameHistoriesWithoutTheRollbackGuardAreCaughtByTheChecker(long seed) {
        Scenario scenario = Scenario.random(seed);

        Outcome outcome = scenario.run(false, true);

        IdChecks.Result result = IdChecks.distinctAndIncreasing(Map.of(scenario.toString(), outcome.ids()));
        assertThat(result.count(IdChecks.Kind.NOT_INCREASING)).as("%s", result).isPositive();
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("fewSeeds")
    void threadsRacingWhileTheClockJumpsAroundNeverGetTheSameId(long seed) throws Exception {
        Scenario scenario = Scenario.random(seed);
        ManualTime time = new ManualTime(START);
        SnowflakeIdGenerator generator = scenario.generator(time, true);
        int threads = 3;
        ExecutorService pool = Executors.newFixedThreadPool(threads + 1);
        AtomicBoolean running = new AtomicBoolean(true);
        try {
            List<Future<long[]>> producers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Random random = new Random(seed * 31 + t);
                producers.add(pool.submit(() -> produce(generator, scenario, random, 3_000)));
            }
            Random chaos = new Random(seed * 31 + threads);
            Future<?> clock = pool.submit(() -> {
                while (running.get()) {
                    scenario.moveClock(time, chaos);
                    Thread.yield();
                }
                return null;
            });
            Map<String, long[]> ids = new LinkedHashMap<>();
            for (int t = 0; t < threads; t++) {
                ids.put("thread " + t + " of " + scenario, producers.get(t).get(60, TimeUnit.SECONDS));
            }
            running.set(false);
            clock.get(10, TimeUnit.SECONDS);

            IdChecks.distinctAndIncreasing(ids).assertNoViolations();
        } finally {
            running.set(false);
            pool.shutdownNow();
            generator.close();
        }
    }

    private static long[] produce(SnowflakeIdGenerator generator, Scenario scenario, Random random, int calls) {
        LongList ids = new LongList();
        for (int i = 0; i < calls; i++) {
            try {
                if (random.nextInt(4) == 0) {
                    ids.addAll(generator.nextIds(1 + random.nextInt(scenario.perTick() * 2)));
                } else {
                    ids.add(generator.nextId());
                }
            } catch (ClockMovedBackwardsException expected) {
                // a step back beyond what the generator waits out: no id, and that is allowed
            }
        }
        return ids.toArray();
    }

    record Outcome(long[] ids, int refused) {}

    /** A random layout and generator configuration, and the random history its clocks go through. */
    static final class Scenario {
        final long seed;
        final SnowflakeLayout layout;
        final int workerId;
        final Duration maxBackwardWait;
        final Duration resyncInterval;
        final Duration maxLogicalLead; // null: strict
        final long unitNanos;

        private Scenario(long seed, SnowflakeLayout layout, int workerId, Duration maxBackwardWait,
                Duration resyncInterval, Duration maxLogicalLead) {
            this.seed = seed;
            this.layout = layout;
            this.workerId = workerId;
            this.maxBackwardWait = maxBackwardWait;
            this.resyncInterval = resyncInterval;
            this.maxLogicalLead = maxLogicalLead;
            this.unitNanos = layout.timeUnit().toNanos();
        }

        static Scenario random(long seed) {
            Random random = new Random(seed);
            Duration unit = Duration.ofMillis(new long[] {1, 2, 5, 10, 100}[random.nextInt(5)]);
            int sequenceBits = 1 + random.nextInt(8);
            int workerBits = random.nextInt(11);
            Instant epoch = START.minus(Duration.ofDays(random.nextInt(3650)));
            long unitsNeeded = Duration.between(epoch, START.plus(Duration.ofDays(3660))).toNanos() / unit.toNanos();
            int timestampBits = Math.min(64 - Long.numberOfLeadingZeros(unitsNeeded) + random.nextInt(3),
                    SnowflakeLayout.MAX_BITS - workerBits - sequenceBits);
            SnowflakeLayout layout = SnowflakeLayout.builder()
                    .epoch(epoch)
                    .timeUnit(unit)
                    .timestampBits(timestampBits)
                    .workerBits(workerBits)
                    .sequenceBits(sequenceBits)
                    .clock(new ManualTime(START).clock())
                    .build();
            Duration maxBackwardWait = Duration.ofMillis(new long[] {0, 1, 10, 50}[random.nextInt(4)]);
            Duration resync = Duration.ofMillis(new long[] {0, 1, 7, 100, 1000}[random.nextInt(5)]);
            Duration lead = random.nextBoolean() ? null : unit.multipliedBy(1 + random.nextInt(50));
            return new Scenario(seed, layout, random.nextInt(layout.maxWorkerIds()), maxBackwardWait, resync, lead);
        }

        int perTick() {
            return layout.maxSequence() + 1;
        }

        /** The real generator, or with {@code guard} false the negative control, {@link NaiveSnowflakeGenerator}. */
        SnowflakeIdGenerator generator(ManualTime time, boolean guard) {
            SnowflakeIdGenerator.Builder builder = time.builder(layout)
                    .workerLease(new TestLease(workerId))
                    .maxBackwardWait(maxBackwardWait)
                    .resyncInterval(guard ? resyncInterval : Duration.ZERO)
                    .persistInterval(Duration.ofHours(1));
            if (maxLogicalLead != null) {
                builder.logicalClock(maxLogicalLead);
            }
            return guard ? builder.build() : NaiveSnowflakeGenerator.of(builder);
        }

        /**
         * Runs 3,000 random steps on one thread: ids, batches, time passing, wall-clock steps both ways
         * (small and large), the ticker stepping back. With {@code forceLargeStepBack}, step 1,500 is a
         * step back of the wall clock beyond any lead and wait, followed by an id.
         */
        Outcome run(boolean guard, boolean forceLargeStepBack) {
            Random random = new Random(seed ^ 0x5DEECE66DL);
            ManualTime time = new ManualTime(START);
            LongList ids = new LongList();
            int refused = 0;
            try (SnowflakeIdGenerator generator = generator(time, guard)) {
                for (int step = 0; step < 3_000; step++) {
                    if (forceLargeStepBack && step == 1_500) {
                        ids.add(generator.nextId());
                        time.stepWall(Duration.ofSeconds(-2).minusNanos(60 * unitNanos));
                        ids.add(generator.nextId());
                        continue;
                    }
                    int dice = random.nextInt(100);
                    try {
                        if (dice < 45) {
                            ids.add(generator.nextId());
                        } else if (dice < 60) {
                            ids.addAll(generator.nextIds(1 + random.nextInt(perTick() * 3)));
                        } else {
                            moveClock(time, random);
                        }
                    } catch (ClockMovedBackwardsException e) {
                        refused++;
                        time.advanceNanos(random.nextLong(unitNanos * 20)); // time goes on while the caller backs off
                    }
                }
            }
            return new Outcome(ids.toArray(), refused);
        }

        void moveClock(ManualTime time, Random random) {
            int dice = random.nextInt(40);
            // on average the clocks move forward; the large steps are symmetric
            if (dice < 20) {
                time.advanceNanos(random.nextLong(unitNanos * 4 + 1));
            } else if (dice < 30) {
                time.stepWall(Duration.ofNanos(-random.nextLong(unitNanos * 10 + 1)));
            } else if (dice < 34) {
                time.stepWall(Duration.ofNanos(random.nextLong(unitNanos * 10 + 1)));
            } else if (dice < 37) {
                time.stepWall(Duration.ofMillis(random.nextInt(4001) - 2000));
            } else {
                time.stepTicker(Duration.ofNanos(-random.nextLong(unitNanos * 5 + 1)));
            }
        }

        @Override
        public String toString() {
            return "seed " + seed + ": " + layout.timestampBits() + "/" + layout.workerBits() + "/"
                    + layout.sequenceBits() + " bits of " + layout.timeUnit() + ", worker " + workerId + ", "
                    + (maxLogicalLead == null ? "strict" : "logical lead " + maxLogicalLead) + ", maxBackwardWait "
                    + maxBackwardWait + ", resync " + resyncInterval;
        }
    }

    /** A growable array of longs, so millions of ids are not boxed. */
    static final class LongList {
        private long[] values = new long[1024];
        private int size;

        void add(long value) {
            if (size == values.length) {
                values = java.util.Arrays.copyOf(values, size * 2);
            }
            values[size++] = value;
        }

        void addAll(long[] more) {
            for (long v : more) {
                add(v);
            }
        }

        long[] toArray() {
            return java.util.Arrays.copyOf(values, size);
        }
    }
}
