package io.distkit.lock.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockHandle;
import java.time.Duration;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
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
        }
    }
}
