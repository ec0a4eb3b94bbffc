package io.distkit.id.snowflake;

import static io.distkit.id.snowflake.SnowflakeLayout.JS_SAFE;
import static io.distkit.id.snowflake.SnowflakeLayout.SONYFLAKE;
import static io.distkit.id.snowflake.SnowflakeLayout.TWITTER;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class SnowflakeLayoutTest {

    static final Clock NOW = Clock.fixed(Instant.parse("2026-11-25T10:00:00Z"), ZoneOffset.UTC);

    static Stream<SnowflakeLayout> presets() {
        return Stream.of(TWITTER, SONYFLAKE, JS_SAFE);
    }

    @Nested
    class Presets {

        @Test
        void twitterIs41Of1MsThen10Then12FromTwittersEpoch() {
            assertThat(TWITTER.epoch()).isEqualTo(Instant.parse("2010-11-04T01:42:54.657Z"));
            assertThat(TWITTER.timeUnit()).isEqualTo(Duration.ofMillis(1));
            assertThat(new int[] {TWITTER.timestampBits(), TWITTER.workerBits(), TWITTER.sequenceBits()})
                    .containsExactly(41, 10, 12);
            assertThat(TWITTER.maxWorkerIds()).isEqualTo(1024);
            assertThat(TWITTER.maxSequence()).isEqualTo(4095);
            assertThat(TWITTER.maxIdsPerSecond()).isEqualTo(4_096_000);
            assertThat(TWITTER.endOfLife()).isEqualTo(Instant.parse("2080-07-10T17:30:30.209Z"));
            assertThat(TWITTER.maxId()).isEqualTo(Long.MAX_VALUE);
        }

        @Test
        void sonyflakeIs39Of10MsThen16Then8() {
            assertThat(SONYFLAKE.epoch()).isEqualTo(Instant.parse("2014-09-01T00:00:00Z"));
            assertThat(SONYFLAKE.timeUnit()).isEqualTo(Duration.ofMillis(10));
            assertThat(new int[] {SONYFLAKE.timestampBits(), SONYFLAKE.workerBits(), SONYFLAKE.sequenceBits()})
                    .containsExactly(39, 16, 8);
            assertThat(SONYFLAKE.maxWorkerIds()).isEqualTo(65_536);
            assertThat(SONYFLAKE.maxIdsPerSecond()).isEqualTo(25_600);
            assertThat(SONYFLAKE.endOfLife()).isEqualTo(Instant.parse("2188-11-16T03:28:58.880Z"));
        }

        @Test
        void jsSafeFitsIn53BitsAndLastsOver40YearsAsDocumented() {
            assertThat(JS_SAFE.maxBits()).isEqualTo(53);
            assertThat(JS_SAFE.totalBits()).isEqualTo(53);
            assertThat(JS_SAFE.maxId()).isEqualTo((1L << 53) - 1).isEqualTo(9_007_199_254_740_991L);
            assertThat(JS_SAFE.encode(JS_SAFE.maxTimestamp(), JS_SAFE.maxWorkerIds() - 1, JS_SAFE.maxSequence()))
                    .isEqualTo((1L << 53) - 1);
            assertThat(JS_SAFE.maxWorkerIds()).isEqualTo(64);
            assertThat(JS_SAFE.maxIdsPerSecond()).isEqualTo(102_400);
            assertThat(JS_SAFE.endOfLife()).isEqualTo(Instant.parse("2067-07-21T06:52:14.720Z"));
            assertThat(Duration.between(JS_SAFE.epoch(), JS_SAFE.endOfLife()).toDays() / 365.2425).isGreaterThan(43.5);
        }

        @ParameterizedTest(name = "{0}")
        @MethodSource("io.distkit.id.snowflake.SnowflakeLayoutTest#presets")
        void everyPresetPassesTheBuildersChecksToday(SnowflakeLayout preset) {
            assertThat(preset.toBuilder().clock(NOW).build()).isEqualTo(preset).hasSameHashCodeAs(preset);
        }

        @ParameterizedTest(name = "{0}")
        @MethodSource("io.distkit.id.snowflake.SnowflakeLayoutTest#presets")
        void decodeGivesBackWhatEncodeWasGivenForEveryPreset(SnowflakeLayout preset) {
            Random random = new Random(42);
            long[][] fields = {
                {0, 0, 0},
                {preset.maxTimestamp(), preset.maxWorkerIds() - 1, preset.maxSequence()},
                {1, 0, preset.maxSequence()},
                {preset.maxTimestamp(), 0, 0},
            };
            for (long[] f : fields) {
                roundTrip(preset, f[0], (int) f[1], (int) f[2]);
            }
            for (int i = 0; i < 10_000; i++) {
                roundTrip(preset, random.nextLong(preset.maxTimestamp() + 1), random.nextInt(preset.maxWorkerIds()),
                        random.nextInt(preset.maxSequence() + 1));
            }
        }

        private void roundTrip(SnowflakeLayout layout, long timestamp, int worker, int sequence) {
            long id = layout.encode(timestamp, worker, sequence);
            SnowflakeLayout.Decoded decoded = layout.decode(id);
            assertThat(id).isBetween(0L, layout.maxId());
            assertThat(decoded).isEqualTo(new SnowflakeLayout.Decoded(
                    layout.epoch().plus(layout.timeUnit().multipliedBy(timestamp)), timestamp, worker, sequence));
            assertThat(layout.timestampOf(decoded.time())).isEqualTo(timestamp);
            assertThat(layout.instantOf(timestamp)).isEqualTo(decoded.time());
        }

        @Test
        void toStringNamesThePresetAndItsFields() {
            assertThat(TWITTER.toString()).isEqualTo(
                    "TWITTER SnowflakeLayout[41/10/12 bits of 63, unit PT0.001S, epoch 2010-11-04T01:42:54.657Z]");
            assertThat(TWITTER.toBuilder().clock(NOW).build().toString()).startsWith("SnowflakeLayout[41/10/12");
        }
    }

    @Nested
    class Fields {

        @Test
        void timestampOfRoundsDownToWholeUnits() {
            Instant t = SONYFLAKE.epoch().plusMillis(12_345);

            assertThat(SONYFLAKE.timestampOf(t)).isEqualTo(1_234);
            assertThat(SONYFLAKE.instantOf(1_234)).isEqualTo(SONYFLAKE.epoch().plusMillis(12_340));
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> SONYFLAKE.timestampOf(SONYFLAKE.epoch().minusNanos(1)))
                    .withMessage("time must not be before the epoch 2014-09-01T00:00:00Z, was 2014-08-31T23:59:59.999999999Z");
        }

        @Test
        void encodeRefusesEachFieldOutOfRangeByName() {
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> TWITTER.encode(-1, 0, 0))
                    .withMessage("timestampUnits must be between 0 and 2199023255551 (maxTimestamp), was -1");
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> TWITTER.encode(1L << 41, 0, 0))
                    .withMessageEndingWith("was 2199023255552");
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> TWITTER.encode(0, 1024, 0))
                    .withMessage("workerId must be in [0, 1024) for 10 worker bits, was 1024");
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> TWITTER.encode(0, 0, 4096))
                    .withMessage("sequence must be between 0 and 4095 (maxSequence), was 4096");
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> TWITTER.encode(0, 0, -1))
                    .withMessageEndingWith("was -1");
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> TWITTER.instantOf(-5))
                    .withMessageStartingWith("timestampUnits must be between 0 and");
        }

        @Test
        void decodeRefusesNegativeIdsAndIdsWiderThanTheLayout() {
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> TWITTER.decode(-1))
                    .withMessage("id must be between 0 and 9223372036854775807 (63 bits of this layout), was -1");
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> JS_SAFE.decode(1L << 53))
                    .withMessage("id must be between 0 and 9007199254740991 (53 bits of this layout), was 9007199254740992");
        }

        @Test
        void anEndOfLifeBeyondWhatInstantHoldsIsInstantMax() {
            SnowflakeLayout eternal = SnowflakeLayout.builder().epoch(Instant.EPOCH).timeUnit(Duration.ofDays(1))
                    .timestampBits(62).workerBits(0).sequenceBits(1).clock(NOW).build();

            assertThat(eternal.endOfLife()).isEqualTo(Instant.MAX);
            assertThat(eternal.maxWorkerIds()).isEqualTo(1);
            assertThat(eternal.maxIdsPerSecond()).isZero(); // 2 ids a day, rounded down
        }

        @Test
        void maxIdsPerSecondOfAnUnevenUnitIsRoundedDown() {
            SnowflakeLayout layout = TWITTER.toBuilder().timeUnit(Duration.ofNanos(1_500_000)).clock(NOW).build();

            assertThat(layout.maxIdsPerSecond()).isEqualTo(2_730_666);
        }
    }

    @Nested
    class BuilderChecks {

        private SnowflakeLayout.Builder valid() {
            return SnowflakeLayout.builder().epoch(Instant.parse("2026-01-01T00:00:00Z")).clock(NOW);
        }

        @Test
        void theDefaultsAreTwittersBitsIn1MsUnits() {
            SnowflakeLayout layout = valid().build();

            assertThat(layout.timeUnit()).isEqualTo(SnowflakeLayout.DEFAULT_TIME_UNIT);
            assertThat(layout.totalBits()).isEqualTo(63);
            assertThat(layout).isNotEqualTo(TWITTER).isEqualTo(valid().build());
        }

        @Test
        void theEpochIsRequired() {
            assertThatIllegalStateException()
                    .isThrownBy(() -> SnowflakeLayout.builder().build())
                    .withMessageStartingWith("epoch is required");
            assertThatNullPointerException().isThrownBy(() -> SnowflakeLayout.builder().epoch(null)).withMessage("epoch");
        }

        @Test
        void anEpochBefore1970IsRefused() {
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> SnowflakeLayout.builder().epoch(Instant.parse("1969-12-31T23:59:59Z")))
                    .withMessage("epoch must not be before 1970-01-01T00:00:00Z, was 1969-12-31T23:59:59Z");
        }

        @Test
        void anEpochInTheFutureIsRefused() {
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> valid().epoch(Instant.parse("2026-11-25T10:00:00.001Z")).build())
                    .withMessage("epoch must not be in the future, was 2026-11-25T10:00:00.001Z, now is 2026-11-25T10:00:00Z");
        }

        @Test
        void timeUnitsOutsideOneMillisecondToOneDayAreRefused() {
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> valid().timeUnit(Duration.ofNanos(999_999)))
                    .withMessage("timeUnit must be between PT0.001S and PT24H, was PT0.000999999S");
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> valid().timeUnit(Duration.ofHours(25)))
                    .withMessage("timeUnit must be between PT0.001S and PT24H, was PT25H");
            assertThatNullPointerException().isThrownBy(() -> valid().timeUnit(null)).withMessage("timeUnit");
        }

        @Test
        void eachBitCountOutOfItsRangeIsRefusedByName() {
            assertThatIllegalArgumentException().isThrownBy(() -> valid().timestampBits(0))
                    .withMessage("timestampBits must be between 1 and 62, was 0");
            assertThatIllegalArgumentException().isThrownBy(() -> valid().timestampBits(63))
                    .withMessage("timestampBits must be between 1 and 62, was 63");
            assertThatIllegalArgumentException().isThrownBy(() -> valid().workerBits(-1))
                    .withMessage("workerBits must be between 0 and 30, was -1");
            assertThatIllegalArgumentException().isThrownBy(() -> valid().workerBits(31))
                    .withMessage("workerBits must be between 0 and 30, was 31");
            assertThatIllegalArgumentException().isThrownBy(() -> valid().sequenceBits(0))
                    .withMessage("sequenceBits must be between 1 and 31, was 0");
            assertThatIllegalArgumentException().isThrownBy(() -> valid().sequenceBits(32))
                    .withMessage("sequenceBits must be between 1 and 31, was 32");
            assertThatIllegalArgumentException().isThrownBy(() -> valid().maxBits(64))
                    .withMessage("maxBits must be between 3 and 63, was 64");
            assertThatIllegalArgumentException().isThrownBy(() -> valid().maxBits(2))
                    .withMessage("maxBits must be between 3 and 63, was 2");
        }

        @Test
        void bitsThatDoNotFit63AreRefusedWithTheSum() {
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> valid().sequenceBits(13).build())
                    .withMessage("timestampBits + workerBits + sequenceBits must be at most 63 (maxBits), was 41 + 10 + 13 = 64");
        }

        @Test
        void bitsThatDoNotFit53AreRefusedForAJavaScriptSafeLayout() {
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> valid().jsSafe().timestampBits(38).workerBits(6).sequenceBits(10).build())
                    .withMessage("timestampBits + workerBits + sequenceBits must be at most 53 (maxBits), was 38 + 6 + 10 = 54");
            assertThat(valid().jsSafe().timeUnit(Duration.ofMillis(10)).timestampBits(37).workerBits(6).sequenceBits(10)
                    .build().maxId()).isEqualTo((1L << 53) - 1);
        }

        @Test
        void aLayoutThatRunsOutWithinTenYearsIsRefused() {
            // 2^38 ms is 8.7 years
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> valid().timestampBits(38).build())
                    .withMessage("timestampBits 38 of PT0.001S from epoch 2026-01-01T00:00:00Z run out at"
                            + " 2034-09-17T10:58:26.944Z, less than 10 years after now (2026-11-25T10:00:00Z); use more"
                            + " timestampBits, a longer timeUnit or a later epoch");
            // the same bits in 10 ms units last 87 years
            assertThat(valid().timestampBits(38).timeUnit(Duration.ofMillis(10)).build().endOfLife())
                    .isAfter(Instant.parse("2110-01-01T00:00:00Z"));
        }

        @Test
        void anOldEpochCanExhaustALayoutThatWouldLastFromToday() {
            // uid-generator's trap: 28 bits of seconds from 2016 ran out in 2024
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> SnowflakeLayout.builder().epoch(Instant.parse("2016-05-20T00:00:00Z"))
                            .timeUnit(Duration.ofSeconds(1)).timestampBits(28).workerBits(22).sequenceBits(13)
                            .clock(NOW).build())
                    .withMessageContaining("run out at 2024-11-20T21:24:16Z")
                    .withMessageContaining("less than 10 years after now");
        }
    }
}
