package io.distkit.id.snowflake;

import static io.distkit.id.snowflake.SnowflakeLayout.SONYFLAKE;
import static io.distkit.id.snowflake.SnowflakeLayout.TWITTER;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import java.time.Duration;
import java.time.Instant;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every refusal of {@link SnowflakeIdGenerator.Builder}, and the message that names the culprit. */
class SnowflakeGeneratorBuilderTest {

    private final ManualTime time = new ManualTime(Instant.parse("2026-11-25T10:00:00Z"));

    private SnowflakeIdGenerator.Builder builder() {
        return time.builder(TWITTER).resyncInterval(SnowflakeIdGenerator.DEFAULT_RESYNC_INTERVAL);
    }

    static Stream<Arguments> badDurations() {
        return Stream.of(
                Arguments.of("maxBackwardWait", (Consumer<SnowflakeIdGenerator.Builder>) b -> b.maxBackwardWait(Duration.ofMillis(-1)), "PT-0.001S"),
                Arguments.of("maxBackwardWait", (Consumer<SnowflakeIdGenerator.Builder>) b -> b.maxBackwardWait(Duration.ofSeconds(11)), "PT11S"),
                Arguments.of("maxLogicalLead", (Consumer<SnowflakeIdGenerator.Builder>) b -> b.logicalClock(Duration.ZERO), "PT0S"),
                Arguments.of("maxLogicalLead", (Consumer<SnowflakeIdGenerator.Builder>) b -> b.logicalClock(Duration.ofMinutes(61)), "PT1H1M"),
                Arguments.of("maxStartupWait", (Consumer<SnowflakeIdGenerator.Builder>) b -> b.maxStartupWait(Duration.ofNanos(-1)), "PT-0.000000001S"),
                Arguments.of("maxStartupWait", (Consumer<SnowflakeIdGenerator.Builder>) b -> b.maxStartupWait(Duration.ofMinutes(11)), "PT11M"),
                Arguments.of("resyncInterval", (Consumer<SnowflakeIdGenerator.Builder>) b -> b.resyncInterval(Duration.ofSeconds(-1)), "PT-1S"),
                Arguments.of("resyncInterval", (Consumer<SnowflakeIdGenerator.Builder>) b -> b.resyncInterval(Duration.ofHours(2)), "PT2H"),
                Arguments.of("persistInterval", (Consumer<SnowflakeIdGenerator.Builder>) b -> b.persistInterval(Duration.ZERO), "PT0S"),
                Arguments.of("persistInterval", (Consumer<SnowflakeIdGenerator.Builder>) b -> b.persistInterval(Duration.ofHours(2)), "PT2H"));
    }

    @ParameterizedTest(name = "{0} = {2}")
    @MethodSource("badDurations")
    void durationsOutOfRangeAreRefusedNamingTheSettingAndTheValue(String name,
            Consumer<SnowflakeIdGenerator.Builder> setter, String value) {
        assertThatIllegalArgumentException()
                .isThrownBy(() -> setter.accept(builder()))
                .withMessageStartingWith(name + " must be between")
                .withMessageEndingWith(", was " + value);
    }

    @Test
    void aLogicalLeadShorterThanOneTimeUnitOfTheLayoutIsRefused() {
        assertThatIllegalArgumentException()
                .isThrownBy(() -> SnowflakeIdGenerator.builder(SONYFLAKE).logicalClock(Duration.ofMillis(5)))
                .withMessage("maxLogicalLead must be between PT0.01S and PT1H, was PT0.005S");
    }

