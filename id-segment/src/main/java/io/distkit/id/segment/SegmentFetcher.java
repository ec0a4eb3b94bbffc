package io.distkit.id.segment;

import io.distkit.id.IdGenerationException;
import io.distkit.id.Segment;
import io.distkit.id.SegmentAllocator;
import io.distkit.id.Ticker;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Asks the allocator for segments: with which step, on which thread, timed or not, and whether the answer may be used.
 *
 * <p><b>Step.</b> Each fetch asks for {@link #step()} ids; the step doubles when the segments before
 * lasted less than growBelow, halves when they lasted more than shrinkAbove, within {@code [minStep, maxStep]}.
 * A retry after a failure keeps its step: the time it failed for says nothing of demand.
 *
 * <p><b>Thread.</b> A store whose last timed fetch answered faster than inlineFetchBelow is asked on the
 * caller's thread when the segment runs out ({@link #fetchesOnCallersThread()}): a hand-over to another
 * thread would cost more. Only one such fetch in {@link #TIMED_INLINE_FETCHES} is timed (every one when
 * metrics hooks are set), since two ticker readings cost as much as an in-memory fetch; the step adapts at
 * the timed ones, to how long the segments since the previous timed one lasted on average. Every other
 * fetch runs in the background, on the user's executor or {@link SharedFetchExecutor}, and is timed.
 *
 * <p><b>Checks.</b> A segment of another tag, or one that starts below the end of the previous one, is
 * refused: its ids could repeat ids issued already.
 *
 * <p>Not thread-safe: {@link BufferSwitch} calls it holding its lock, but for {@link #call}, which runs
 * without it while the switch's state (a fetch in flight) keeps every other fetch out.
 */
final class SegmentFetcher {

    private static final Logger log = LoggerFactory.getLogger(SegmentIdGenerator.class);

    /** One fetch on a caller's thread in this many is timed (when no metrics hooks are set). */
    static final int TIMED_INLINE_FETCHES = 16;

    /**
     * One fetch, fixed when it starts; its retries keep it.
     *
     * @param previousEnd the end of the last segment fetched: the new one must start at or above it
     * @param requestedAt ticker value from which the segment it fetches is taken to last
     * @param onCallersThread run by the caller that found the segment used up, rather than in the background
     * @param timed whether the allocator call is timed (always, in the background)
     * @param startedAt for a timed fetch on a caller's thread: the ticker value read when it started
     */
    record Fetch(long step, long previousEnd, long requestedAt, boolean onCallersThread, boolean timed, long startedAt) {

        /** The same fetch, to be tried again in the background. */
        Fetch retry() {
            return onCallersThread ? new Fetch(step, previousEnd, requestedAt, false, true, 0) : this;
        }
    }

    /** What one allocator call gave: a checked segment, or what it threw; and how long it took (0 if untimed). */
    record Outcome(@Nullable Segment segment, @Nullable Throwable failure, long tookNanos) {}

    private final SegmentAllocator allocator;
    private final String tag;
    private final long minStep;
    private final long maxStep;
    private final double threshold;
    private final long growBelowNanos;
    private final long shrinkAboveNanos;
    private final long inlineFetchNanos;
    private final Ticker ticker;
    private final @Nullable ScheduledExecutorService executor;
    private final MetricsHooks metrics;
    private final FetchFailures failures;

    /** Written holding the switch's lock; volatile for {@link #step()} without it. */
    private volatile long step;
    /** End of the last segment fetched: the next must start at or above it. */
    private long lastEnd;
    /** Ticker value when the newest segment was asked for. */
    private long lastFetchAt;
    /** Fetches on callers' threads since the last timed one. */
    private int inlineFetches;
    /** The last timed fetch took less than inlineFetchBelow: fetch on the caller's thread, without a prefetch. */
    private boolean inline;

    SegmentFetcher(SegmentIdGenerator.Builder b, long firstStep, MetricsHooks metrics, FetchFailures failures) {
        this.allocator = b.allocator;
        this.tag = b.tag;
        this.minStep = b.minStep;
        this.maxStep = b.maxStep;
        this.threshold = b.prefetchThreshold;
        this.growBelowNanos = b.growBelow.toNanos();
        this.shrinkAboveNanos = b.shrinkAbove.toNanos();
        this.inlineFetchNanos = b.inlineFetchBelow.toNanos();
        this.ticker = b.ticker;
        this.executor = b.executor; // null: the shared pools
        this.metrics = metrics;
        this.failures = failures;
        this.step = firstStep;
    }

    /**
     * Fetches the first segment on the caller's thread and returns its buffer.
     *
     * @throws RuntimeException as the allocator throws it, or {@link IdGenerationException} if it broke its contract
     */
    SegmentBuffer fetchFirst() {
        long started = ticker.read();
        Segment first = allocator.allocate(tag, step);
        long took = ticker.read() - started;
        check(first, step, -1);
        lastEnd = first.endExclusive();
        lastFetchAt = started;
        inline = took < inlineFetchNanos;
        metrics.segmentFetched(first, took);
        return new SegmentBuffer(first, threshold, !inline);
    }

    /** Whether the next segment is fetched on the caller's thread when the current one runs out. */
    boolean fetchesOnCallersThread() {
        return inline;
    }

    /** Starts a fetch to run in the background, adapting the step first unless it retries a failure. */
    Fetch startInBackground() {
        long now = ticker.read();
        if (failures.inARow() == 0) {
            adapt(now - lastFetchAt);
        }
        return new Fetch(step, lastEnd, now, false, true, 0);
    }

    /** Starts a fetch to run on the caller's thread; timed (and the step adapted) one time in {@link #TIMED_INLINE_FETCHES}. */
    Fetch startOnCallersThread() {
        boolean timed = metrics.set() || ++inlineFetches % TIMED_INLINE_FETCHES == 0;
        long started = 0;
        if (timed) {
            started = ticker.read();
            adapt((started - lastFetchAt) / Math.max(1, inlineFetches));
            inlineFetches = 0;
            lastFetchAt = started;
        }
        return new Fetch(step, lastEnd, lastFetchAt, true, timed, started);
    }

    /** Doubles or halves the step for a segment that lasted {@code lastedNanos}. */
    private void adapt(long lastedNanos) {
        long current = step;
        long adapted = current;
        if (lastedNanos < growBelowNanos) {
            adapted = Math.min(maxStep, current * 2);
        } else if (lastedNanos > shrinkAboveNanos) {
            adapted = Math.max(minStep, current / 2);
        }
        if (adapted != current) {
            log.debug("tag '{}': segments lasted {} ms; step {} -> {}", tag, lastedNanos / 1_000_000, current, adapted);
            step = adapted;
        }
    }

    /** Calls the allocator for {@code fetch} and checks its answer; what it throws is returned, not thrown. */
    Outcome call(Fetch fetch) {
        boolean timed = fetch.timed();
        long started = !timed ? 0 : fetch.onCallersThread() ? fetch.startedAt() : ticker.read();
        Segment segment;
        try {
            segment = allocator.allocate(tag, fetch.step());
            check(segment, fetch.step(), fetch.previousEnd());
        } catch (RuntimeException | Error e) {
            return new Outcome(null, e, timed ? ticker.read() - started : 0);
        }
        return new Outcome(segment, null, timed ? ticker.read() - started : 0);
    }

    /**
     * @throws IdGenerationException if the allocator broke its contract: no segment, another tag, or a
     *     range below the previous one (ids could repeat or decrease)
     */
    private void check(@Nullable Segment segment, long requested, long previousEnd) {
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

    /** Records that {@code fetch} returned {@code segment} in {@code tookNanos}, and returns its buffer. */
    SegmentBuffer succeeded(Fetch fetch, Segment segment, long tookNanos) {
        if (!fetch.onCallersThread()) {
            lastFetchAt = fetch.requestedAt();
        }
        lastEnd = segment.endExclusive();
        if (fetch.timed()) {
            inline = tookNanos < inlineFetchNanos;
        }
        failures.succeeded();
        return new SegmentBuffer(segment, threshold, !inline);
    }

    /**
     * Runs {@code task} on the executor after {@code delayNanos}; false, the rejection recorded as the
     * last failure, if the user's executor rejected it (it was shut down).
     */
    boolean execute(Runnable task, long delayNanos) {
        try {
            if (executor == null) {
                SharedFetchExecutor.run(task, delayNanos);
            } else {
                executor.schedule(task, delayNanos, TimeUnit.NANOSECONDS);
            }
            return true;
        } catch (RuntimeException e) {
            failures.rejected(executor, e);
            return false;
        }
    }

    /** The step the next fetch asks for. */
    long step() {
        return step;
    }

    SegmentAllocator allocator() {
        return allocator;
    }
}
