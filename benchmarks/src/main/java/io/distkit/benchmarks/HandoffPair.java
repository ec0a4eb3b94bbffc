package io.distkit.benchmarks;

import io.distkit.common.DaemonThreads;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The hand-off measurement every lock benchmark shares: two lockers on one lock name and a partner
 * thread that waits on the second. Invariant between timed hand-offs: the benchmark thread holds the
 * lock through {@code holder}, and the partner is asleep in {@code waiter}'s acquire call.
 */
final class HandoffPair {

    private final Locker holder;
    private final Locker waiter;
    private final ExecutorService partner = Executors.newSingleThreadExecutor(
            DaemonThreads.factory("bench-handoff-partner"));
    private Object held;
    private volatile Thread benchThread;
    private volatile boolean partnerCalling;
    private volatile Object partnerHeld;
    private volatile Throwable partnerFailure;

    HandoffPair(Locker holder, Locker waiter) {
        this.holder = holder;
        this.waiter = waiter;
    }

    /**
     * Untimed: the partner releases what it holds (on the thread that acquired it: Redisson needs that),
     * the benchmark thread acquires, the partner calls acquire and is given {@code settleMicros} to sleep.
     */
    void arrange(long settleMicros) throws Exception {
        Object partnerHolds = partnerHeld;
        if (partnerHolds != null) {
            partner.submit(() -> waiter.release(partnerHolds)).get();
            partnerHeld = null;
        }
        held = holder.acquire();
        benchThread = Thread.currentThread();
        partnerCalling = false;
        partner.execute(() -> {
            partnerCalling = true;
            try {
                partnerHeld = waiter.acquire();
            } catch (Throwable t) {
                partnerFailure = t;
            }
            LockSupport.unpark(benchThread);
        });
        while (!partnerCalling) {
            Thread.onSpinWait();
        }
        TimeUnit.MICROSECONDS.sleep(settleMicros); // sleep, not park: a stale unpark permit cannot cut it short
        if (partnerHeld != null || partnerFailure != null) {
            throw new IllegalStateException("the partner's acquire returned while the benchmark thread held"
                    + " the lock", partnerFailure);
        }
    }

    /** Timed: the holder releases, and this returns once the waiting partner holds the lock. */
    Object handOff() {
        holder.release(held);
        Object got;
        while ((got = partnerHeld) == null) {
            if (partnerFailure != null) {
                throw new IllegalStateException("the partner's acquire failed", partnerFailure);
            }
            LockSupport.park(this);
        }
        return got;
    }

    /** Releases what the partner holds and stops its thread; the lockers stay open (the benchmark closes them). */
    void close() throws Exception {
        Object partnerHolds = partnerHeld;
        if (partnerHolds != null) {
            partner.submit(() -> waiter.release(partnerHolds)).get();
            partnerHeld = null;
        }
        partner.shutdown();
    }
}
