package io.distkit.id.segment;

import io.distkit.id.Segment;
import io.distkit.id.Ticker;
import java.time.Duration;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * Moves a generator from a used-up buffer to the next one: starts fetches, holds the segment fetched, makes callers wait.
 *
 * <p><b>States.</b> Where the next segment stands is one {@link State}, changed only under {@link #lock}:
 * <pre>
 *   IDLE     → FETCHING   the threshold call (threshold 0: the slow path that made a segment current), or a
 *                         caller that ran out, starts a fetch
 *   FETCHING → READY      fetched in the background: the segment waits in next
 *   FETCHING → IDLE       fetched on a caller's thread: the segment is made current at once
 *   FETCHING → FETCHING   failed: retried after a pause
 *   FETCHING → REFUSED    refused, or the executor rejected the fetch
 *   READY    → IDLE       a caller ran out: next is made current
 *   REFUSED  → REASKING   a caller ran out after the first retry pause (or a threshold call): asks again
 *   REASKING → READY, FETCHING, REFUSED   as from FETCHING
 *   any      → CLOSED     close, for good
 * </pre>
 * One fetch at a time (FETCHING, REASKING),
 * never two: two could complete out of order. Every change of {@link #current} or {@link #next}, and every
 * failure, signals {@link #changed}; callers wait there for a fetch, up to maxWait.
 *
 * <p><b>Locking.</b> Every method takes and releases the lock itself; none is called holding it but the
 * private ones that say so. A fetch on a caller's thread runs without the lock too, so the callers that
 * wait for it keep their bound.
 *
 * <p>The generator extends this class rather than holding it, so that its hot path reads {@link #current}
 * as a field of its own: one volatile load, as before the split.
 */
abstract class BufferSwitch {

    /** Where the next segment stands. */
    enum State {
        /** No next segment and no fetch: the next is fetched at the current's threshold, or when it runs out. */
        IDLE,
        /** One fetch in flight (in the background or on a caller's thread), or waiting out its retry pause. */
        FETCHING,
        /** The next segment waits in {@link #next}. */
        READY,
        /**
         * The last fetch was refused (an overflow, an unknown tag, a broken allocator), or the executor
         * rejected it: nothing is fetching, and callers that run out throw at once.
         */
        REFUSED,
        /** A caller asked again after a refusal: one fetch in flight, and callers that run out still throw at once. */
        REASKING,
        /** Closed: no id is served again. */
        CLOSED
    }

    /** The buffer served; read by the hot path without the lock, written only here, holding it. */
    volatile SegmentBuffer current;

    final String tag;
    final SegmentFetcher fetcher;
    private final FetchFailures failures;
    private final MetricsHooks metrics;
    private final Ticker ticker;
    private final long maxWaitNanos;
    private final Duration maxWait;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    // guarded by lock:
    private State state = State.IDLE;
    /** The segment fetched and waiting: not null exactly in {@link State#READY}. */
    private @Nullable SegmentBuffer next;

    /** Fetches the first segment on the caller's thread; what the allocator throws, throws. */
    BufferSwitch(SegmentIdGenerator.Builder b, long firstStep) {
        this.tag = b.tag;
        this.ticker = b.ticker;
        this.maxWait = b.maxWait;
        this.maxWaitNanos = b.maxWait.toNanos();
        this.metrics = new MetricsHooks(b.metrics, b.tag);
        this.failures = new FetchFailures(b.allocator, b.tag, b.ticker);
        this.fetcher = new SegmentFetcher(b, firstStep, metrics, failures);
        this.current = fetcher.fetchFirst(); // throws: the build fails, nothing to clean up
        lock.lock();
        try {
            inUse(current);
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code b} was just made current: with threshold 0 its successor is asked for now, here on the slow
     * path, rather than at a prefetch point the hot path would have to test. Holding the lock.
     */
    private void inUse(SegmentBuffer b) {
        if (b.fetchNextOnUse && state == State.IDLE) {
            startInBackground();
        }
    }

    /** Called once per segment, by the call that reached its threshold: starts the fetch of the next. */
    final void prefetch(SegmentBuffer b) {
        lock.lock();
        try {
            if (current == b && (state == State.IDLE || state == State.REFUSED)) {
                startInBackground();
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Returns a buffer newer than {@code exhausted} to try: the current one if another caller moved on
     * meanwhile, else the next one, fetching it on this thread or waiting for it up to maxWait.
     *
     * @throws IllegalStateException if the generator is closed
     * @throws io.distkit.id.IdSourceUnavailableException if no segment arrived within maxWait
     * @throws io.distkit.id.IdGenerationException if the allocator refused the next segment
     */
    final SegmentBuffer moveOn(SegmentBuffer exhausted) {
        long waitStart = 0; // ticker value when this caller began to wait, never 0 once it has
        boolean interrupted = false;
        try {
            for (;;) {
                SegmentFetcher.Fetch inline;
                lock.lock();
                try {
                    for (;;) {
                        if (state == State.CLOSED) {
                            throw new IllegalStateException("the segment id generator of tag '" + tag + "' is closed");
                        }
                        SegmentBuffer now = current;
                        if (now != exhausted) {
                            if (waitStart != 0) {
                                metrics.emptyBufferWait(ticker.read() - waitStart, true);
                            }
                            return now;
                        }
                        if (state == State.READY) {
                            current = next; // its threshold call fetches the one after (threshold 0: inUse, now)
                            next = null;
                            state = State.IDLE;
                            inUse(current);
                            continue; // returns it, and reports the wait if there was one
                        }
                        if (state == State.IDLE && fetcher.fetchesOnCallersThread()) {
                            state = State.FETCHING;
                            inline = fetcher.startOnCallersThread();
                            break; // fetched below, without the lock
                        }
                        if (state == State.IDLE || state == State.REFUSED && failures.pauseOver()) {
                            startInBackground(); // the prefetch was never due, or refused long enough ago
                        }
                        if (state == State.REFUSED || state == State.REASKING) {
                            throw failures.refusal();
                        }
                        long t = ticker.read(); // FETCHING: wait for it
                        if (waitStart == 0) {
                            waitStart = t == 0 ? 1 : t;
                        }
                        long left = maxWaitNanos - (t - waitStart);
                        if (left <= 0) {
                            metrics.emptyBufferWait(t - waitStart, false);
                            throw failures.unavailable(fetcher.step(), maxWait);
                        }
                        try {
                            changed.awaitNanos(left);
                        } catch (InterruptedException e) {
                            interrupted = true; // the wait is bounded: finish it, keep the flag
                        }
                    }
                } finally {
                    lock.unlock();
                }
                SegmentBuffer fetched = fetchOnCallersThread(inline);
                if (fetched != null) {
                    if (waitStart != 0) {
                        metrics.emptyBufferWait(ticker.read() - waitStart, true);
                    }
                    return fetched;
                } // else failed or closed: the loop throws or waits for the retry
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Starts a fetch in the background. Holding the lock, in IDLE or REFUSED. */
    private void startInBackground() {
        state = state == State.REFUSED ? State.REASKING : State.FETCHING;
        submit(fetcher.startInBackground(), 0);
    }

    /** Runs {@code fetch} on the executor after {@code delayNanos}. Holding the lock, a fetch in flight. */
    private void submit(SegmentFetcher.Fetch fetch, long delayNanos) {
        if (!fetcher.execute(() -> fetchInBackground(fetch), delayNanos)) { // a user's executor that was shut down
            state = State.REFUSED; // nothing will fetch: callers throw at once instead of waiting for nothing
            changed.signalAll();
        }
    }

    /** On the executor: one attempt of {@code fetch}; its segment becomes the next buffer. */
    private void fetchInBackground(SegmentFetcher.Fetch fetch) {
        lock.lock();
        try {
            if (state == State.CLOSED) {
                return;
            }
        } finally {
            lock.unlock();
        }
        SegmentFetcher.Outcome outcome = fetcher.call(fetch);
        Segment segment = outcome.segment();
        if (segment == null) {
            failed(fetch, outcome);
            return;
        }
        lock.lock();
        try {
            SegmentBuffer fetched = fetcher.succeeded(fetch, segment, outcome.tookNanos());
            if (state != State.CLOSED) {
                next = fetched;
                state = State.READY;
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        metrics.segmentFetched(segment, outcome.tookNanos());
    }

    /**
     * On a caller's thread, in FETCHING set by {@link #moveOn}: one attempt of {@code fetch}. Returns its
     * segment's buffer, made current; null if the attempt failed (recorded) or the generator was closed.
     */
    private @Nullable SegmentBuffer fetchOnCallersThread(SegmentFetcher.Fetch fetch) {
        SegmentFetcher.Outcome outcome = fetcher.call(fetch);
        Segment segment = outcome.segment();
        if (segment == null) {
            failed(fetch, outcome);
            return null;
        }
        lock.lock();
        try {
            SegmentBuffer fetched = fetcher.succeeded(fetch, segment, outcome.tookNanos());
            changed.signalAll();
            if (fetch.timed()) {
                metrics.segmentFetched(segment, outcome.tookNanos()); // under the lock: rare, and hooks must be quick
            }
            if (state == State.CLOSED) {
                return null;
            }
            current = fetched;
            state = State.IDLE;
            inUse(fetched);
            return fetched;
        } finally {
            lock.unlock();
        }
    }

    /** Records a failed attempt and arms its retry (or not, for a refusal), then tells the metrics hook. */
    private void failed(SegmentFetcher.Fetch fetch, SegmentFetcher.Outcome outcome) {
        Throwable e = outcome.failure();
        lock.lock();
        try {
            if (state != State.CLOSED) {
                long pause = failures.failed(e);
                if (pause == FetchFailures.NO_RETRY) {
                    state = State.REFUSED;
                } else {
                    state = State.FETCHING;
                    submit(fetch.retry(), pause);
                }
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        metrics.fetchFailed(e, outcome.tookNanos());
    }

    /**
     * Stops serving: the hot path then finds {@link SegmentBuffer#CLOSED}, with no ids, and the slow path
     * throws. A fetch in flight completes and its segment is dropped. Returns false if closed already.
     */
    final boolean closeBuffers() {
        lock.lock();
        try {
            if (state == State.CLOSED) {
                return false;
            }
            state = State.CLOSED;
            next = null;
            current = SegmentBuffer.CLOSED;
            changed.signalAll();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Where the next segment stands (tests). */
    final State state() {
        lock.lock();
        try {
            return state;
        } finally {
            lock.unlock();
        }
    }

    /** The segment being served (tests); {@code null} once closed. */
    final @Nullable Segment currentSegment() {
        SegmentBuffer b = current;
        return b == SegmentBuffer.CLOSED ? null : b.segment;
    }

    /** The segment fetched and waiting, if any (tests). */
    final @Nullable Segment nextSegment() {
        lock.lock();
        try {
            SegmentBuffer n = next;
            return n == null ? null : n.segment;
        } finally {
            lock.unlock();
        }
    }
}
