package io.distkit.lock.spi;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * How a synchronous call waits out a backend round trip: spin briefly, then park.
 *
 * <p>Parking costs a futex wake-up on the reply and, on a virtual machine, the exit and re-entry of
 * a halted vCPU. Measured on a 2-vCPU VM against a loopback Redis, a parked caller sees a round trip
 * of about 65 µs, a spinning one about 27 µs: the wake-ups cost more than the round trip. A caller
 * whose answers come within tens of microseconds (a loopback or same-rack server) does better to keep
 * its CPU awake for a moment; the JVM's adaptive monitors make the same bet. Three limits keep the
 * bet cheap where it does not pay:
 *
 * <ul>
 *   <li>a spin lasts at most the budget, after which the caller parks as usual;
 *   <li>at most half the processors of the JVM spin at once (none on one processor); the others park
 *       at once;
 *   <li>each call site keeps a moving average of how long its answers took, spinning or parked (each
 *       sample capped at ten budgets), and spins only while that average is within the budget. A far
 *       server or a contended lock stops the spinning after a few calls, and it resumes by itself
 *       when answers get fast again (measured while parked, so no spin is wasted to find out).
 * </ul>
 *
 * Whether a site spins must not be judged by its spins alone: a spin tried now and then from the
 * parked regime meets cold vCPUs and misses even where steady spinning would hit nearly always.
 *
 * <p>The spin only watches a future; it changes nothing about what is waited for or for how long.
 */
final class SpinWait {

    private static final int MAX_SPINNERS = Runtime.getRuntime().availableProcessors() / 2;
    private static final AtomicInteger SPINNERS = new AtomicInteger();
    private static final int SAMPLE_CAP_BUDGETS = 10;
    private static final int AVERAGE_SHIFT = 3; // each answer weighs 1/8

    private final long budgetNanos;
    // Racy on purpose: a lost update only shifts when the next spin is tried.
    private long typicalNanos;

    SpinWait(long budgetNanos) {
        this.budgetNanos = budgetNanos;
    }

    /**
     * Spins until {@code answer} completes or the spin is given up; the caller then waits as usual and
     * reports the answer with {@link #answered}.
     *
     * @return the start of the wait, for {@link #answered}
     */
    long spin(CompletableFuture<?> answer) {
        long start = System.nanoTime();
        if (!wouldSpin() || answer.isDone()) {
            return start;
        }
        if (SPINNERS.incrementAndGet() <= MAX_SPINNERS) {
            while (!answer.isDone() && System.nanoTime() - start < budgetNanos) {
                Thread.onSpinWait();
            }
        }
        SPINNERS.decrementAndGet();
        return start;
    }

    /** Records that the answer waited for since {@code start} (from {@link #spin}) has come. */
    void answered(long start) {
        if (budgetNanos > 0) {
            long took = Math.min(System.nanoTime() - start, SAMPLE_CAP_BUDGETS * budgetNanos);
            typicalNanos += (took - typicalNanos) >> AVERAGE_SHIFT;
        }
    }

    /** Whether the next call would spin (other threads' spins aside). */
    boolean wouldSpin() {
        return budgetNanos > 0 && typicalNanos <= budgetNanos;
    }
}
