package io.distkit.lock.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class SpinWaitTest {

    private static final long BUDGET = TimeUnit.MICROSECONDS.toNanos(200);

    @Test
    void aSpinEndsWhenTheAnswerArrives() throws Exception {
        assumeTrue(Runtime.getRuntime().availableProcessors() >= 2, "one processor never spins");
        SpinWait spin = new SpinWait(TimeUnit.SECONDS.toNanos(5));
        CompletableFuture<String> answer = new CompletableFuture<>();
        Thread answerer = new Thread(() -> answer.complete("ok"));
        answerer.start();
        long start = spin.spin(answer);
        long spun = System.nanoTime() - start;
        answerer.join(5_000);

        assertThat(answer).isDone();
        assertThat(spun).as("the spin returned when the answer came, far inside its 5 s budget")
                .isLessThan(TimeUnit.SECONDS.toNanos(2));
    }

    @Test
    void aSpinGivesUpAtItsBudget() {
        assumeTrue(Runtime.getRuntime().availableProcessors() >= 2, "one processor never spins");
        SpinWait spin = new SpinWait(BUDGET);
        long start = spin.spin(new CompletableFuture<>());
        long spun = System.nanoTime() - start;

        assertThat(spun).isGreaterThanOrEqualTo(BUDGET).isLessThan(TimeUnit.SECONDS.toNanos(1));
    }

    @Test
    void slowAnswersStopTheSpinningAndFastOnesBringItBack() {
        SpinWait spin = new SpinWait(BUDGET);
        assertThat(spin.wouldSpin()).as("a new call site spins").isTrue();

        int slow = 0;
        while (spin.wouldSpin()) { // a far server: each answer takes ten budgets (the cap)
            spin.answered(System.nanoTime() - 20 * BUDGET);
            slow++;
        }
        assertThat(slow).as("slow answers it took to stop").isBetween(1, 3);

        int fast = 0;
        while (!spin.wouldSpin()) { // answers now come at once (seen while parked)
            spin.answered(System.nanoTime());
            fast++;
            assertThat(fast).as("a capped sample must not stop the spinning for long").isLessThan(30);
        }
        assertThat(fast).isGreaterThan(1);
    }

    @Test
    void oneLongWaitDoesNotStopTheSpinningForGood() {
        SpinWait spin = new SpinWait(BUDGET);
        spin.answered(System.nanoTime() - TimeUnit.SECONDS.toNanos(30)); // a contended acquire
        assertThat(spin.wouldSpin()).isFalse();
        for (int i = 0; i < 30; i++) {
            spin.answered(System.nanoTime() - BUDGET / 4);
        }
        assertThat(spin.wouldSpin()).isTrue();
    }

    @Test
    void answersNearTheBudgetKeepItSpinning() {
        SpinWait spin = new SpinWait(BUDGET);
        for (int i = 0; i < 100; i++) {
            spin.answered(System.nanoTime() - BUDGET * 3 / 4);
        }
        assertThat(spin.wouldSpin()).isTrue();
    }

    @Test
    void aZeroBudgetNeverSpins() {
        SpinWait spin = new SpinWait(0);
        assertThat(spin.wouldSpin()).isFalse();
        long start = spin.spin(new CompletableFuture<>());
        assertThat(System.nanoTime() - start).isLessThan(TimeUnit.MILLISECONDS.toNanos(100));
    }
}
