package io.distkit.testkit.id;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import io.distkit.id.IdGenerator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.support.descriptor.MethodSource;
import org.junit.platform.testkit.engine.EngineExecutionResults;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Event;

/**
 * A checker that cannot fail proves nothing (docs/failures.md, negative controls): runs
 * {@link IdGeneratorContract} against deliberately broken generators and asserts that the right
 * tests fail, and only those.
 */
class IdNegativeControlTest {

    /** Set only by {@link #run(Class)}, so the broken contracts never run on their own. */
    static final String RUN_BROKEN = "distkit.testkit.id.run-broken-contracts";

    private static final String DISTINCT = "idsFromManyThreadsOnManyGeneratorsAreAllDistinct";
    private static final String DISTINCT_MIXED = "batchesAndSingleIdsFromManyThreadsOnManyGeneratorsAreAllDistinct";
    private static final String REPLACEMENT_DISTINCT = "replacementGeneratorNeverRepeatsIdsOfTheOneItReplaces";
    private static final String REPLACEMENT_ABOVE = "replacementGeneratorStartsAboveEveryIdAcknowledgedBefore";
    private static final String INCREASING_RACING = "idsOneGeneratorReturnsToOneThreadStrictlyIncrease";
    private static final String INCREASING_WHOLE_LIFE = "oneThreadSeesStrictlyIncreasingIdsOverTheGeneratorsWholeLife";

    @Test
    void generatorsWithTheirOwnCountersFailTheDistinctTests() {
        EngineExecutionResults results = run(CollidingGenerators.class);

        assertThat(failedTests(results))
                .contains(DISTINCT, DISTINCT_MIXED, REPLACEMENT_DISTINCT, REPLACEMENT_ABOVE)
                .doesNotContain(INCREASING_RACING, INCREASING_WHOLE_LIFE);
        assertThat(failureMessage(results, DISTINCT))
                .contains("DUPLICATE")
                .containsPattern("id 1 returned 3 times: by generator 0 / thread \\d at #\\d+ and by generator 1 / thread \\d")
                .contains("more DUPLICATE violation(s) not listed");
        assertThat(failureMessage(results, REPLACEMENT_ABOVE)).contains("REWIND_AFTER_RESTART", "first id 1 of");
    }

    @Test
    void generatorsWhoseIdsSometimesDecreaseFailTheIncreasingTests() {
        EngineExecutionResults results = run(DecreasingGenerators.class);

        assertThat(failedTests(results))
                .contains(INCREASING_RACING, INCREASING_WHOLE_LIFE)
                .doesNotContain(DISTINCT, DISTINCT_MIXED, REPLACEMENT_DISTINCT, REPLACEMENT_ABOVE);
        assertThat(failureMessage(results, INCREASING_WHOLE_LIFE))
                .contains("NOT_INCREASING", "the only thread of one generator")
                .containsPattern("ids at #\\d+\\.\\.#\\d+ do not increase: \\d+ > \\d+");
    }

    @Test
    void correctGeneratorPassesEveryTestOfTheContract() {
        EngineExecutionResults results = run(AtomicIdGeneratorContractTest.class);

        assertThat(failedTests(results)).isEmpty();
        assertThat(results.testEvents().skipped().count()).isZero();
        // Guards against a contract that silently runs nothing, e.g. @Nested groups not inherited.
        assertThat(results.testEvents().succeeded().count()).isGreaterThanOrEqualTo(15);
    }

    @Test
    void generatorWithoutOrderingPromiseSkipsOnlyTheOrderingTests() {
        EngineExecutionResults results = run(UnorderedButCorrectGenerators.class);

        assertThat(failedTests(results)).isEmpty();
        assertThat(results.testEvents().skipped().count()).isZero();
        assertThat(results.testEvents().aborted().stream().map(IdNegativeControlTest::methodName))
                .containsExactlyInAnyOrder(INCREASING_RACING, INCREASING_WHOLE_LIFE, REPLACEMENT_ABOVE);
    }

    private static EngineExecutionResults run(Class<?> contract) {
        return EngineTestKit.engine("junit-jupiter")
                .configurationParameter(RUN_BROKEN, "true")
                .selectors(selectClass(contract))
                .execute();
    }

    private static Set<String> failedTests(EngineExecutionResults results) {
        return results.testEvents().failed().stream().map(IdNegativeControlTest::methodName).collect(Collectors.toSet());
    }

    private static String failureMessage(EngineExecutionResults results, String method) {
        List<String> messages = results.testEvents().failed().stream()
                .filter(e -> method.equals(methodName(e)))
                .map(e -> e.getPayload(TestExecutionResult.class)
                        .flatMap(TestExecutionResult::getThrowable)
                        .map(Throwable::getMessage)
                        .orElse(""))
                .toList();
        assertThat(messages).as("failures of %s", method).isNotEmpty();
        return messages.get(0);
    }

    private static String methodName(Event event) {
        return event.getTestDescriptor().getSource()
                .filter(MethodSource.class::isInstance)
                .map(s -> ((MethodSource) s).getMethodName())
                .orElse(event.getTestDescriptor().getDisplayName());
    }

    // --- broken generators: nested static classes, which Surefire does not run by itself --------

    /** Keeps the broken contracts from running except under {@link #run(Class)}. */
    static final class OnlyUnderNegativeControl implements ExecutionCondition {
        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            return context.getConfigurationParameter(RUN_BROKEN).filter("true"::equals).isPresent()
                    ? ConditionEvaluationResult.enabled("run by IdNegativeControlTest")
                    : ConditionEvaluationResult.disabled("broken on purpose; run only by IdNegativeControlTest");
        }
    }

    /** Each generator counts on its own, so two generators return the same ids: not unique. */
    @ExtendWith(OnlyUnderNegativeControl.class)
    static class CollidingGenerators extends IdGeneratorContract {
        @Override
        protected IdGenerator newGenerator() {
            return new AtomicIdGeneratorContractTest.AtomicIdGenerator(new AtomicLong());
        }
    }

    /**
     * Unique ids from one shared counter, but every 1000th call of a thread takes two ids, returns
     * the larger and the smaller one on the thread's next call: each thread sees ids go down.
     */
    @ExtendWith(OnlyUnderNegativeControl.class)
    static class DecreasingGenerators extends IdGeneratorContract {
        private final AtomicLong source = new AtomicLong();

        @Override
        protected IdGenerator newGenerator() {
            return new DecreasingGenerator(source);
        }
    }

    /** Correct but unordered: the ordering tests must be skipped, not failed. */
    @ExtendWith(OnlyUnderNegativeControl.class)
    static class UnorderedButCorrectGenerators extends DecreasingGenerators {
        @Override
        protected boolean increasingPerGenerator() {
            return false;
        }
    }

    static final class DecreasingGenerator implements IdGenerator {
        private final AtomicLong source;
        // [calls so far, id held back for the next call or 0]; per thread, so no locking is needed
        private final ThreadLocal<long[]> state = ThreadLocal.withInitial(() -> new long[2]);

        DecreasingGenerator(AtomicLong source) {
            this.source = source;
        }

        @Override
        public long nextId() {
            long[] s = state.get();
            if (s[1] != 0) {
                long heldBack = s[1];
                s[1] = 0;
                return heldBack;
            }
            if (++s[0] % 1000 == 0) {
                s[1] = source.incrementAndGet();
                return source.incrementAndGet();
            }
            return source.incrementAndGet();
        }
    }
}
