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
 *   <li>a spin lasts at most the budget, after which the caller parks as usual, and it yields its
 *       CPU on every turn, so a thread queued behind it (often the very one that will answer) runs;
 *   <li>at most half the processors of the JVM spin at once (none on one processor); the others park
 *       at once;
 *   <li>each call site judges its spins in windows of {@value #WINDOW}: when fewer than half of a
 *       window's spins saw the answer arrive, the site parks at once for the next {@value #WINDOW}
 *       calls, then 32, 64... up to {@value #MAX_PARKED} calls, and tries a window again. A far
 *       server or a contended lock thus wastes at most one window of spins in {@value #MAX_PARKED}
 *       calls; a good window resets the parking to its shortest.
 * </ul>
 *
 * A site is judged by a window, never by one spin: a spin tried from the parked regime meets cold
 * vCPUs and often misses where steady spinning hits nearly always.
 *
 * <p>The spin only watches a future; it changes nothing about what is waited for or for how long.
 */
final class SpinWait {

    /** Spins are measured in real time whatever ticker the client has: a manual one would never end a spin. */
    private static final Ticker REAL_TIME = Ticker.system();
    private static final int MAX_SPINNERS = Runtime.getRuntime().availableProcessors() / 2;
    private static final AtomicInteger SPINNERS = new AtomicInteger();
    static final int WINDOW = 16;
    static final int MAX_PARKED = 1024;

    private final long budgetNanos;
    // Racy on purpose: a lost update only shifts when the next spin is tried.
    private int spins;
    private int hits;
    private int parkedLeft;
    private int nextParking = WINDOW;

    SpinWait(long budgetNanos) {
        this.budgetNanos = budgetNanos;
    }

    /** Spins until {@code answer} completes or the spin is given up; the caller then waits as usual. */
    void spin(CompletableFuture<?> answer) {
        if (budgetNanos <= 0 || answer.isDone()) {
            return;
        }
        if (parkedLeft > 0) {
            parkedLeft--;
            return;
        }
        if (SPINNERS.incrementAndGet() > MAX_SPINNERS) {
            SPINNERS.decrementAndGet();
            return;
        }
        boolean answered;
        try {
            long start = REAL_TIME.read();
            while (!(answered = answer.isDone()) && REAL_TIME.read() - start < budgetNanos) {
                // yield, not onSpinWait: the thread that completes the answer (a Netty event loop, say) may
                // be queued on this very CPU, and a busy spin would keep it from running until the budget
                // is gone. Measured: with onSpinWait, once the waiter shared a CPU with its event loop,
                // every spin missed; with yield, 99.8 % hit.
                Thread.yield();
            }
        } finally {
            SPINNERS.decrementAndGet();
        }
        judge(answered);
    }

    private void judge(boolean answered) {
        spins++;
        if (answered) {
            hits++;
        }
        if (spins < WINDOW) {
            return;
        }
        if (hits * 2 >= spins) {
            nextParking = WINDOW;
        } else {
            parkedLeft = nextParking;
            nextParking = Math.min(MAX_PARKED, nextParking * 2);
        }
        spins = 0;
        hits = 0;
    }

    /** Whether the next call would spin (other threads' spins aside). */
    boolean wouldSpin() {
        return budgetNanos > 0 && parkedLeft == 0;
    }
}
