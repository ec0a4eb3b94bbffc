package io.distkit.testkit.history;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockLostException;
import io.distkit.testkit.history.History.Pending;
import io.distkit.testkit.history.Op.Type;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The lost-update workload of docs/failures.md (checker 2), on the public lock API. Worker threads,
 * process ids {@code c<client>-t<thread>}, each repeat: acquire the lock (bounded wait), read the
 * {@link FencedRegister} with the token, increment a plain counter non-atomically, call the
 * {@link PauseHook}, write value + 1 with the token, release. An increment is acknowledged when the
 * register accepts it. Every step is recorded in a {@link History}.
 *
 * <p>The plain counter (read, {@link Thread#yield()}, write) has no fencing: with a lock that does
 * not exclude, it visibly loses increments even when fencing keeps the register right.
 *
 * <p>The run stops when at least {@code increments} are acknowledged (a few more may land: threads
 * already inside finish their round) or at the deadline, whichever comes first; then every thread is
 * joined within {@code joinGrace}, interrupted if late, and reported as an error if still running.
 * A workload runs once.
 *
 * <pre>{@code
 * var result = LostUpdateWorkload.builder(List.of(client1.lock("x"), client2.lock("x")))
 *         .threadsPerClient(4).increments(2_000).duration(Duration.ofSeconds(20)).build().run();
 * CheckResult.assertAllValid(result.checkAll());
 * }</pre>
 */
public final class LostUpdateWorkload {

    /**
     * Runs between the read and the write of each increment, with the lock held: a test injects a
     * pause here (up to the lease and beyond) to make a holder stale.
     */
    @FunctionalInterface
    public interface PauseHook {
        /** No pause. */
        PauseHook NONE = (process, handle) -> {};

        /**
         * Called with the lock held.
         *
         * @throws InterruptedException to stop the worker (after it releases the lock)
         */
        void pause(String process, LockHandle handle) throws InterruptedException;

        /**
         * Pauses a uniformly random time in {@code [0, max)}. The seed fixes the sequence of pauses
         * handed out, not which thread gets which; print it.
         *
         * @throws IllegalArgumentException if {@code max} is not positive
         */
        static PauseHook random(Duration max, long seed) {
            long maxNanos = max.toNanos();
            if (maxNanos <= 0) {
                throw new IllegalArgumentException("max must be positive, was " + max);
            }
            Random random = new Random(seed);
            // Sleeping is the injected fault here, not synchronisation.
            return (process, handle) -> TimeUnit.NANOSECONDS.sleep(random.nextLong(maxNanos));
        }
    }

    /**
     * What a run did.
     *
     * @param history every acquire, read, write, release and loss notice
     * @param register the protected resource
     * @param acknowledged increments the register accepted
     * @param criticalSections successful acquisitions, each of which incremented the plain counter once
     * @param plainCounter the unfenced counter's final value
     * @param errors unexpected exceptions of workers, and workers that did not stop in time
     */
    public record Result(History history, FencedRegister register, long acknowledged, long criticalSections,
                         long plainCounter, List<Throwable> errors) {

        /** Copies {@code errors}. */
        public Result {
            errors = List.copyOf(errors);
        }

        /**
         * Checkers 1–3 and the absence of worker errors: what must hold even when holders are paused
         * past their lease or clocks jump.
         */
        public List<CheckResult> checkSafety() {
            return List.of(Checkers.fencedResource(register), Checkers.lostUpdates(history, register),
                    Checkers.tokenIssuance(history), workerErrors());
        }

        /**
         * Checkers 1–4, the plain counter and the absence of worker errors: what must hold in a run
         * without pauses or clock faults, where the lock itself must exclude.
         */
        public List<CheckResult> checkAll() {
            List<CheckResult> all = new ArrayList<>(checkSafety());
            all.add(Checkers.holderIntervals(history));
            all.add(new CheckResult("mutual exclusion (plain counter)", plainCounter == criticalSections
                    ? List.of()
                    : List.of("plain counter lost increments: " + plainCounter + " after " + criticalSections
                            + " critical sections; two holders were inside at once")));
            return all;
        }

        private CheckResult workerErrors() {
            return new CheckResult("workload errors", errors.stream().map(Throwable::toString).toList());
        }

        @Override
        public String toString() {
            return "LostUpdateWorkload.Result[acknowledged=" + acknowledged + ", criticalSections=" + criticalSections
                    + ", plainCounter=" + plainCounter + ", " + register + ", " + history + ", errors="
                    + errors.size() + "]";
        }
    }

    private final List<DistributedLock> locks;
    private final int threadsPerClient;
    private final long increments;
    private final Duration duration;
    private final Duration acquireWait;
    private final Duration joinGrace;
    private final PauseHook pause;
    private final FencedRegister register;
    private final History history;

    private final AtomicBoolean started = new AtomicBoolean();
    private final AtomicLong acknowledged = new AtomicLong();
    private final AtomicLong criticalSections = new AtomicLong();
    private final ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
    private volatile long plainCounter;
    private long deadlineNanos;

    private LostUpdateWorkload(Builder b) {
        locks = b.locks;
        threadsPerClient = b.threadsPerClient;
        increments = b.increments;
        duration = b.duration;
        acquireWait = b.acquireWait;
        joinGrace = b.joinGrace;
        pause = b.pause;
        register = b.register;
        history = b.history;
    }

    /**
     * A builder for a workload on {@code locks}: one {@link DistributedLock} per client, all of the
     * same name. Client {@code i} (from 1) runs threads {@code c<i>-t1 ... c<i>-t<n>}.
     *
     * @throws IllegalArgumentException if {@code locks} is empty or names more than one lock
     */
    public static Builder builder(List<? extends DistributedLock> locks) {
        return new Builder(locks);
    }

    /**
     * Runs the workload to its end and joins every worker, waiting at most
     * {@code duration + joinGrace} (plus {@code joinGrace} for interrupted stragglers).
     *
     * @throws IllegalStateException if this workload has run before
     * @throws InterruptedException if the calling thread is interrupted; workers are interrupted too
     */
    public Result run() throws InterruptedException {
        if (!started.compareAndSet(false, true)) {
            throw new IllegalStateException("a LostUpdateWorkload runs once");
        }
        deadlineNanos = System.nanoTime() + duration.toNanos();
        CountDownLatch startGate = new CountDownLatch(1);
        List<Thread> workers = new ArrayList<>();
        for (int c = 0; c < locks.size(); c++) {
            for (int t = 1; t <= threadsPerClient; t++) {
                String process = "c" + (c + 1) + "-t" + t;
                DistributedLock lock = locks.get(c);
                Thread worker = new Thread(() -> work(process, lock, startGate), "distkit-workload-" + process);
                worker.setDaemon(true);
                workers.add(worker);
            }
        }
        workers.forEach(Thread::start);
        startGate.countDown();
        try {
            joinAll(workers, deadlineNanos + joinGrace.toNanos());
        } catch (InterruptedException e) {
            workers.forEach(Thread::interrupt);
            throw e;
        }
        List<Thread> late = workers.stream().filter(Thread::isAlive).toList();
        late.forEach(Thread::interrupt);
        joinAll(late, System.nanoTime() + joinGrace.toNanos());
        for (Thread w : late) {
            errors.add(new IllegalStateException(w.getName() + (w.isAlive()
                    ? " did not stop even when interrupted; results may still change"
                    : " did not stop by the deadline + joinGrace and was interrupted")));
        }
        return new Result(history, register, acknowledged.get(), criticalSections.get(), plainCounter,
                List.copyOf(errors));
    }

    private static void joinAll(List<Thread> threads, long untilNanos) throws InterruptedException {
        for (Thread t : threads) {
            long left = untilNanos - System.nanoTime();
            if (left > 0) {
                TimeUnit.NANOSECONDS.timedJoin(t, left);
            }
        }
    }

    private boolean done() {
        return acknowledged.get() >= increments || System.nanoTime() - deadlineNanos >= 0
                || Thread.currentThread().isInterrupted();
    }

    private void work(String process, DistributedLock lock, CountDownLatch startGate) {
        try {
            // Everyone starts at once, so that the workers contend from the first acquisition.
            if (!startGate.await(joinGrace.toNanos(), TimeUnit.NANOSECONDS)) {
                throw new IllegalStateException(process + " was never let start");
            }
            while (!done()) {
                Optional<LockHandle> handle = acquire(process, lock);
                if (handle.isPresent()) {
                    increment(process, handle.get());
                }
            }
        } catch (InterruptedException e) {
            // run() interrupts only stragglers; stopping is what it asked for.
        } catch (RuntimeException | Error e) {
            errors.add(e);
        }
    }

    private Optional<LockHandle> acquire(String process, DistributedLock lock) throws InterruptedException {
        Pending call = history.invoke(process, Type.ACQUIRE, lock.name());
        try {
            Optional<LockHandle> handle = lock.tryAcquire(acquireWait);
            if (handle.isPresent()) {
                call.ok(handle.get().fencingToken());
            } else {
                call.fail("not acquired within " + acquireWait);
            }
            return handle;
        } catch (LockBackendException e) {
            call.info(e.toString()); // it may have been acquired; its lease then frees it
            return Optional.empty();
        } catch (InterruptedException | RuntimeException e) {
            call.info(e.toString());
            throw e;
        }
    }

    private void increment(String process, LockHandle handle) throws InterruptedException {
        String name = handle.lockName();
        long token = handle.fencingToken();
        criticalSections.incrementAndGet();
        handle.onLost(() -> history.lost(process, name, token));
        try {
            Pending read = history.invoke(process, Type.READ, name, token, Op.NONE);
            long value = register.read(token);
            read.ok(token, value);

            long plain = plainCounter; // deliberately not atomic: only the lock protects it
            Thread.yield();
            plainCounter = plain + 1;

            pause.pause(process, handle);

            Pending write = history.invoke(process, Type.WRITE, name, token, value + 1);
            if (register.write(process, token, value + 1)) {
                acknowledged.incrementAndGet();
                write.ok();
            } else {
                write.fail("refused: stale token");
            }
        } finally {
            release(process, handle);
        }
    }

    private void release(String process, LockHandle handle) {
        Pending call = history.invoke(process, Type.RELEASE, handle.lockName(), handle.fencingToken(), Op.NONE);
        try {
            handle.release();
            call.ok();
        } catch (LockLostException e) {
            call.info("lost: " + e.getMessage());
        } catch (LockBackendException e) {
            call.info(e.toString()); // the lease runs out on the server by itself
        } catch (RuntimeException e) {
            call.info(e.toString());
            throw e;
        }
    }

    /** Configures a {@link LostUpdateWorkload}; every setter checks its argument at once. */
    public static final class Builder {
        private final List<DistributedLock> locks;
        private int threadsPerClient = 2;
        private long increments = 1_000;
        private Duration duration = Duration.ofSeconds(30);
        private Duration acquireWait = Duration.ofSeconds(1);
        private Duration joinGrace = Duration.ofSeconds(10);
        private PauseHook pause = PauseHook.NONE;
        private FencedRegister register = new FencedRegister();
        private History history = new History();

        private Builder(List<? extends DistributedLock> locks) {
            this.locks = List.copyOf(locks);
            if (this.locks.isEmpty()) {
                throw new IllegalArgumentException("locks must name at least one client's lock");
            }
            String name = this.locks.get(0).name();
            if (this.locks.stream().anyMatch(l -> !l.name().equals(name))) {
                throw new IllegalArgumentException("locks must all have one name, were "
                        + this.locks.stream().map(DistributedLock::name).toList());
            }
        }

        /** Worker threads per client (per lock given); default 2. */
        public Builder threadsPerClient(int threads) {
            if (threads < 1) {
                throw new IllegalArgumentException("threadsPerClient must be at least 1, was " + threads);
            }
            this.threadsPerClient = threads;
            return this;
        }

        /** Acknowledged increments after which the workers stop; default 1000. */
        public Builder increments(long increments) {
            if (increments < 1) {
                throw new IllegalArgumentException("increments must be at least 1, was " + increments);
            }
            this.increments = increments;
            return this;
        }

        /** Time after which the workers stop even if short of {@code increments}; default 30 s. */
        public Builder duration(Duration duration) {
            this.duration = positive(duration, "duration");
            return this;
        }

        /** Bound of each {@code tryAcquire}; default 1 s. */
        public Builder acquireWait(Duration acquireWait) {
            Objects.requireNonNull(acquireWait, "acquireWait");
            if (acquireWait.isNegative()) {
                throw new IllegalArgumentException("acquireWait must not be negative, was " + acquireWait);
            }
            this.acquireWait = acquireWait;
            return this;
        }

        /**
         * How long after the deadline workers may take to finish their round (acquire wait, pause,
         * release) before they are interrupted; default 10 s.
         */
        public Builder joinGrace(Duration joinGrace) {
            this.joinGrace = positive(joinGrace, "joinGrace");
            return this;
        }

        /** Called between read and write with the lock held; default {@link PauseHook#NONE}. */
        public Builder pause(PauseHook pause) {
            this.pause = Objects.requireNonNull(pause, "pause");
            return this;
        }

        /**
         * The resource to increment; default a new fenced one. Pass {@link FencedRegister#unfenced()}
         * for the negative control.
         *
         * @throws IllegalArgumentException if it has been written: checker 2 counts from 0
         */
        public Builder register(FencedRegister register) {
            Objects.requireNonNull(register, "register");
            if (!register.writes().isEmpty()) {
                throw new IllegalArgumentException("register must be fresh (checker 2 counts from 0), was " + register);
            }
            this.register = register;
            return this;
        }

        /** Where to record; default a new history. Pass a shared one to add fault windows to it. */
        public Builder history(History history) {
            this.history = Objects.requireNonNull(history, "history");
            return this;
        }

        /** A workload with these settings, ready to {@link LostUpdateWorkload#run() run} once. */
        public LostUpdateWorkload build() {
            return new LostUpdateWorkload(this);
        }

        private static Duration positive(Duration d, String name) {
            Objects.requireNonNull(d, name);
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(name + " must be positive, was " + d);
            }
            return d;
        }
    }
}
