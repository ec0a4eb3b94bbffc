package io.distkit.id.snowflake;

import io.distkit.id.IdGenerationException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link SnowflakeIdGenerator} of a generator built with a {@link WorkerIdAssigner}: a
 * {@link LockFreeSnowflakeGenerator} on a lease from the assigner, replaced by a new one on a new
 * lease when the lease is lost.
 *
 * <p>The lock-free generator stays as it is: sealed for good once its lease is lost, so nothing in its
 * hot path changes. This class adds one volatile read per call. On a loss (the lease's listener, or a
 * call that got {@link WorkerLeaseLostException}) one background thread closes the sealed generator,
 * reads its last timestamp (final once sealed), and builds a new generator on a new lease with that
 * timestamp as its floor: the new one starts above the mark of its worker id's earlier holders <em>and
 * above every id the old one issued</em>, so the ids callers see keep increasing across the change of
 * worker id, and a worker id leased again by this process cannot repeat its own ids. Meanwhile calls
 * throw {@link WorkerLeaseLostException} at once; the thread retries a failed lease with a growing
 * pause ({@link #FIRST_RETRY_PAUSE} doubling to {@link #MAX_RETRY_PAUSE}) until it succeeds or the
 * generator is closed.
 */
final class LeasingSnowflakeGenerator implements SnowflakeIdGenerator {

    private static final Logger log = LoggerFactory.getLogger(SnowflakeIdGenerator.class);

    static final Duration FIRST_RETRY_PAUSE = Duration.ofMillis(100);
    static final Duration MAX_RETRY_PAUSE = Duration.ofSeconds(10);
    private static final AtomicInteger THREADS = new AtomicInteger();

    private final SnowflakeIdGenerator.Builder settings;
    private final WorkerIdAssigner assigner;

    private volatile LockFreeSnowflakeGenerator current;
    /** Guards the fields below and every change of {@link #current}. */
    private final Object lock = new Object();
    private boolean closed;
    private @Nullable Thread releasing;
    private @Nullable Throwable lastLeaseFailure;
    /** The assigner said it is closed: no lease will ever come from it again. */
    private boolean assignerClosed;
    private int leases = 1;

    /**
     * Leases a worker id and builds the first generator on it, on the caller's thread.
     *
     * @param settings a copy of the builder, not changed afterwards
     */
    LeasingSnowflakeGenerator(SnowflakeIdGenerator.Builder settings, WorkerIdAssigner assigner) {
        this.settings = settings;
        this.assigner = assigner;
        this.current = buildOnNewLease(0);
        watch(current);
    }

    private LockFreeSnowflakeGenerator buildOnNewLease(long floorTimestamp) {
        WorkerLease lease = Objects.requireNonNull(assigner.acquire(settings.layout.maxWorkerIds()),
                "the workerIdAssigner returned no lease");
        try {
            return new LockFreeSnowflakeGenerator(settings, lease, true, floorTimestamp);
        } catch (RuntimeException | Error e) {
            try {
                lease.close();
            } catch (RuntimeException closing) {
                e.addSuppressed(closing);
            }
            throw e;
        }
    }

    /** Re-leases when {@code generator}'s lease is lost; the listener runs at once if it is lost already. */
    private void watch(LockFreeSnowflakeGenerator generator) {
        generator.lease().onLost(() -> releaseAfterLoss(generator));
    }

    // --- hot path ---------------------------------------------------------------------------------

    @Override
    public long nextId() {
        LockFreeSnowflakeGenerator g = current;
        try {
            return g.nextId();
        } catch (WorkerLeaseLostException e) {
            return afterLoss(g, e).nextId();
        }
    }

    @Override
    public long[] nextIds(int count) {
        LockFreeSnowflakeGenerator g = current;
        try {
            return g.nextIds(count);
        } catch (WorkerLeaseLostException e) {
            return afterLoss(g, e).nextIds(count);
        }
    }

    /**
     * A call on {@code lost} found its lease lost: starts the re-lease if the listener has not yet, and
     * returns the generator to try once more if it was replaced meanwhile; otherwise throws.
     */
    private LockFreeSnowflakeGenerator afterLoss(LockFreeSnowflakeGenerator lost, WorkerLeaseLostException e) {
        releaseAfterLoss(lost);
        LockFreeSnowflakeGenerator now = current;
        if (now != lost) {
            return now;
        }
        String state;
        synchronized (lock) {
            if (closed) {
                throw new IllegalStateException("the snowflake generator is closed", e);
            }
            Throwable failure = lastLeaseFailure;
            if (assignerClosed) {
                throw new WorkerLeaseLostException(lost.workerId(), "no id from it any more, and no new worker id"
                        + " either: " + assigner + " is closed (" + failure + "); build a new generator", e);
            }
            state = failure == null ? "" : " (the last attempt failed: " + failure + ")";
        }
        throw new WorkerLeaseLostException(lost.workerId(), "no id from it any more; a new worker id is being leased"
                + " from " + assigner + " in the background" + state + ", ids resume once it is", e);
    }

    // --- re-leasing ---------------------------------------------------------------------------------

    private void releaseAfterLoss(LockFreeSnowflakeGenerator lost) {
        Thread thread;
        synchronized (lock) {
            if (closed || assignerClosed || releasing != null || current != lost) {
                return; // closed, without an assigner, or already replaced or being replaced
            }
            thread = new Thread(() -> replace(lost), "distkit-snowflake-lease-" + THREADS.incrementAndGet());
            thread.setDaemon(true);
            releasing = thread;
        }
        log.warn("worker id {}: the lease is lost; leasing a new worker id from {}", lost.workerId(), assigner);
        thread.start();
    }

    /** The re-lease thread: closes {@code lost}, then leases and builds until it succeeds or the generator closes. */
    private void replace(LockFreeSnowflakeGenerator lost) {
        lost.close(); // seals it (if the loss has not yet) and closes its lease: its last timestamp is final
        long floor = lost.lastTimestamp();
        long pauseNanos = FIRST_RETRY_PAUSE.toNanos();
        for (int attempt = 1; ; attempt++) {
            synchronized (lock) {
                if (closed) {
                    releasing = null;
                    return;
                }
            }
            LockFreeSnowflakeGenerator next;
            try {
                next = buildOnNewLease(floor);
            } catch (IllegalStateException e) { // the assigner is closed (its SPI says so): nothing to wait for
                synchronized (lock) {
                    lastLeaseFailure = e;
                    assignerClosed = true;
                    releasing = null;
                }
                log.warn("worker id {}: no new worker id: the assigner is closed; this generator issues no more ids: {}",
                        lost.workerId(), e.toString());
                return;
            } catch (RuntimeException e) {
                synchronized (lock) {
                    lastLeaseFailure = e;
                }
                log.warn("worker id {}: leasing a new worker id failed (attempt {}), trying again in {} ms: {}",
                        lost.workerId(), attempt, TimeUnit.NANOSECONDS.toMillis(pauseNanos), e.toString());
                if (!pause(pauseNanos)) {
                    continue; // interrupted by close: the check above ends the thread
                }
                pauseNanos = Math.min(2 * pauseNanos, MAX_RETRY_PAUSE.toNanos());
                continue;
            }
            synchronized (lock) {
                releasing = null;
                if (!closed) {
                    current = next;
                    lastLeaseFailure = null;
                    leases++;
                }
            }
            if (current != next) {
                next.close(); // the generator was closed while this one was being built
                return;
            }
            watch(next);
            log.info("worker id {}: ids go on with worker id {}, above timestamp {}", lost.workerId(),
                    next.workerId(), floor);
            return;
        }
    }

    /** Parks for {@code nanos}; false if interrupted (by close). */
    private static boolean pause(long nanos) {
        try {
            TimeUnit.NANOSECONDS.sleep(nanos);
            return true;
        } catch (InterruptedException e) {
            return false;
        }
    }

    // --- the rest -------------------------------------------------------------------------------------

    /**
     * Closes the current generator (and its lease), and stops a re-lease in progress: interrupts its pause,
     * and whatever it builds meanwhile is closed at once, without issuing an id.
     */
    @Override
    public void close() {
        Thread thread;
        LockFreeSnowflakeGenerator g;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            thread = releasing;
            g = current;
        }
        if (thread != null) {
            thread.interrupt();
        }
        g.close();
    }

    @Override
    public SnowflakeLayout layout() {
        return settings.layout;
    }

    /** The worker id of the current lease: it changes when a lost lease is replaced. */
    @Override
    public int workerId() {
        return current.workerId();
    }

    @Override
    public long lastTimestamp() {
        return current.lastTimestamp();
    }

    /** How many leases this generator has held, the current one included (tests). */
    int leaseCount() {
        synchronized (lock) {
            return leases;
        }
    }

    /** The generator on the current lease (tests). */
    LockFreeSnowflakeGenerator current() {
        return current;
    }

    @Override
    public String toString() {
        return current + " (leased from " + assigner + ")";
    }
}