    @Test
    void nullsAreRefusedNamingTheArgument() {
        assertThatNullPointerException().isThrownBy(() -> SnowflakeIdGenerator.builder(null)).withMessage("layout");
        assertThatNullPointerException().isThrownBy(() -> builder().workerLease(null)).withMessage("workerLease");
        assertThatNullPointerException().isThrownBy(() -> builder().workerIdAssigner(null)).withMessage("workerIdAssigner");
        assertThatNullPointerException().isThrownBy(() -> builder().clock(null)).withMessage("clock");
        assertThatNullPointerException().isThrownBy(() -> builder().ticker(null)).withMessage("ticker");
        assertThatNullPointerException().isThrownBy(() -> builder().maxBackwardWait(null)).withMessage("maxBackwardWait");
        assertThatNullPointerException().isThrownBy(() -> builder().logicalClock(null)).withMessage("maxLogicalLead");
        assertThatNullPointerException().isThrownBy(() -> builder().maxStartupWait(null)).withMessage("maxStartupWait");
        assertThatNullPointerException().isThrownBy(() -> builder().resyncInterval(null)).withMessage("resyncInterval");
        assertThatNullPointerException().isThrownBy(() -> builder().persistInterval(null)).withMessage("persistInterval");
    }

    @Test
    void aWorkerIdSourceIsRequiredAndOnlyOne() {
        assertThatIllegalStateException()
                .isThrownBy(() -> builder().build())
                .withMessageContaining("a worker id source is required")
                .withMessageContaining("workerLease(WorkerLease)")
                .withMessageContaining("workerIdAssigner(WorkerIdAssigner)");
        assertThatIllegalStateException()
                .isThrownBy(() -> builder().workerLease(new TestLease(1)).workerIdAssigner(StaticWorkerIdAssigner.of(1)).build())
                .withMessage("set either workerLease or workerIdAssigner, not both");
    }

    @Test
    void aWorkerIdOutsideTheLayoutIsRefused() {
        assertThatIllegalArgumentException()
                .isThrownBy(() -> builder().workerLease(new TestLease(1024)).build())
                .withMessage("workerId must be in [0, 1024) for 10 worker bits, was 1024");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> builder().workerLease(new TestLease(-1)).build())
                .withMessageEndingWith("was -1");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> builder().workerIdAssigner(StaticWorkerIdAssigner.of(5000)).build())
                .withMessage("workerId must be in [0, 1024) (maxWorkerIds of the layout), was 5000");
    }

    @Test
    void aLayoutThatRunsOutWithinTenYearsOfTheGeneratorsClockIsRefused() {
        ManualTime late = new ManualTime(Instant.parse("2075-01-01T00:00:00Z"));

        assertThatIllegalArgumentException()
                .isThrownBy(() -> SnowflakeIdGenerator.builder(TWITTER).clock(late.clock()).ticker(late.ticker())
                        .workerLease(new TestLease(1)).build())
                .withMessageContaining("timestampBits 41 of PT0.001S from epoch 2010-11-04T01:42:54.657Z run out at"
                        + " 2080-07-10T17:30:30.209Z, less than 10 years after now (2075-01-01T00:00:00Z)");
    }

    @Test
    void aClockBeforeTheLayoutsEpochIsRefused() {
        ManualTime early = new ManualTime(Instant.parse("2009-01-01T00:00:00Z"));

        assertThatIllegalArgumentException()
                .isThrownBy(() -> SnowflakeIdGenerator.builder(TWITTER).clock(early.clock()).ticker(early.ticker())
                        .workerLease(new TestLease(1)).build())
                .withMessage("epoch must not be in the future, was 2010-11-04T01:42:54.657Z, now is 2009-01-01T00:00:00Z");
    }

    @Test
    void aValidBuilderBuildsAWorkingGenerator() {
        try (SnowflakeIdGenerator generator = builder().workerLease(new TestLease(1))
                .maxBackwardWait(Duration.ZERO)
                .logicalClock(Duration.ofMillis(1))
                .maxStartupWait(Duration.ZERO)
                .resyncInterval(Duration.ZERO)
                .persistInterval(Duration.ofMillis(1))
                .build()) {
            assertThat(generator.nextId()).isPositive();
            assertThat(generator.toString()).contains("worker id 1", "logical, maxLogicalLead PT0.001S");
        }
    }
}
