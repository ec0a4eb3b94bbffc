package io.distkit.id.segment;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdGenerator;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.SegmentAllocator;
import io.distkit.id.Ticker;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import org.jspecify.annotations.Nullable;

/**
 * Ids of one business tag, served from ranges ("segments") that a {@link SegmentAllocator} reserves
 * in a shared store: the Leaf design of Meituan, with two buffers.
 *
 * <pre>{@code
 * SegmentAllocator allocator = JdbcSegmentAllocator.builder(dataSource).build(); // id-backends, io.distkit.id.backends.jdbc
 * try (SegmentIdGenerator orders = SegmentIdGenerator.builder(allocator, "order").build()) {
 *     long id = orders.nextId();
 * }
 * }</pre>
 *
 * <p><b>How.</b> The generator holds the current segment and, once {@link Builder#prefetchThreshold
 * 10 %} of it is used, fetches the next one on a background thread, so that it is ready when the
 * current one runs out. An id is one atomic increment on the current segment: no lock, no store
 * call. A caller waits only when both buffers are empty (the store is slower than the demand, or
 * unreachable), up to {@link Builder#maxWait maxWait}, and then gets an
 * {@link IdSourceUnavailableException} naming the tag and the last failure; it never gets a magic
 * value. A failed fetch is retried in the background after 50 ms, 100 ms, … up to every 2 s.
 *
 * <p>A store that answers in less than {@value #INLINE_FETCH_MICROS} µs (an in-memory allocator) is
 * asked on the caller's thread when the segment runs out, without a prefetch: handing the fetch to
 * another thread and waking it would cost more than the fetch. The generator times one such fetch in 16
 * (every one when {@link Builder#metrics metrics hooks} are set) and goes back to prefetching in the
 * background as soon as a timed one takes longer; {@link Builder#inlineFetchBelow} changes the bound
 * ({@link Duration#ZERO}: always prefetch). Other callers wait for an inline fetch as for any other,
 * up to maxWait.
 *
 * <p><b>Guarantees.</b> No id is returned twice by any generator of the same tag on the same store,
 * across processes and restarts: each id lies in a range the allocator reserved for this generator
 * alone. Ids are not negative. The ids one generator returns to one thread strictly increase, and a
 * generator that replaces a closed or crashed one starts above every id it returned. Ids of a segment
 * that was fetched but not used up (the generator closed, the process died) are never used: gaps.
 *
 * <p><b>Adaptive step.</b> Each fetch asks for {@link #step()} ids. The step adapts to the demand: when
 * the segment before lasted less than {@link Builder#adaptiveStep 15 minutes}, the step doubles; when it
 * lasted more than 30 minutes, it halves; always within {@code [minStep, maxStep]}. So a busy tag
 * fetches a few times an hour whatever its rate, and a restart wastes at most about half an hour of
 * ids.
 *
 * <p>Safe for any number of threads.
 */
public interface SegmentIdGenerator extends IdGenerator, AutoCloseable {

    /** Default {@link Builder#minStep}, and of the first step: 1,000. */
    long DEFAULT_MIN_STEP = 1_000;
    /** Default {@link Builder#maxStep}: 1,000,000. */
    long DEFAULT_MAX_STEP = 1_000_000;
    /** Largest step: 2<sup>40</sup>. */
    long MAX_STEP = 1L << 40;
    /** Default {@link Builder#prefetchThreshold}: the next segment is fetched once 10 % of the current one is used. */
    double DEFAULT_PREFETCH_THRESHOLD = 0.1;
    /** A store that answered the last fetch faster than this, in microseconds, is asked on the caller's thread. */
    long INLINE_FETCH_MICROS = 10;
    /** Default {@link Builder#maxWait}: 5 s. */
    Duration DEFAULT_MAX_WAIT = Duration.ofSeconds(5);
    /** Largest {@link Builder#maxWait}: 10 minutes. */
    Duration MAX_WAIT = Duration.ofMinutes(10);
    /** Default of the lower bound in {@link Builder#adaptiveStep}: a segment that lasted less doubles the step. */
    Duration DEFAULT_GROW_BELOW = Duration.ofMinutes(15);
    /** Default of the upper bound in {@link Builder#adaptiveStep}: a segment that lasted more halves the step. */
    Duration DEFAULT_SHRINK_ABOVE = Duration.ofMinutes(30);

