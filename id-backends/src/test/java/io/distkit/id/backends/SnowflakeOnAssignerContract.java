package io.distkit.id.backends;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.id.ClockMovedBackwardsException;
import io.distkit.id.IdGenerator;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.snowflake.SnowflakeIdGenerator;
import io.distkit.id.snowflake.SnowflakeLayout;
import io.distkit.id.snowflake.StaticWorkerIdAssigner;
import io.distkit.testkit.id.IdChecks;
import java.time.Clock;
import java.time.Duration;
import io.distkit.testkit.id.IdGeneratorContract;
import java.util.IdentityHashMap;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The id contract for snowflake generators whose worker ids come from a store: each generator leases its
 * worker id through an assigner of its own (its own connection, as a separate process would), and closing the
 * generator closes that assigner, which gives the worker id back with its mark.
 */
public abstract class SnowflakeOnAssignerContract extends IdGeneratorContract {

    /** The mark's rhythm: a replacement waits up to two of these for a mark saved ahead of the time. */
    static final Duration PERSIST_INTERVAL = Duration.ofMillis(100);

    private final Map<IdGenerator, WorkerIdAssigner> assigners = new IdentityHashMap<>();

    /** A new assigner on the shared store. */
    protected abstract WorkerIdAssigner newAssigner();

    @Override
    protected IdGenerator newGenerator() {
        WorkerIdAssigner assigner = newAssigner();
        try {
            SnowflakeIdGenerator generator = SnowflakeIdGenerator.builder(SnowflakeLayout.TWITTER)
                    .workerIdAssigner(assigner).persistInterval(PERSIST_INTERVAL).build();
            synchronized (assigners) {
                assigners.put(generator, assigner);
            }
            return generator;
        } catch (RuntimeException e) {
            assigner.close();
            throw e;
        }
    }

    @Test
    @DisplayName("F21: a successor whose clock is behind its predecessor's mark refuses to start, or waits until it passed it; negative control without the mark rewinds")
    void successorWithTheClockBehindTheMarkRefusesOrWaits() {
        Duration ahead = Duration.ofMillis(1500);
        WorkerIdAssigner first = newAssigner();
        long[] before;
        int workerId;
        try (SnowflakeIdGenerator predecessor = SnowflakeIdGenerator.builder(SnowflakeLayout.TWITTER)
                .workerIdAssigner(first).clock(Clock.offset(Clock.systemUTC(), ahead))
                .persistInterval(Duration.ofMillis(100)).build()) {
            before = predecessor.nextIds(5_000);
            workerId = SnowflakeLayout.TWITTER.decode(before[0]).worker();
        } finally {
            first.close();
        }
        // the control, at once: the same worker id without the store's mark starts below the predecessor's ids
        try (SnowflakeIdGenerator unmarked = SnowflakeIdGenerator.builder(SnowflakeLayout.TWITTER)
                .workerIdAssigner(StaticWorkerIdAssigner.of(workerId)).build()) {
            long firstUnmarked = unmarked.nextId();
            assertThat(IdChecks.noRewindAfterRestart(Map.of("predecessor", before), "unmarked", firstUnmarked)
                    .count(IdChecks.Kind.REWIND_AFTER_RESTART)).isEqualTo(1);
        }
        WorkerIdAssigner second = newAssigner();
        try {
            assertThatThrownBy(() -> SnowflakeIdGenerator.builder(SnowflakeLayout.TWITTER).workerIdAssigner(second)
                    .maxStartupWait(Duration.ZERO).build())
                    .as("the clock is %s behind the mark: no wait allowed, so no start", ahead)
                    .isInstanceOf(ClockMovedBackwardsException.class);
            long[] after;
            try (SnowflakeIdGenerator successor = SnowflakeIdGenerator.builder(SnowflakeLayout.TWITTER)
                    .workerIdAssigner(second).maxStartupWait(Duration.ofSeconds(10)).build()) {
                after = successor.nextIds(100);
                assertThat(SnowflakeLayout.TWITTER.decode(after[0]).worker()).as("the same worker id again").isEqualTo(workerId);
            }
            IdChecks.noRewindAfterRestart(Map.of("predecessor", before), "successor", after[0])
                    .and(IdChecks.distinct(Map.of("predecessor", before, "successor", after))).assertNoViolations();
        } finally {
            second.close();
        }
    }

    @Override
    protected void closeGenerator(IdGenerator generator) throws Exception {
        WorkerIdAssigner assigner;
        synchronized (assigners) {
            assigner = assigners.remove(generator);
        }
        try {
            super.closeGenerator(generator);
        } finally {
            if (assigner != null) {
                assigner.close();
            }
        }
    }
}
