package io.distkit.lock.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class SpinWaitTest {

    private static final long BUDGET = TimeUnit.MICROSECONDS.toNanos(50);

    @BeforeEach
    void needsTwoProcessors() {
        assumeTrue(Runtime.getRuntime().availableProcessors() >= 2, "one processor never spins");
    }

    @Test
    void aSpinEndsWhenTheAnswerArrives() throws Exception {
        SpinWait spin = new SpinWait(TimeUnit.SECONDS.toNanos(5));
        CompletableFuture<String> answer = new CompletableFuture<>();
        Thread answerer = new Thread(() -> answer.complete("ok"));
        long start = System.nanoTime();
        answerer.start();
        spin.spin(answer);
        long spun = System.nanoTime() - start;
        answerer.join(5_000);

        assertThat(answer).isDone();
        assertThat(spun).as("the spin returned when the answer came, far inside its 5 s budget")
                .isLessThan(TimeUnit.SECONDS.toNanos(2));
    }

    @Test
    void aSpinGivesUpAtItsBudget() {
        SpinWait spin = new SpinWait(BUDGET);
        long start = System.nanoTime();
        spin.spin(new CompletableFuture<>());
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(BUDGET).isLessThan(TimeUnit.SECONDS.toNanos(1));
    }

    @Test
    void aWindowOfMissesParksTheSiteForLongerAndLongerUpToTheCap() {
        SpinWait spin = new SpinWait(BUDGET);
        int expectedParking = SpinWait.WINDOW;
        for (int round = 0; round < 8; round++) {
            assertThat(missWindow(spin)).as("round %d: spins in the window", round).isEqualTo(SpinWait.WINDOW);
            assertThat(parkedCalls(spin)).as("round %d: calls parked at once", round).isEqualTo(expectedParking);
            expectedParking = Math.min(SpinWait.MAX_PARKED, expectedParking * 2);
        }
        assertThat(expectedParking).isEqualTo(SpinWait.MAX_PARKED);
    }

    @Test
    void aGoodWindowResetsTheParkingToItsShortest() {
        SpinWait spin = new SpinWait(BUDGET);
        missWindow(spin);
        parkedCalls(spin);
        missWindow(spin);
        assertThat(parkedCalls(spin)).isEqualTo(2 * SpinWait.WINDOW);

        for (int i = 0; i < SpinWait.WINDOW; i++) {
            spin.spin(i % 2 == 0 ? new AnsweredWhileSpinning() : new CompletableFuture<>()); // half hit: good enough
        }
        assertThat(spin.wouldSpin()).isTrue();
        missWindow(spin);
        assertThat(parkedCalls(spin)).isEqualTo(SpinWait.WINDOW);
    }

    @Test
    void answersAlreadyThereAreNotJudged() {
        SpinWait spin = new SpinWait(BUDGET);
        for (int i = 0; i < 10 * SpinWait.WINDOW; i++) {
            spin.spin(CompletableFuture.completedFuture("before the spin"));
        }
        assertThat(missWindow(spin)).as("the window still starts empty").isEqualTo(SpinWait.WINDOW);
    }

    @Test
    void aZeroBudgetNeverSpins() {
        SpinWait spin = new SpinWait(0);
        assertThat(spin.wouldSpin()).isFalse();
        long start = System.nanoTime();
        spin.spin(new CompletableFuture<>());
        assertThat(System.nanoTime() - start).isLessThan(TimeUnit.MILLISECONDS.toNanos(100));
    }

    /** Spins on unanswered calls until the site stops spinning; returns how many spins that took. */
    private static int missWindow(SpinWait spin) {
        int spins = 0;
        while (spin.wouldSpin()) {
            spin.spin(new CompletableFuture<>());
            spins++;
            assertThat(spins).isLessThanOrEqualTo(SpinWait.WINDOW);
        }
        return spins;
    }

    /** Calls while the site parks at once; returns how many calls that was. */
    private static int parkedCalls(SpinWait spin) {
        int calls = 0;
        while (!spin.wouldSpin()) {
            spin.spin(new CompletableFuture<>());
            calls++;
            assertThat(calls).isLessThanOrEqualTo(SpinWait.MAX_PARKED);
        }
        return calls;
    }

    /** Not done when the spin starts, done at its first look: an answer that arrives during the spin. */
    private static final class AnsweredWhileSpinning extends CompletableFuture<String> {
        private int looks;

        @Override
        public boolean isDone() {
            if (++looks == 2) {
                complete("answered");
            }
            return super.isDone();
        }
    }
}
