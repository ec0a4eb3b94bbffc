package io.distkit.cli;

import io.distkit.id.IdGenerator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * Some threads calling one {@link IdGenerator} as fast as they can, up to a number of ids or a
 * deadline, keeping every id; afterwards all of them are sorted and checked for duplicates. The cap
 * bounds memory (8 bytes an id) and leaves the processors to the lock workers once it is reached.
 */
final class IdRun {

    private static final int CHUNK = 4096;

    private final String name;
    private final IdGenerator generator;
    private final long cap;
    private final AtomicLong claimed = new AtomicLong();
    private final AtomicLong generated = new AtomicLong();
    private final List<long[]> chunks = new ArrayList<>();
    private final AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    private volatile long startNanos;
    private final AtomicLong endNanos = new AtomicLong();

    IdRun(String name, IdGenerator generator, long cap) {
        this.name = name;
        this.generator = generator;
        this.cap = cap;
    }

    String name() {
        return name;
    }

    /** Ids made so far (updated every few thousand). */
    long generated() {
        return generated.get();
    }

    /** Marks the start of the run; call once before the threads start. */
    void start() {
        startNanos = System.nanoTime();
    }

    /** The body of one thread: ids until the cap is reached, the deadline passes or the generator throws. */
    void work(long deadlineNanos) {
        try {
            for (;;) {
                long base = claimed.getAndAdd(CHUNK);
                if (base >= cap) {
                    return;
                }
                int n = (int) Math.min(CHUNK, cap - base);
                long[] chunk = new long[n];
                int filled = 0;
                try {
                    while (filled < n) {
                        if ((filled & 255) == 0 && System.nanoTime() - deadlineNanos > 0) {
                            return;
                        }
                        chunk[filled++] = generator.nextId();
                    }
                } finally {
                    keep(filled == n ? chunk : Arrays.copyOf(chunk, filled));
                }
            }
        } catch (RuntimeException | Error e) {
            failure.compareAndSet(null, e);
        } finally {
            endNanos.accumulateAndGet(System.nanoTime(), Math::max);
        }
    }

    private void keep(long[] chunk) {
        synchronized (chunks) {
            chunks.add(chunk);
        }
        generated.addAndGet(chunk.length);
    }

    /** Sorts every id made and counts the duplicates; call after every thread has returned. */
    Result result() {
        long[] all;
        synchronized (chunks) {
            all = new long[chunks.stream().mapToInt(c -> c.length).sum()];
            int at = 0;
            for (long[] c : chunks) {
                System.arraycopy(c, 0, all, at, c.length);
                at += c.length;
            }
        }
        Arrays.parallelSort(all);
        long duplicates = 0;
        for (int i = 1; i < all.length; i++) {
            if (all[i] == all[i - 1]) {
                duplicates++;
            }
        }
        long nanos = Math.max(1, endNanos.get() - startNanos);
        return new Result(name, all.length, duplicates, nanos, all.length == 0 ? 0 : all[0],
                all.length == 0 ? 0 : all[all.length - 1], failure.get());
    }

    /**
     * @param name the generator
     * @param count ids made
     * @param duplicates ids equal to another id made
     * @param nanos from the start to the end of the last thread
     * @param min the smallest id (0 if none)
     * @param max the largest id (0 if none)
     * @param failure what the generator threw, if it did
     */
    record Result(String name, long count, long duplicates, long nanos, long min, long max, @Nullable Throwable failure) {

        double idsPerSecond() {
            return count * 1e9 / nanos;
        }
    }
}
