package io.distkit.lock.spi;

import java.time.Duration;
import java.util.PriorityQueue;

/**
 * A {@link Ticker} and a {@link Scheduler} in one, driven by hand: time stands still until the test
 * moves it, and tasks run only when the test says so, on the test's own thread. No background
 * threads, so every engine test is deterministic.
 *
 * <ul>
 *   <li>{@link #advance(Duration)} moves the time forward and runs, in due order, every task due by
 *       the new time, including tasks that running tasks schedule within that window; while a task
 *       runs, {@link #read()} returns the instant it was due.
 *   <li>{@link #execute(Runnable)} queues a task due now: it runs on the next {@code advance} or
 *       {@link #runPending()}, never on the caller's stack.
 *   <li>{@link #skip(Duration)} moves the time without running anything, as when the scheduler's
 *       thread is late; overdue tasks run on the next {@code advance}.
 * </ul>
 *
 * <p>The origin is arbitrary, as with {@link System#nanoTime()}: start near {@link Long#MAX_VALUE}
 * to prove that the code under test only ever compares differences. Thread-safe; tasks run outside
 * the monitor.
 */
public final class ManualTime implements Ticker, Scheduler {

    /** Guards against a task that keeps rescheduling itself within one window. */
    private static final int MAX_TASKS_PER_ADVANCE = 100_000;

    private final long origin;
    private final PriorityQueue<Task> queue = new PriorityQueue<>();
    private long now;
    private long sequence;
    private boolean shutdown;

    /** Time starting at zero. */
    public ManualTime() {
        this(0);
    }

    /** Time starting at {@code origin} nanoseconds. */
    public ManualTime(long origin) {
        this.origin = origin;
        this.now = origin;
    }

    @Override
    public synchronized long read() {
        return now;
    }

    /** Time since the origin, for assertions. */
    public synchronized Duration elapsed() {
        return Duration.ofNanos(now - origin);
    }

    /** The ticker value {@code sinceOrigin} after the origin. */
    public long at(Duration sinceOrigin) {
        return origin + sinceOrigin.toNanos();
    }

    /** How long after the origin the ticker value {@code tick} is. */
    public Duration sinceOrigin(long tick) {
        return Duration.ofNanos(tick - origin);
    }

    /** Moves the time by {@code step} and runs every task due by then. */
    public void advance(Duration step) {
        if (step.isNegative()) {
            throw new IllegalArgumentException("time only moves forward, step was " + step);
        }
        long target;
        synchronized (this) {
            target = now + step.toNanos();
        }
        for (int ran = 0; ; ran++) {
            if (ran == MAX_TASKS_PER_ADVANCE) {
                throw new IllegalStateException("more than " + MAX_TASKS_PER_ADVANCE + " tasks in one advance");
            }
            Task next;
            synchronized (this) {
                next = queue.peek();
                if (next == null || next.due - target > 0) {
                    now = target;
                    return;
                }
                queue.poll();
                if (next.due - now > 0) {
                    now = next.due;
                }
            }
            next.task.run();
        }
    }

    /** Moves the time to {@code sinceOrigin} after the origin and runs every task due by then. */
    public void advanceTo(Duration sinceOrigin) {
        advance(Duration.ofNanos(at(sinceOrigin) - read()));
    }

    /** Runs the tasks that are due now, without moving the time. */
    public void runPending() {
        advance(Duration.ZERO);
    }

    /** Moves the time by {@code step} without running anything: the scheduler is late. */
    public synchronized void skip(Duration step) {
        now += step.toNanos();
    }

    /** Tasks queued and not yet run or cancelled. */
    public synchronized int queued() {
        return queue.size();
    }

    /**
     * Waits (bounded, in real time) until at least {@code count} tasks are queued: how a test learns
     * that another thread has armed its timer or queued its step.
     *
     * @throws AssertionError if that did not happen within {@code timeout}
     */
    public synchronized void awaitQueued(int count, Duration timeout) throws InterruptedException {
        long giveUp = System.nanoTime() + timeout.toNanos();
        while (queue.size() < count) {
            long left = giveUp - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("expected " + count + " queued tasks within " + timeout + ", saw " + queue.size());
            }
            wait(Math.max(1, left / 1_000_000));
        }
    }

    /** Whether {@link #shutdown()} was called. */
    public synchronized boolean isShutdown() {
        return shutdown;
    }

    @Override
    public synchronized Cancellable schedule(Runnable task, long delayNanos) {
        if (shutdown) {
            return () -> {};
        }
        Task t = new Task(now + Math.max(0, delayNanos), sequence++, task);
        queue.add(t);
        notifyAll();
        return () -> {
            synchronized (this) {
                queue.remove(t);
            }
        };
    }

    @Override
    public void execute(Runnable task) {
        schedule(task, 0);
    }

    @Override
    public synchronized void shutdown() {
        shutdown = true;
        queue.clear();
    }

    /** One queued task; ties in due time run in the order they were queued. */
    private record Task(long due, long seq, Runnable task) implements Comparable<Task> {
        @Override
        public int compareTo(Task other) {
            long byDue = due - other.due; // overflow-safe, like the ticker itself
            return byDue != 0 ? (byDue < 0 ? -1 : 1) : Long.compare(seq, other.seq);
        }
    }
}