    /**
     * A builder for the generator of {@code tag} on {@code allocator}.
     *
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if {@code tag} is blank, longer than 128 characters, or holds a
     *     control character
     */
    static Builder builder(SegmentAllocator allocator, String tag) {
        return new Builder(Objects.requireNonNull(allocator, "allocator"), SegmentAllocator.checkTag(tag));
    }

    /**
     * The next id of the tag.
     *
     * @throws IdSourceUnavailableException if both buffers are empty and no segment arrived within
     *     {@code maxWait}; the message names the tag and the last failure of the allocator
     * @throws IdGenerationException if the allocator refused (the tag's ids would overflow, or it
     *     returned a range below the previous one)
     * @throws IllegalStateException if the generator is closed
     */
    @Override
    long nextId();

    /**
     * {@code count} ids, taken from the current segment with one atomic addition where they fit (ids of
     * one run are consecutive); the same guarantees and exceptions as {@link #nextId()}. If a call throws
     * halfway, the ids taken before are dropped: a gap, never a duplicate.
     */
    @Override
    long[] nextIds(int count);

    /** The tag. */
    String tag();

    /** The step the next fetch asks for. */
    long step();

    /**
     * Stops issuing ids; a fetch in progress completes in the background and its segment is dropped.
     * Ids reserved and not issued are lost: gaps. Idempotent. {@link #nextId()} then throws
     * {@link IllegalStateException}.
     */
    @Override
    void close();

    /** Configures a generator. Setters check their argument at once and name it in the message. */
    final class Builder {
        final SegmentAllocator allocator;
        final String tag;
        long minStep = DEFAULT_MIN_STEP;
        long maxStep = DEFAULT_MAX_STEP;
        @Nullable Long initialStep;
        double prefetchThreshold = DEFAULT_PREFETCH_THRESHOLD;
        Duration maxWait = DEFAULT_MAX_WAIT;
        Duration growBelow = DEFAULT_GROW_BELOW;
        Duration shrinkAbove = DEFAULT_SHRINK_ABOVE;
        SegmentMetrics metrics = SegmentMetrics.NONE;
        Ticker ticker = Ticker.system();
        @Nullable ScheduledExecutorService executor;
        Duration inlineFetchBelow = Duration.ofNanos(INLINE_FETCH_MICROS * 1_000);

        private Builder(SegmentAllocator allocator, String tag) {
            this.allocator = allocator;
            this.tag = tag;
        }

        /**
         * The least step; default 1,000. Checked against the other bounds at {@link #build()}.
         *
         * @throws IllegalArgumentException if not positive or above {@link #MAX_STEP}
         */
        public Builder minStep(long minStep) {
            this.minStep = checkStep("minStep", minStep);
            return this;
        }

        /**
         * The greatest step; default 1,000,000. Checked against the other bounds at {@link #build()}.
         *
         * @throws IllegalArgumentException if not positive or above {@link #MAX_STEP}
         */
        public Builder maxStep(long maxStep) {
            this.maxStep = checkStep("maxStep", maxStep);
            return this;
        }

        /**
         * The step of the first fetch; default {@code minStep}. Must lie in {@code [minStep, maxStep]}
         * (checked at {@link #build()}). For a fixed step, set all three to the same value.
         *
         * @throws IllegalArgumentException if not positive or above {@link #MAX_STEP}
         */
        public Builder step(long step) {
            this.initialStep = checkStep("step", step);
            return this;
        }

        /**
         * The fraction of the current segment used when the next one is fetched; default 0.1. Higher
         * leaves less time for the fetch; 0 fetches the next segment at once.
         *
         * @throws IllegalArgumentException if not in {@code [0, 1)}
         */
        public Builder prefetchThreshold(double prefetchThreshold) {
            if (!(prefetchThreshold >= 0 && prefetchThreshold < 1)) {
                throw new IllegalArgumentException("prefetchThreshold must be in [0, 1), was " + prefetchThreshold);
            }
            this.prefetchThreshold = prefetchThreshold;
            return this;
        }

