package io.distkit.id.snowflake;

import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * A worker lease whose validity, loss and store the test controls: {@link #lose()} fires the loss
 * listeners on another thread (as an assigner's renewal thread would), {@link #invalidate()} only
 * turns {@link #isValid()} false, {@link #failSavesWith} makes the store fail, {@link #holdSaves}
 * makes saves wait at a gate the test opens (a slow store).
 */
final class TestLease implements WorkerLease {

    private final int workerId;
    private final long lastTimestamp;
    private volatile boolean valid = true;
    private volatile boolean lost;
    private volatile int closeCalls;
    private volatile @Nullable RuntimeException saveFailure;
    private volatile @Nullable CountDownLatch saveGate;
    private final AtomicInteger saveCalls = new AtomicInteger();
    private final List<Long> saves = new ArrayList<>();
    private final List<Runnable> listeners = new ArrayList<>();

    TestLease(int workerId, long lastTimestamp) {
        this.workerId = workerId;
        this.lastTimestamp = lastTimestamp;
    }

    TestLease(int workerId) {
        this(workerId, 0);
    }

    @Override
    public int workerId() {
        return workerId;
    }

    @Override
    public boolean isValid() {
        return valid;
    }

    @Override
    public long lastTimestamp() {
        return lastTimestamp;
    }

    @Override
    public void saveLastTimestamp(long timestamp) {
        saveCalls.incrementAndGet();
        CountDownLatch gate = saveGate;
        if (gate != null) {
            try {
                if (!gate.await(30, TimeUnit.SECONDS)) {
                    throw new AssertionError("the test never opened the save gate");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
        RuntimeException failure = saveFailure;
        if (failure != null) {
            throw failure;
        }
        if (lost || !valid) {
            throw new WorkerLeaseLostException(workerId, "test lease no longer valid", null);
        }
        synchronized (saves) {
            saves.add(timestamp);
        }
    }

    @Override
    public void onLost(Runnable listener) {
        Objects.requireNonNull(listener, "listener");
        boolean runNow;
        synchronized (listeners) {
            runNow = lost;
            if (!runNow) {
                listeners.add(listener);
            }
        }
        if (runNow) {
            runOnOtherThread(List.of(listener));
        }
    }

    /** The lease is lost: invalid from now on, listeners run (on another thread) before this returns. */
    void lose() {
        List<Runnable> toRun;
        synchronized (listeners) {
            lost = true;
            valid = false;
            toRun = new ArrayList<>(listeners);
            listeners.clear();
        }
        runOnOtherThread(toRun);
    }

    /** {@link #isValid()} turns false without any listener running (a lease past its local deadline). */
    void invalidate() {
        valid = false;
    }

    void failSavesWith(@Nullable RuntimeException failure) {
        this.saveFailure = failure;
    }

    /** Saves from now on wait until {@code gate} opens (null: no waiting). */
    void holdSaves(@Nullable CountDownLatch gate) {
        this.saveGate = gate;
    }

    /** Calls of {@link #saveLastTimestamp}, failed ones included. */
    int saveCalls() {
        return saveCalls.get();
    }

    List<Long> saves() {
        synchronized (saves) {
            return List.copyOf(saves);
        }
    }

    int closeCalls() {
        return closeCalls;
    }

    @Override
    public synchronized void close() {
        closeCalls++;
        valid = false;
    }

    private static void runOnOtherThread(List<Runnable> toRun) {
        Thread thread = new Thread(() -> toRun.forEach(Runnable::run), "test-lease-lost");
        thread.start();
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    @Override
    public String toString() {
        return "TestLease[worker " + workerId + ", valid=" + valid + "]";
    }
}
