package io.distkit.id.segment;

import static org.awaitility.Awaitility.await;

import io.distkit.id.Segment;
import io.distkit.id.SegmentAllocator;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;

/**
 * An in-memory allocator the test steers: {@link #hold()} makes calls wait until {@link #release}
 * lets them through (a slow store), {@link #failWith} makes them throw (a store that is down),
 * {@link #tamperWith} changes what they return (a broken allocator). Records every call and range.
 */
final class ScriptedAllocator implements SegmentAllocator {

    private final InMemorySegmentAllocator delegate = new InMemorySegmentAllocator();
    private final AtomicInteger calls = new AtomicInteger();
    private final List<Long> steps = new ArrayList<>();
    private final List<String> threads = new ArrayList<>();
    private volatile Duration delay = Duration.ZERO;
    private final List<Segment> allocated = new ArrayList<>();
    private volatile @Nullable Semaphore gate;
    private volatile @Nullable RuntimeException failure;
    private volatile UnaryOperator<Segment> tamper = UnaryOperator.identity();

    @Override
    public Segment allocate(String tag, long step) {
        calls.incrementAndGet();
        synchronized (steps) {
            steps.add(step);
            threads.add(Thread.currentThread().getName());
        }
        if (!delay.isZero()) {
            LockSupport.parkNanos(delay.toNanos()); // a slow store: how long it takes is the point, not a wait for something
        }
        Semaphore g = gate;
        if (g != null) {
            try {
                if (!g.tryAcquire(30, TimeUnit.SECONDS)) {
                    throw new AssertionError("the test never released the held allocate call");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
        RuntimeException f = failure;
        if (f != null) {
            throw f;
        }
        Segment s = tamper.apply(delegate.allocate(tag, step));
        synchronized (allocated) {
            allocated.add(s);
        }
        return s;
    }

    /** Calls from now on wait for a {@link #release}. */
    void hold() {
        gate = new Semaphore(0);
    }

    /** Lets {@code n} held calls through. */
    void release(int n) {
        Semaphore g = gate;
        if (g != null) {
            g.release(n);
        }
    }

    /** Calls no longer wait; those waiting go on. */
    void open() {
        Semaphore g = gate;
        gate = null;
        if (g != null) {
            g.release(1_000);
        }
    }

    /** Every call takes this long from now on (a slow store). */
    void delay(Duration d) {
        delay = d;
    }

    /** The thread of each call, in order. */
    List<String> threads() {
        synchronized (steps) {
            return List.copyOf(threads);
        }
    }

    void failWith(@Nullable RuntimeException f) {
        failure = f;
    }

    void tamperWith(UnaryOperator<Segment> t) {
        tamper = t;
    }

    int calls() {
        return calls.get();
    }

    void awaitCalls(int n) {
        await().atMost(Duration.ofSeconds(10)).until(() -> calls.get() >= n);
    }

    List<Long> steps() {
        synchronized (steps) {
            return List.copyOf(steps);
        }
    }

    List<Segment> allocated() {
        synchronized (allocated) {
            return List.copyOf(allocated);
        }
    }

    @Override
    public String toString() {
        return "ScriptedAllocator";
    }
}
