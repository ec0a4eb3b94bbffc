package io.distkit.id.segment;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdGenerator;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.Segment;
import io.distkit.id.SegmentAllocator;
import io.distkit.id.Ticker;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link SegmentIdGenerator}: the current segment in a volatile field, each segment with its own
 * counter; an id is one {@code getAndIncrement} on it and a compare with the segment's end.
 *
 * <p><b>Invariant.</b> Every id returned comes from a successful increment of a segment's counter that
 * returned a value below the segment's end: the counters never go back, each segment came from the
 * allocator for this tag (disjoint from every other), so no id repeats. Callers that find the counter
 * past the end move {@link #current} on to the next segment under {@link #lock}; counters overshoot
 * their end by the calls that raced the switch, and those values are never returned.
 *
 * <p><b>Fetching.</b> The one call whose increment returns exactly the segment's {@code prefetchAt}
 * starts the fetch of the next segment; so does a caller that finds both buffers empty when no fetch
 * runs. One fetch at a time ({@link #fetching}), never two: two could complete out of order. A failed
 * one is retried by the executor after a growing pause, while the generator is open and the next
 * buffer is empty. Callers wait on {@link #changed} for a fetch to complete, up to maxWait. A fetch
 * on a caller's thread (the store is faster than a thread hand-over) runs without the lock too, so the
 * callers that wait for it keep their bound. Every change of {@link #current} or {@link #next}, and every
 * failure, signals {@link #changed}.
 *
 * <p><b>Closing</b> swaps in {@link #CLOSED}, a segment with no ids, so that the hot path needs no
 * check of its own: calls fall through to the slow path, which sees {@link #closed} and throws.
 */
final class DoubleBufferedSegmentGenerator implements SegmentIdGenerator {

    private static final Logger log = LoggerFactory.getLogger(SegmentIdGenerator.class);

    static final Duration FIRST_RETRY_PAUSE = Duration.ofMillis(50);
    static final Duration MAX_RETRY_PAUSE = Duration.ofSeconds(2);
    /** One fetch on a caller's thread in this many is timed (when no metrics hooks are set). */
    static final int TIMED_INLINE_FETCHES = 16;

    /** {@link Buffer#prefetchAt} of a segment whose successor is fetched on the caller's thread when it runs out. */
    private static final long NO_PREFETCH = Long.MIN_VALUE;

    /** One segment being served: its counter, where it ends and where it asks for the next. */
    static final class Buffer {
        final Segment segment;
        final long end;
        /** The counter value whose call starts the fetch of the next segment; {@link #NO_PREFETCH} for none. */
        final long prefetchAt;
        final AtomicLong next;

        Buffer(Segment segment, double threshold, boolean prefetch) {
            this.segment = segment;
            this.end = segment.endExclusive();
            this.prefetchAt = prefetch ? segment.start() + (long) (segment.size() * threshold) : NO_PREFETCH;
            this.next = new AtomicLong(segment.start());
        }

        /** Whether the counter value {@code id} is an id of this segment (the counter may have wrapped past the end). */
        boolean holds(long id) {
            return id - end < 0;
        }
    }

    private static final Buffer CLOSED = usedUp(new Buffer(new Segment("closed", 0, 1), 0, false));

    private static Buffer usedUp(Buffer b) {
        b.next.set(b.end);
        return b;
    }

    private final SegmentAllocator allocator;
    private final String tag;
    private final long minStep;
    private final long maxStep;
    private final double threshold;
    private final long maxWaitNanos;
    private final Duration maxWait;
    private final long growBelowNanos;
    private final long shrinkAboveNanos;
    private final SegmentMetrics metrics;
    private final Ticker ticker;
    private final @Nullable ScheduledExecutorService executor;
    private final long inlineFetchNanos;

    private volatile Buffer current;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    // guarded by lock:
    private @Nullable Buffer next;
    private boolean fetching;
    private boolean closed;
    private long step;
    /** End of the last segment fetched: the next must start at or above it. */
    private long lastEnd;
    /** Ticker value when the newest segment was asked for. */
    private long lastFetchAt;
    /** Ticker value when the fetch running now was asked for. */
    private long lastRequestAt;
    private @Nullable Throwable lastFailure;
    /** Ticker value of the last failure. */
    private long lastFailureAt;
    private int failuresInARow;
    /**
     * The last fetch failed with a refusal that waiting will not change ({@link IdGenerationException}
     * other than {@link IdSourceUnavailableException}: an overflow, an unknown tag, a broken allocator): no
     * retry is scheduled, and callers that find both buffers empty throw it at once (each such call starts
     * one new attempt, in case the cause was mended).
     */
    private boolean refused;
    private volatile long stepView; // step, for step() without the lock
    /** Fetches on callers' threads since the last timed one. */
    private int inlineFetches;
    /**
     * The last fetch took less than {@code inlineFetchNanos}: the store answers faster than a hand-over to
     * another thread would take, so the next segment is fetched on the caller's thread when the current
     * one runs out (no prefetch, no background thread), as a plain single-buffer generator would.
     */
    private boolean inline;

    DoubleBufferedSegmentGenerator(SegmentIdGenerator.Builder b, long firstStep) {
        this.allocator = b.allocator;
        this.tag = b.tag;
        this.minStep = b.minStep;
        this.maxStep = b.maxStep;
        this.threshold = b.prefetchThreshold;
        this.maxWait = b.maxWait;
        this.maxWaitNanos = b.maxWait.toNanos();
        this.growBelowNanos = b.growBelow.toNanos();
        this.shrinkAboveNanos = b.shrinkAbove.toNanos();
        this.metrics = b.metrics;
        this.ticker = b.ticker;
        this.executor = b.executor; // null: the shared pools
        this.inlineFetchNanos = b.inlineFetchBelow.toNanos();
        this.step = firstStep;
        this.stepView = firstStep;
        long started = ticker.read();
        Segment first = allocator.allocate(tag, firstStep); // throws: the build fails, nothing to clean up
        long took = ticker.read() - started;
        checkSegment(first, firstStep, -1);
        lastEnd = first.endExclusive();
        lastFetchAt = started;
        inline = took < inlineFetchNanos;
        reportFetched(first, took);
        current = new Buffer(first, threshold, !inline);
        log.debug("{} started", this);
    }

    // --- hot path ---------------------------------------------------------------------------------

    @Override
    public long nextId() {
        Buffer b = current;
        long id = b.next.getAndIncrement();
        if (b.holds(id)) {
            if (id == b.prefetchAt) {
                prefetch(b);
            }
            return id;
        }
        return nextIdSlow(b);
    }

    private long nextIdSlow(Buffer exhausted) {
        Buffer b = exhausted;
        for (;;) {
            b = moveOn(b);
            long id = b.next.getAndIncrement();
            if (b.holds(id)) {
                if (id == b.prefetchAt) {
                    prefetch(b);
                }
                return id;
            }
        }
    }

    @Override
    public long[] nextIds(int count) {
        IdGenerator.checkBatchCount(count);
        long[] ids = new long[count];
        int filled = 0;
        Buffer b = current;
        for (;;) {
            int want = count - filled;
            long first = b.next.getAndAdd(want);
            if (b.holds(first)) {
                int run = (int) Math.min(want, b.end - first);
                for (int i = 0; i < run; i++) {
                    ids[filled + i] = first + i;
                }
                if (b.prefetchAt != NO_PREFETCH && b.prefetchAt - first >= 0 && b.prefetchAt - first < want) {
                    prefetch(b); // the run passed the threshold
                }
                filled += run;
                if (filled == count) {
                    return ids;
                }
            }
            b = moveOn(b);
        }
    }

    // --- the slow path: moving on to the next segment ----------------------------------------------

    /**
     * Returns a segment newer than {@code exhausted} to try: the current one if another caller moved on
     * meanwhile, else the next buffer, waiting for it up to maxWait (starting a fetch if none runs).
     */
    private Buffer moveOn(Buffer exhausted) {
        lock.lock();
        try {
            long waitStart = 0;
            boolean interrupted = false;
            try {
                for (;;) {
                    if (closed) {
                        throw new IllegalStateException("the segment id generator of tag '" + tag + "' is closed");
                    }
                    Buffer now = current;
                    if (now != exhausted) {
                        if (waitStart != 0) {
                            reportWait(ticker.read() - waitStart, true);
                        }
                        return now;
                    }
                    Buffer ready = next;
                    if (ready != null) {
                        next = null;
                        current = ready; // its threshold call fetches the one after
                        continue; // returns it, and reports the wait if there was one
                    }
                    if (!fetching) {
                        if (inline && !refused) {
                            fetchInline(); // unlocks meanwhile; publishes the segment as current, or records the failure
                            continue;
                        } else if (refused && ticker.read() - lastFailureAt < FIRST_RETRY_PAUSE.toNanos()) {
                            // refused a moment ago: throw below, without asking again at once
                        } else {
                            long fetchStep = startFetch(); // refused before, or the prefetch was never due
                            long requestedAt = lastRequestAt;
                            submit(() -> fetch(fetchStep, requestedAt), 0);
                        }
                    }
                    if (refused) {
                        throw new IdGenerationException("no id for tag '" + tag + "': both segment buffers are empty"
                                + " and the allocator refused the next segment: " + lastFailure, lastFailure);
                    }
                    long t = ticker.read();
                    if (waitStart == 0) {
                        waitStart = t == 0 ? 1 : t;
                    }
                    long left = maxWaitNanos - (t - waitStart);
                    if (left <= 0) {
                        reportWait(t - waitStart, false);
                        throw unavailable();
                    }
                    try {
                        changed.awaitNanos(left);
                    } catch (InterruptedException e) {
                        interrupted = true; // the wait is bounded: finish it, keep the flag
                    }
                }
            } finally {
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        } finally {
            lock.unlock();
        }
    }

    private IdSourceUnavailableException unavailable() {
        Throwable cause = lastFailure;
        String source = cause instanceof IdSourceUnavailableException u ? u.source() : allocator.toString();
        String why = cause == null
                ? "the fetch of the next segment (step " + step + ") has not completed"
                : "fetching the next segment failed " + failuresInARow + " time(s) in a row, the last with: " + cause;
        return new IdSourceUnavailableException(source, "no id for tag '" + tag + "': both segment buffers are"
                + " empty and no segment arrived within maxWait " + maxWait + "; " + why
                + "; fetches are retried in the background", cause);
    }

    /** Called once per segment, by the call that reached its threshold. */
    private void prefetch(Buffer b) {
        lock.lock();
        try {
            if (!closed && current == b && next == null && !fetching) {
                long fetchStep = startFetch();
                long requestedAt = lastRequestAt;
                submit(() -> fetch(fetchStep, requestedAt), 0);
            }
        } finally {
            lock.unlock();
        }
    }

    // --- fetching ------------------------------------------------------------------------------------

    /**
     * Marks a fetch as running, adapts the step, and returns it; the caller submits the fetch.
     * Holding the lock; no fetch is running and the next buffer is empty.
     */
    private long startFetch() {
        long now = ticker.read();
        lastRequestAt = now;
        if (failuresInARow == 0) {
            adapt(now - lastFetchAt); // not on a retry after a failure: the time it failed for says nothing of demand
        }
        fetching = true;
        return step;
    }

    /** Doubles or halves the step for a segment that lasted {@code lastedNanos}. Holding the lock. */
    private void adapt(long lastedNanos) {
        long adapted = step;
        if (lastedNanos < growBelowNanos) {
            adapted = Math.min(maxStep, step * 2);
        } else if (lastedNanos > shrinkAboveNanos) {
            adapted = Math.max(minStep, step / 2);
        }
        if (adapted != step) {
            log.debug("tag '{}': segments lasted {} ms; step {} -> {}", tag, lastedNanos / 1_000_000, step, adapted);
            step = adapted;
            stepView = adapted;
        }
    }

    /**
     * Fetches the next segment on the caller's thread and makes it current; on failure records it (and
     * the retry in the background) through {@link #fetchFailed}. Called holding the lock, with no fetch
     * running; releases it while the allocator works, so other callers wait on {@link #changed} with their
     * bound, and returns holding it. Only every {@link #TIMED_INLINE_FETCHES}th fetch is timed (every one
     * when metrics hooks are set): two ticker readings would cost as much as an in-memory fetch, and the
     * unlucky caller that switches segments would pay them. The step adapts at the timed fetches, to how
     * long the segments since the previous timed one lasted on average.
     */
    private void fetchInline() {
        boolean timed = metrics != SegmentMetrics.NONE || ++inlineFetches % TIMED_INLINE_FETCHES == 0;
        long started = 0;
        if (timed) {
            started = ticker.read();
            adapt((started - lastFetchAt) / Math.max(1, inlineFetches));
            inlineFetches = 0;
            lastFetchAt = started;
        }
        long requestedAt = lastFetchAt;
        long fetchStep = step;
        long previousEnd = lastEnd;
        fetching = true;
        Segment segment;
        lock.unlock();
        try {
            segment = allocator.allocate(tag, fetchStep);
            checkSegment(segment, fetchStep, previousEnd);
        } catch (RuntimeException | Error e) {
            lock.lock();
            fetchFailed(e, fetchStep, requestedAt, timed ? ticker.read() - started : 0); // clears or re-arms fetching
            return;
        }
        long took = timed ? ticker.read() - started : 0;
        lock.lock();
        Buffer fetched = succeeded(segment, timed, took);
        if (!closed) {
            current = fetched;
        }
        changed.signalAll();
        if (timed) {
            reportFetched(segment, took); // under the lock: rare, and hooks must be quick
        }
    }

    /** Runs {@code task} on the executor after {@code delayNanos}. Holding the lock. */
    private void submit(Runnable task, long delayNanos) {
        try {
            if (executor == null) {
                SharedExecutor.run(task, delayNanos);
            } else {
                executor.schedule(task, delayNanos, TimeUnit.NANOSECONDS);
            }
        } catch (RuntimeException e) { // a user's executor that was shut down
            fetching = false;
            refused = true; // nothing will fetch: callers throw at once instead of waiting for nothing
            lastFailure = new IdGenerationException("the executor " + executor + " rejected the fetch of the next"
                    + " segment (was it shut down? it must outlive the generator)", e);
            lastFailureAt = ticker.read();
            changed.signalAll();
            log.warn("tag '{}': {}", tag, lastFailure.getMessage());
        }
    }

    /**
     * On the executor: one attempt to reserve the next segment.
     *
     * @param requestedAt ticker value when the fetch was asked for: how long the next segment lasts is
     *     measured from there
     */
    private void fetch(long fetchStep, long requestedAt) {
        long previousEnd;
        lock.lock();
        try {
            if (closed) {
                fetching = false;
                return;
            }
            previousEnd = lastEnd; // no other fetch runs: it stays so until this one publishes
        } finally {
            lock.unlock();
        }
        long started = ticker.read();
        Segment segment;
        try {
            segment = allocator.allocate(tag, fetchStep);
            checkSegment(segment, fetchStep, previousEnd);
        } catch (RuntimeException | Error e) {
            fetchFailed(e, fetchStep, requestedAt, ticker.read() - started);
            return;
        }
        long took = ticker.read() - started;
        lock.lock();
        try {
            lastFetchAt = requestedAt;
            Buffer fetched = succeeded(segment, true, took);
            if (!closed) {
                next = fetched;
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        reportFetched(segment, took);
    }

    /**
     * Records a fetch that returned {@code segment}, in {@code tookNanos} if {@code timed}, and returns its
     * buffer for the caller to publish. Holding the lock.
     */
    private Buffer succeeded(Segment segment, boolean timed, long tookNanos) {
        fetching = false;
        lastEnd = segment.endExclusive();
        if (timed) {
            inline = tookNanos < inlineFetchNanos;
        }
        if (failuresInARow > 0) {
            log.info("tag '{}': fetching segments works again after {} failure(s)", tag, failuresInARow);
            failuresInARow = 0;
        }
        lastFailure = null;
        refused = false;
        return new Buffer(segment, threshold, !inline);
    }

    /** Records a failed fetch and arms its retry (or not, for a refusal), then tells the metrics hook. */
    private void fetchFailed(Throwable e, long fetchStep, long requestedAt, long took) {
        lock.lock();
        try {
            lastFailure = e;
            lastFailureAt = ticker.read();
            failuresInARow++;
            refused = e instanceof IdGenerationException && !(e instanceof IdSourceUnavailableException);
            if (closed) {
                fetching = false;
            } else if (refused) {
                fetching = false;
                log.warn("tag '{}': the allocator refused the next segment; not asked again until a caller needs it: {}",
                        tag, e.toString());
            } else {
                long pause = Math.min(MAX_RETRY_PAUSE.toNanos(),
                        FIRST_RETRY_PAUSE.toNanos() << Math.min(20, failuresInARow - 1));
                if (failuresInARow == 1) {
                    log.warn("tag '{}': fetching the next segment from {} failed; retrying in {} ms, then less and"
                            + " less often, up to every {}: {}", tag, allocator, pause / 1_000_000, MAX_RETRY_PAUSE,
                            e.toString());
                } else {
                    log.debug("tag '{}': fetching the next segment failed again ({} in a row): {}", tag,
                            failuresInARow, e.toString());
                }
                submit(() -> fetch(fetchStep, requestedAt), pause);
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        hook("fetchFailed", () -> metrics.fetchFailed(tag, e, Duration.ofNanos(took)));
    }

    /**
     * @throws IdGenerationException if the allocator broke its contract: another tag, an empty range, or
     *     a range below the previous one (ids could repeat or decrease)
     */
    private void checkSegment(Segment segment, long requested, long previousEnd) {
        if (segment == null) {
            throw new IdGenerationException(allocator + " returned no segment for tag '" + tag + "'");
        }
        if (!segment.tag().equals(tag)) {
            throw new IdGenerationException(allocator + " returned " + segment + " for tag '" + tag + "'");
        }
        if (segment.start() < previousEnd) {
            throw new IdGenerationException(allocator + " returned " + segment + " for tag '" + tag + "', below the end "
                    + previousEnd + " of the previous segment (asked for " + requested + " ids): its ids could repeat"
                    + " ids issued already; none of it is used");
        }
    }

    private void reportFetched(Segment segment, long tookNanos) {
        hook("segmentFetched", () -> metrics.segmentFetched(tag, segment, Duration.ofNanos(tookNanos)));
    }

    private void reportWait(long waitedNanos, boolean served) {
        hook("emptyBufferWait", () -> metrics.emptyBufferWait(tag, Duration.ofNanos(waitedNanos), served));
    }

    /** Calls a metrics hook; what it throws is logged and dropped (a hook must not break the generator). */
    private void hook(String name, Runnable call) {
        try {
            call.run();
        } catch (RuntimeException e) {
            log.warn("tag '{}': the metrics hook {} threw: {}", tag, name, e.toString());
        }
    }

    // --- the rest -------------------------------------------------------------------------------------

    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            next = null;
            current = CLOSED;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        log.debug("segment id generator of tag '{}' closed", tag);
    }

    @Override
    public String tag() {
        return tag;
    }

    @Override
    public long step() {
        return stepView;
    }

    /** The segment being served (tests); {@code null} once closed. */
    @Nullable Segment currentSegment() {
        Buffer b = current;
        return b == CLOSED ? null : b.segment;
    }

    /** The segment fetched and waiting, if any (tests). */
    @Nullable Segment nextSegment() {
        lock.lock();
        try {
            return next == null ? null : next.segment;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public String toString() {
        Buffer b = current;
        return "SegmentIdGenerator[tag '" + tag + "', " + (b == CLOSED ? "closed" : "serving " + b.segment)
                + ", step " + stepView + ", " + allocator + "]";
    }

    /**
     * What generators given no executor share: a cached pool of daemon threads for the fetches (each may
     * block in the store for as long as the store's timeout, and one tag's hung store must not hold up
     * another's fetch: one thread per fetch in flight, idle ones ending after 30 s), and one daemon thread
     * that only times the pauses before retries.
     */
    static final class SharedExecutor {
        private static final AtomicInteger THREADS = new AtomicInteger();
        private static final ExecutorService FETCHES = Executors.newCachedThreadPool(
                task -> daemon(task, "distkit-segment-fetch-" + THREADS.incrementAndGet()));
        private static final ScheduledExecutorService PAUSES = Executors.newSingleThreadScheduledExecutor(
                task -> daemon(task, "distkit-segment-retry-timer"));

        private SharedExecutor() {}

        static void run(Runnable task, long delayNanos) {
            if (delayNanos <= 0) {
                FETCHES.execute(task);
            } else {
                PAUSES.schedule(() -> FETCHES.execute(task), delayNanos, TimeUnit.NANOSECONDS);
            }
        }

        private static Thread daemon(Runnable task, String name) {
            Thread thread = new Thread(task, name);
            thread.setDaemon(true);
            return thread;
        }
    }
}