        /**
         * How long a caller may wait when both buffers are empty; default 5 s. {@link Duration#ZERO}:
         * throw at once.
         *
         * @throws IllegalArgumentException if negative or above {@link #MAX_WAIT}
         */
        public Builder maxWait(Duration maxWait) {
            Objects.requireNonNull(maxWait, "maxWait");
            if (maxWait.isNegative() || maxWait.compareTo(MAX_WAIT) > 0) {
                throw new IllegalArgumentException("maxWait must be between 0 and " + MAX_WAIT + ", was " + maxWait);
            }
            this.maxWait = maxWait;
            return this;
        }

        /**
         * When the step adapts: it doubles when the segment before lasted less than {@code growBelow}
         * (default 15 minutes), halves when it lasted more than {@code shrinkAbove} (default 30 minutes).
         *
         * @throws IllegalArgumentException if {@code growBelow} is not positive or is above
         *     {@code shrinkAbove}
         */
        public Builder adaptiveStep(Duration growBelow, Duration shrinkAbove) {
            Objects.requireNonNull(growBelow, "growBelow");
            Objects.requireNonNull(shrinkAbove, "shrinkAbove");
            if (growBelow.isNegative() || growBelow.isZero() || growBelow.compareTo(shrinkAbove) > 0) {
                throw new IllegalArgumentException("adaptiveStep needs 0 < growBelow <= shrinkAbove, was growBelow "
                        + growBelow + ", shrinkAbove " + shrinkAbove);
            }
            this.growBelow = growBelow;
            this.shrinkAbove = shrinkAbove;
            return this;
        }

        /** Metrics hooks; default {@link SegmentMetrics#NONE}. */
        public Builder metrics(SegmentMetrics metrics) {
            this.metrics = Objects.requireNonNull(metrics, "metrics");
            return this;
        }

        /** The monotonic time segments are timed with; default {@link Ticker#system()}. */
        public Builder ticker(Ticker ticker) {
            this.ticker = Objects.requireNonNull(ticker, "ticker");
            return this;
        }

        /**
         * Where fetches (and their retries) run; default a pool shared by every generator of the JVM: a
         * daemon thread {@code distkit-segment-fetch-<n>} per fetch in flight (idle ones end after 30 s), so
         * that one tag's slow store never holds up another's fetch. The generator never shuts down an
         * executor given here, and the executor must outlive the generator: once it rejects a fetch, callers
         * that find both buffers empty throw at once.
         */
        public Builder executor(ScheduledExecutorService executor) {
            this.executor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /**
         * A store whose last timed fetch took less than this is asked on the caller's thread when a segment
         * runs out, instead of in the background at the threshold; default {@value #INLINE_FETCH_MICROS} µs
         * (only a store in memory is that fast). {@link Duration#ZERO}: always prefetch in the background.
         *
         * @throws IllegalArgumentException if negative or above 1 s
         */
        public Builder inlineFetchBelow(Duration inlineFetchBelow) {
            Objects.requireNonNull(inlineFetchBelow, "inlineFetchBelow");
            if (inlineFetchBelow.isNegative() || inlineFetchBelow.compareTo(Duration.ofSeconds(1)) > 0) {
                throw new IllegalArgumentException("inlineFetchBelow must be between 0 and 1 s, was " + inlineFetchBelow);
            }
            this.inlineFetchBelow = inlineFetchBelow;
            return this;
        }

        /**
         * Fetches the first segment on the caller's thread and returns the running generator.
         *
         * @throws IllegalArgumentException if {@code minStep > maxStep}, or the step set is outside
         *     {@code [minStep, maxStep]}
         * @throws IdSourceUnavailableException as the allocator throws it (the store is unreachable)
         * @throws IdGenerationException as the allocator throws it (an unknown tag, an overflow)
         */
        public SegmentIdGenerator build() {
            if (minStep > maxStep) {
                throw new IllegalArgumentException("minStep " + minStep + " must not be above maxStep " + maxStep);
            }
            long first = initialStep == null ? minStep : initialStep;
            if (first < minStep || first > maxStep) {
                throw new IllegalArgumentException("step must be between minStep " + minStep + " and maxStep " + maxStep
                        + ", was " + first);
            }
            return new DoubleBufferedSegmentGenerator(this, first);
        }

        private static long checkStep(String name, long step) {
            if (step <= 0) {
                throw new IllegalArgumentException(name + " must be positive, was " + step);
            }
            if (step > MAX_STEP) {
                throw new IllegalArgumentException(name + " must be at most " + MAX_STEP + " (2^40), was " + step);
            }
            return step;
        }
    }
}
