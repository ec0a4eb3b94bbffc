package io.distkit.lock.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Bad input is refused with a message naming the argument and the rule, before the backend sees it. */
@DisplayName("Bad arguments")
@SuppressWarnings("DataFlowIssue") // nulls passed on purpose
class EngineArgumentsTest extends EngineTestSupport {

    @Nested
    @DisplayName("lock names")
    class Names {

        @Test
        void aNullNameIsRefused() {
            assertThatNullPointerException().isThrownBy(() -> client.lock(null)).withMessageContaining("lock name");
            assertThat(backend.attempts()).isEmpty();
        }

        @ParameterizedTest(name = "\"{0}\"")
        @ValueSource(strings = {"", " ", "\t\n "})
        void aBlankNameIsRefused(String name) {
            assertThatIllegalArgumentException().isThrownBy(() -> client.lock(name))
                    .withMessageContaining("lock name must not be blank");
        }

        @Test
        void aNameOf201CharactersIsRefused() {
            assertThatIllegalArgumentException().isThrownBy(() -> client.lock("n".repeat(201)))
                    .withMessageContaining("lock name must be at most 200 characters").withMessageContaining("was 201");
        }

        /** Names no backend stores exactly: drivers write an unpaired surrogate as '?', PostgreSQL refuses NUL. */
        @ParameterizedTest(name = "{2}")
        @CsvSource(delimiter = '|', textBlock = """
                a\u0000b          | control characters | U+0000 at index 1 | NUL
                x\u007F           | control characters | U+007F at index 1 | DEL
                \u0085x           | control characters | U+0085 at index 0 | NEL (C1)
                \uD83D            | unpaired surrogates | high surrogate U+D83D at index 0 is unpaired | lone high
                a\uDE00b          | unpaired surrogates | low surrogate U+DE00 at index 1 is unpaired | lone low
                \uDE00\uD83D      | unpaired surrogates | low surrogate U+DE00 at index 0 is unpaired | pair reversed
                \uD83D\uDE00\uD83D | unpaired surrogates | high surrogate U+D83D at index 2 is unpaired | emoji, then a lone high
                """)
        void aNameABackendCannotStoreExactlyIsRefusedWithTheRuleAndThePosition(String name, String rule,
                String where, String label) {
            assertThatIllegalArgumentException().isThrownBy(() -> client.lock(name))
                    .withMessageStartingWith("lock name must").withMessageContaining(rule).withMessageContaining(where);
            assertThat(backend.attempts()).isEmpty();
        }

        @Test
        void aLineBreakInsideANameIsRefused() {
            assertThatIllegalArgumentException().isThrownBy(() -> client.lock("job\nINFO forged log line"))
                    .withMessageContaining("control characters").withMessageContaining("U+000A at index 3");
        }

        @Test
        void awkwardButLegalNamesReachTheBackendAsGivenAndStayDistinct() {
            List<String> names = List.of("A", "a", "x", "x ", "\u00E9", "e\u0301", "\uD83D\uDE00", "\uD83D\uDE01", "?",
                    "\u00A0x", "tab\u2028sep");
            for (String name : names) {
                assertThat(acquire(name).lockName()).isEqualTo(name);
            }
            assertThat(backend.attempts()).extracting(call -> call.request().name()).containsExactlyElementsOf(names);
        }

        @Test
        void aNameOf200CharactersReachesTheBackendWhole() {
            String name = "orders/" + "n".repeat(193);
            LockHandle handle = acquire(name);
            assertThat(handle.lockName()).isEqualTo(name);
            assertThat(backend.attempts()).singleElement()
                    .satisfies(call -> assertThat(call.request().name()).isEqualTo(name));
        }
    }

    @Nested
    @DisplayName("options, waits and listeners")
    class Others {

        @Test
        void nullOptionsAreRefused() {
            assertThatNullPointerException().isThrownBy(() -> client.lock("a", null)).withMessageContaining("options");
        }

        @Test
        void aNegativeWaitIsRefused() {
            DistributedLock lock = client.lock("a");
            assertThatIllegalArgumentException().isThrownBy(() -> lock.tryAcquire(Duration.ofMillis(-1)))
                    .withMessageContaining("wait must not be negative").withMessageContaining("PT-0.001S");
            assertThatIllegalArgumentException().isThrownBy(() -> lock.acquireAsync(Duration.ofSeconds(-3)))
                    .withMessageContaining("wait must not be negative").withMessageContaining("PT-3S");
            assertThat(backend.attempts()).isEmpty();
        }

        @Test
        void aNullWaitIsRefused() {
            DistributedLock lock = client.lock("a");
            assertThatNullPointerException().isThrownBy(() -> lock.acquireAsync(null)).withMessage("wait");
            assertThatNullPointerException().isThrownBy(() -> lock.tryAcquire(null)).withMessage("wait");
            assertThat(backend.attempts()).isEmpty();
        }

        @Test
        void aNullListenerIsRefused() {
            LockHandle handle = acquire("a");
            assertThatNullPointerException().isThrownBy(() -> handle.onLost(null)).withMessage("listener");
        }

        @Test
        void theEngineBuilderChecksItsArguments() {
            assertThatNullPointerException().isThrownBy(() -> LockEngine.builder(null)).withMessage("backend");
            LockEngine.Builder<String> builder = LockEngine.builder(backend);
            assertThatNullPointerException().isThrownBy(() -> builder.ticker(null)).withMessage("ticker");
            assertThatNullPointerException().isThrownBy(() -> builder.scheduler(null)).withMessage("scheduler");
            assertThatIllegalArgumentException().isThrownBy(() -> builder.operationTimeout(Duration.ofSeconds(-1)))
                    .withMessageContaining("operationTimeout must not be negative").withMessageContaining("PT-1S");
            assertThatNullPointerException().isThrownBy(() -> builder.spinWait(null)).withMessage("spinWait");
            assertThatIllegalArgumentException().isThrownBy(() -> builder.spinWait(Duration.ofNanos(-1)))
                    .withMessageContaining("spinWait must be between 0 and 10 ms").withMessageContaining("PT-0.000000001S");
            assertThatIllegalArgumentException().isThrownBy(() -> builder.spinWait(Duration.ofMillis(11)))
                    .withMessageContaining("spinWait must be between 0 and 10 ms").withMessageContaining("PT0.011S");
            assertThat(builder.spinWait(Duration.ZERO)).isSameAs(builder);
            assertThatNullPointerException().isThrownBy(() -> builder.ownerPrefix(null)).withMessage("ownerPrefix");
            for (String bad : java.util.List.of("", "two words", "caf\u00e9", "x".repeat(25))) {
                assertThatIllegalArgumentException().as(bad).isThrownBy(() -> builder.ownerPrefix(bad))
                        .withMessage("ownerPrefix must be 1 to 24 printable ASCII characters without spaces, was '"
                                + bad + "'");
            }
        }

        @Test
        void ownerValuesStartWithTheOwnerPrefixAndStayUniquePerAcquisition() throws Exception {
            String longest = "host-7/" + "9".repeat(17); // 24 characters
            try (LockClient client = LockEngine.builder(backend).ownerPrefix(longest).build()) {
                LockHandle first = client.lock("a").acquire();
                LockHandle second = client.lock("b").acquire();
                java.util.List<String> owners = backend.finishes().stream().map(ScriptedBackend.FinishCall::owner).toList();
                assertThat(owners).hasSize(2).doesNotHaveDuplicates().allSatisfy(owner -> assertThat(owner)
                        .startsWith(longest + "#").hasSizeLessThanOrEqualTo(64));
                first.release();
                second.release();
            }
        }
    }
}
