package io.distkit.id;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import java.io.IOException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class IdExceptionsTest {

    @Test
    void allAreUncheckedUnderOneRoot() {
        assertThat(new ClockMovedBackwardsException(Duration.ofMillis(1)))
                .isInstanceOf(IdGenerationException.class)
                .isInstanceOf(RuntimeException.class);
        assertThat(new WorkerLeaseLostException(1)).isInstanceOf(IdGenerationException.class);
        assertThat(new IdSourceUnavailableException("t", "down", null)).isInstanceOf(IdGenerationException.class);
    }

    @Test
    void rootKeepsMessageAndCause() {
        IOException cause = new IOException("boom");

        IdGenerationException e = new IdGenerationException("failed", cause);

        assertThat(e).hasMessage("failed").hasCause(cause);
        assertThat(new IdGenerationException("alone")).hasMessage("alone").hasNoCause();
    }

    @Test
    void clockJumpIsCarriedAndInTheMessage() {
        ClockMovedBackwardsException e = new ClockMovedBackwardsException(Duration.ofMillis(1500));

        assertThat(e.jump()).isEqualTo(Duration.ofMillis(1500));
        assertThat(e).hasMessageContaining("backwards").hasMessageContaining("1500 ms");
    }

    @Test
    void subMillisecondClockJumpIsShownInNanoseconds() {
        ClockMovedBackwardsException e = new ClockMovedBackwardsException(Duration.ofNanos(250_000), "waiting");

        assertThat(e).hasMessageContaining("250000 ns").hasMessageContaining("waiting");
    }

    @Test
    void nonPositiveClockJumpIsRefused() {
        assertThatIllegalArgumentException()
                .isThrownBy(() -> new ClockMovedBackwardsException(Duration.ZERO))
                .withMessageContaining("jump");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> new ClockMovedBackwardsException(Duration.ofMillis(-3)))
                .withMessageContaining("PT-0.003S");
    }

    @Test
    void lostWorkerIdIsCarriedAndInTheMessage() {
        IllegalStateException cause = new IllegalStateException("session expired");

        WorkerLeaseLostException e = new WorkerLeaseLostException(613, "session expired", cause);

        assertThat(e.workerId()).isEqualTo(613);
        assertThat(e).hasMessageContaining("613").hasMessageContaining("session expired").hasCause(cause);
        assertThat(new WorkerLeaseLostException(42)).hasMessageContaining("42");
    }

    @Test
    void unavailableSourceIsCarriedAndTheMessageSaysWhatToDo() {
        IOException cause = new IOException("connection refused");

        IdSourceUnavailableException e =
                new IdSourceUnavailableException("orders", "allocating a segment timed out after 2 s", cause);

        assertThat(e.source()).isEqualTo("orders");
        assertThat(e)
                .hasMessageContaining("'orders'")
                .hasMessageContaining("timed out after 2 s")
                .hasMessageContaining("retry")
                .hasCause(cause);
    }
}
