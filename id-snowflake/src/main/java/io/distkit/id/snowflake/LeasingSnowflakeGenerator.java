package io.distkit.id.snowflake;

import io.distkit.common.DaemonThreads;
import io.distkit.id.IdGenerationException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
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
 * call that got {@link WorkerLeaseLostException}) one background thread (a daemon,
 * {@code distkit-snowflake-lease-<n>}) closes the sealed generator, reads its last timestamp (final
 * once sealed), and builds a new generator on a new lease with that timestamp as its floor: the new
 * one starts above the mark of its worker id's earlier holders <em>and above every id the old one
 * issued</em>, so the ids callers see keep increasing across the change of worker id, and a worker id
 * leased again by this process cannot repeat its own ids. Meanwhile calls
 * throw {@link WorkerLeaseLostException} at once; the thread retries a failed lease with a growing
 * pause ({@link #FIRST_RETRY_PAUSE} doubling to {@link #MAX_RETRY_PAUSE}) until it succeeds or the
 * generator is closed.
 */
final class LeasingSnowflakeGenerator implements SnowflakeIdGenerator {

    private static final Logger log = LoggerFactory.getLogger(SnowflakeIdGenerator.class);

    static final Duration FIRST_RETRY_PAUSE = Duration.ofMillis(100);
    static final Duration MAX_RETRY_PAUSE = Duration.ofSeconds(10);
    private static final ThreadFactory LEASE_THREADS = DaemonThreads.factory("snowflake-lease");

    private final SnowflakeIdGenerator.Builder settings;
    private final WorkerIdAssigner assigner;

    private volatile LockFreeSnowflakeGenerator current;
    /** Guards the fields below and every change of {@link #current}. */
    private final Object lock = new Object();
    private boolean closed;
    private @Nullable Thread releasing;
    private @Nullable Throwable lastLeaseFailure;
    /** Re-leasing has ended for good (the assigner is closed, or a failure no retry can mend). */
    private boolean ended;
    /** Counted down by {@link #close()}: ends the pauses of the re-lease thread. */
    private final CountDownLatch closedSignal = new CountDownLatch(1);
    private int leases = 1;

    /**
     * Leases a worker id and builds the first generator on it, on the caller's thread.
     *
     * @param settings a copy of the builder, not changed afterwards
     */
    LeasingSnowflakeGenerator(SnowflakeIdGenerator.Builder settings, WorkerIdAssigner assigner) {
        this.settings = settings;
        this.assigner = assigner;
        this.current = buildOnNewLease(0, false);
        watch(current);
    }

    /**
     * @param again false for the first lease (at build: every exception goes to the caller as it is), true
     *     for a lease after a loss
     * @throws AssignerClosed if {@code again} and the assigner says it is closed
     */
    private LockFreeSnowflakeGenerator buildOnNewLease(long floorTimestamp, boolean again) {
        WorkerLease lease;
        try {
            lease = assigner.acquire(settings.layout.maxWorkerIds());
        } catch (IllegalStateException e) { // the SPI's word for "this assigner is closed"
            throw again ? new AssignerClosed(e) : e;
        }
        Objects.requireNonNull(lease, "the workerIdAssigner returned no lease");
        try {
            return new LockFreeSnowflakeGenerator(settings, lease, true, floorTimestamp, TimestampReservation::new);
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
            if (ended) {
                throw new WorkerLeaseLostException(lost.workerId(), "no id from it any more, and no new worker id"
                        + " either: leasing one from " + assigner + " failed for good (" + failure
                        + "); build a new generator", e);
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
            if (closed || ended || releasing != null || current != lost) {
                return; // closed, without an assigner, or already replaced or being replaced
            }
            thread = LEASE_THREADS.newThread(() -> replace(lost));
            releasing = thread;
        }
        log.warn("worker id {}: the lease is lost; leasing a new worker id from {}", lost.workerId(), assigner);
        thread.start();
    }

    /**
     * The re-lease thread: seals and closes {@code lost}, then leases and builds until it succeeds, the
     * generator closes, or a failure shows that trying again cannot help (the assigner is closed, the lease
     * it gives does not fit the layout, an {@link Error}); then the generator ends, and calls say why.
     */
    private void replace(LockFreeSnowflakeGenerator lost) {
        try {
            lost.markLost(); // callers racing this see WorkerLeaseLostException, not "closed"
            lost.close(); // and its lease closed: its last timestamp is final
            long floor = lost.lastTimestamp();
            long pauseNanos = FIRST_RETRY_PAUSE.toNanos();
            for (int attempt = 1; closedSignal.getCount() > 0; attempt++) {
                LockFreeSnowflakeGenerator next;
                try {
                    next = buildOnNewLease(floor, true);
                } catch (AssignerClosed | IllegalArgumentException e) {
                    end(lost, e);
                    return;
                } catch (RuntimeException e) {
                    synchronized (lock) {
                        lastLeaseFailure = e;
                    }
                    log.warn("worker id {}: leasing a new worker id failed (attempt {}), trying again in {} ms: {}",
                            lost.workerId(), attempt, TimeUnit.NANOSECONDS.toMillis(pauseNanos), e.toString());
                    if (closedSignal.await(pauseNanos, TimeUnit.NANOSECONDS)) {
                        return;
                    }
                    pauseNanos = Math.min(2 * pauseNanos, MAX_RETRY_PAUSE.toNanos());
                    continue;
                }
                boolean published;
                synchronized (lock) {
                    published = !closed;
                    if (published) {
                        current = next;
                        lastLeaseFailure = null;
                        leases++;
                    }
                }
                if (!published) {
                    next.close(); // the generator was closed while this one was being built
                    return;
                }
                watch(next);
                log.info("worker id {}: ids go on with worker id {}, above timestamp {}", lost.workerId(),
                        next.workerId(), floor);
                return;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // nobody interrupts this thread; if someone does, it ends
        } catch (RuntimeException | Error e) {
            end(lost, e);
            throw e;
        } finally {
            synchronized (lock) {
                releasing = null;
            }
        }
    }

    /** No more leases: calls on the generator throw, saying why. */
    private void end(LockFreeSnowflakeGenerator lost, Throwable why) {
        synchronized (lock) {
            lastLeaseFailure = why instanceof AssignerClosed closedAssigner ? closedAssigner.getCause() : why;
            ended = true;
        }
        log.warn("worker id {}: no new worker id, and no more tries: this generator issues no more ids: {}",
                lost.workerId(), why.toString());
    }

    // --- the rest -------------------------------------------------------------------------------------

    /**
     * Closes the current generator (and its lease), and stops a re-lease in progress without waiting for
     * it: its pause ends at once; a lease it is acquiring, and a generator it is building on it (which may
     * wait up to {@code maxStartupWait} for the clock), are closed once built, without issuing an id.
     */
    @Override
    public void close() {
        LockFreeSnowflakeGenerator g;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            g = current;
        }
        closedSignal.countDown(); // a re-lease thread pausing ends; one building closes what it builds
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

    /** The assigner said it is closed while re-leasing: no lease will come from it again. */
    private static final class AssignerClosed extends RuntimeException {
        AssignerClosed(IllegalStateException cause) {
            super(cause.getMessage(), cause);
        }
    }
}
