package io.distkit.id.segment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.Segment;
import io.distkit.id.SegmentAllocator;
import io.distkit.id.Ticker;
import io.distkit.id.segment.BufferSwitch.State;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** The double buffer, the prefetch, the waits, the adaptive step and the refusals, on a scripted allocator. */
class SegmentIdGeneratorTest {

    static final Duration BOUND = Duration.ofSeconds(10);

    final ScriptedAllocator allocator = new ScriptedAllocator();
    private final List<SegmentIdGenerator> generators = new ArrayList<>();

    @AfterEach
    void closeGenerators() {
        allocator.open();
        generators.forEach(SegmentIdGenerator::close);
    }

    /** Tag "orders", a fixed step of 100, fetches always in the background (the allocator is in memory). */
    SegmentIdGenerator.Builder builder() {
        return builder(allocator);
    }

    SegmentIdGenerator.Builder builder(SegmentAllocator a) {
        return SegmentIdGenerator.builder(a, "orders").minStep(100).maxStep(100).inlineFetchBelow(Duration.ZERO);
    }

    SegmentIdGenerator build(SegmentIdGenerator.Builder builder) {
        SegmentIdGenerator g = builder.build();
        generators.add(g);
        return g;
    }

    static long[] take(SegmentIdGenerator g, int n) {
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) {
            ids[i] = g.nextId();
        }
        return ids;
    }

    static long[] range(long from, long toExclusive) {
        return LongStream.range(from, toExclusive).toArray();
    }

    @Nested
    @DisplayName("the double buffer")
    class DoubleBuffer {

        @Test
        @DisplayName("ids come from the segment without a store call; the next is fetched when 10 % is used, in the background")
        void idsComeFromTheSegmentAndTheNextIsFetchedAtTheThreshold() {
            SegmentIdGenerator g = build(builder());
            assertThat(allocator.calls()).as("the first segment, fetched by the build").isEqualTo(1);
            allocator.hold(); // from now on the store answers only when the test says so

            assertThat(take(g, 10)).containsExactly(range(1, 11));
            assertThat(allocator.calls()).as("below the threshold: no fetch").isEqualTo(1);
            assertThat(g.nextId()).isEqualTo(11); // the 11th id, 10 % of 100 used
            allocator.awaitCalls(2);
            assertThat(take(g, 89)).as("served while the fetch is held: the hot path never waits for the store")
                    .containsExactly(range(12, 101));

            allocator.release(1);
            assertThat(g.nextId()).isEqualTo(101);
            assertThat(allocator.allocated()).containsExactly(new Segment("orders", 1, 101), new Segment("orders", 101, 201));
        }

        @Test
        @DisplayName("threshold 0: the next segment is asked for as soon as one is taken into use, before any of its ids is served")
        void thresholdZeroFetchesTheNextOnUse() {
            allocator.hold(); // the build's own fetch is released below
            CompletableFuture<SegmentIdGenerator> built = CompletableFuture.supplyAsync(() -> build(builder().prefetchThreshold(0)));
            allocator.awaitCalls(1);
            allocator.release(1);
            SegmentIdGenerator g = built.join();
            allocator.awaitCalls(2); // [101, 201) asked for by the build, not by an id
            assertThat(take(g, 100)).as("served while that fetch is held").containsExactly(range(1, 101));

            allocator.release(1);
            assertThat(g.nextId()).isEqualTo(101);
            allocator.awaitCalls(3); // [201, 301) asked for when [101, 201) became current
            assertThat(allocator.allocated()).hasSize(2);
            allocator.release(1);
            await().atMost(BOUND).until(() -> ((DoubleBufferedSegmentGenerator) g).nextSegment() != null);
            assertThat(((DoubleBufferedSegmentGenerator) g).nextSegment()).isEqualTo(new Segment("orders", 201, 301));
        }

        @Test
        @DisplayName("a caller that finds both buffers empty waits for the fetch and gets the next segment's first id")
        void aCallerWaitsWhenBothBuffersAreEmpty() throws Exception {
            RecordingMetrics metrics = new RecordingMetrics();
            SegmentIdGenerator g = build(builder().metrics(metrics));
            allocator.hold();
            take(g, 100);
            allocator.awaitCalls(2);

            CompletableFuture<Long> waiting = new CompletableFuture<>();
            Thread caller = new Thread(() -> waiting.complete(g.nextId()), "waiting-caller");
            caller.start();
            await().atMost(BOUND).until(() -> caller.getState() == Thread.State.TIMED_WAITING); // on the condition
            assertThat(waiting).isNotDone();
            allocator.release(1);

            assertThat(waiting.get(10, TimeUnit.SECONDS)).isEqualTo(101);
            await().atMost(BOUND).until(() -> metrics.waits().contains("served"));
        }

        @Test
        @DisplayName("the switch goes IDLE, FETCHING at the threshold, READY once fetched, IDLE once the next is current, then CLOSED")
        void theSwitchWalksItsStates() {
            DoubleBufferedSegmentGenerator g = (DoubleBufferedSegmentGenerator) build(builder());
            allocator.hold();
            take(g, 10);
            assertThat(g.state()).isEqualTo(State.IDLE);

            g.nextId(); // the threshold
            allocator.awaitCalls(2);
            assertThat(g.state()).isEqualTo(State.FETCHING);
            allocator.release(1);
            await().atMost(BOUND).until(() -> g.state() == State.READY);
            assertThat(g.nextSegment()).isEqualTo(new Segment("orders", 101, 201));

            take(g, 89);
            assertThat(g.nextId()).isEqualTo(101);
            assertThat(g.state()).isEqualTo(State.IDLE);
            assertThat(g.currentSegment()).isEqualTo(new Segment("orders", 101, 201));
            assertThat(g.nextSegment()).isNull();

            g.close();
            assertThat(g.state()).isEqualTo(State.CLOSED);
            assertThat(g.currentSegment()).isNull();
        }

        @Test
        @DisplayName("a batch crossing segments takes the rest of one and the start of the next")
        void aBatchCrossingSegmentsTakesTheRestOfOneAndTheStartOfTheNext() {
            SegmentIdGenerator g = build(builder());
            take(g, 50);

            long[] batch = g.nextIds(120);

            assertThat(batch).containsExactly(range(51, 171));
            assertThat(g.nextIds(30)).containsExactly(range(171, 201));
            assertThat(g.nextId()).isEqualTo(201);
        }

        @Test
        @DisplayName("a batch within a segment takes its run with one addition and leaves the rest to the next call")
        void aBatchWithinASegment() {
            SegmentIdGenerator g = build(builder().minStep(1000).maxStep(1000));

            assertThat(g.nextIds(1000)).containsExactly(range(1, 1001));
            assertThat(g.nextId()).isEqualTo(1001);
        }
    }

    @Nested
    @DisplayName("a store faster than a thread hand-over")
    class InlineFetch {

        @Test
        @DisplayName("is asked on the caller's thread when the segment runs out, without a prefetch")
        void isAskedOnTheCallersThreadWhenTheSegmentRunsOut() {
            SegmentIdGenerator g = build(builder().inlineFetchBelow(Duration.ofSeconds(1)));

            assertThat(take(g, 200)).containsExactly(range(1, 201));
            assertThat(allocator.calls()).as("no prefetch at the threshold").isEqualTo(2);
            assertThat(g.nextIds(150)).containsExactly(range(201, 351));

            assertThat(allocator.threads()).as("every fetch on the test's thread")
                    .containsOnly(Thread.currentThread().getName()).hasSize(4);
        }

        @Test
        @DisplayName("turns into a prefetch in the background once a timed fetch is slow (metrics on: every fetch is timed)")
        void turnsIntoABackgroundPrefetchOnceAFetchIsSlow() {
            SegmentIdGenerator g = build(builder().inlineFetchBelow(Duration.ofMillis(200)).metrics(new RecordingMetrics()));
            take(g, 100);
            allocator.delay(Duration.ofMillis(300));

            assertThat(g.nextId()).as("fetched on this thread, slowly").isEqualTo(101);
            allocator.delay(Duration.ZERO);
            take(g, 10); // the threshold of [101, 201): now a prefetch
            allocator.awaitCalls(3);

            assertThat(allocator.threads().get(2)).startsWith("distkit-segment-fetch-");
            assertThat(take(g, 100)).containsExactly(range(112, 212));
        }

        @Test
        @DisplayName("a fetch on one caller's thread that hangs keeps the others' maxWait, and close, free")
        void aHangingInlineFetchKeepsTheOthersBound() throws Exception {
            SegmentIdGenerator g = build(builder().inlineFetchBelow(Duration.ofSeconds(1)).maxWait(Duration.ofMillis(200)));
            take(g, 100);
            allocator.hold();
            CompletableFuture<Long> fetching = new CompletableFuture<>();
            Thread first = new Thread(() -> fetching.complete(g.nextId()), "inline-fetcher");
            first.start();
            allocator.awaitCalls(2); // in the allocator, on its own thread

            long calledAt = System.nanoTime();
            assertThatThrownBy(g::nextId).isInstanceOf(IdSourceUnavailableException.class)
                    .hasMessageContaining("has not completed");
            long waitedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - calledAt);
            allocator.release(1);

            assertThat(fetching.get(10, TimeUnit.SECONDS)).isEqualTo(101);
            assertThat(waitedMillis).as("the second caller's maxWait held").isBetween(150L, 5_000L);
        }

        @Test
        @DisplayName("without metrics, one fetch in 16 is timed: a slow store is noticed within 16 segments")
        void withoutMetricsOneFetchIn16IsTimed() {
            SegmentIdGenerator g = build(builder().inlineFetchBelow(Duration.ofMillis(100)));
            allocator.delay(Duration.ofMillis(150));

            take(g, 100 * SegmentFetcher.TIMED_INLINE_FETCHES); // the build's and 15 untimed: unnoticed
            take(g, 1); // the 16th fetch on this thread is timed: slow
            int inlineCalls = allocator.calls();
            allocator.delay(Duration.ZERO);
            take(g, 10); // the threshold of the segment the timed call fetched: a prefetch
            allocator.awaitCalls(inlineCalls + 1);

            assertThat(inlineCalls).isEqualTo(1 + SegmentFetcher.TIMED_INLINE_FETCHES);

            assertThat(allocator.threads().subList(0, inlineCalls)).containsOnly(Thread.currentThread().getName());
            assertThat(allocator.threads().get(inlineCalls)).startsWith("distkit-segment-fetch-");
        }
    }

    @Nested
    @DisplayName("when the store fails")
    class StoreFailures {

        @Test
        @DisplayName("ids keep coming from the buffers, then a clean IdSourceUnavailableException within maxWait, then resume")
        void buffersThenACleanErrorThenResume() {
            RecordingMetrics metrics = new RecordingMetrics();
            SegmentIdGenerator g = build(builder().maxWait(Duration.ofMillis(200)).metrics(metrics));
            long[] before = take(g, 11); // the prefetch of [101, 201) starts
            allocator.awaitCalls(2);
            await().atMost(BOUND).until(() -> ((DoubleBufferedSegmentGenerator) g).nextSegment() != null);
            allocator.failWith(new IdSourceUnavailableException("distkit_id_segment", "connection refused", null));

            long[] served = take(g, 189); // the rest of the first segment and all of the second
            long startedWaiting = System.nanoTime();
            assertThatThrownBy(g::nextId)
                    .isInstanceOf(IdSourceUnavailableException.class)
                    .hasMessageContaining("tag 'orders'")
                    .hasMessageContaining("maxWait PT0.2S")
                    .hasMessageContaining("connection refused")
                    .hasCauseInstanceOf(IdSourceUnavailableException.class);
            long waitedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedWaiting);
            assertThat(waitedMillis).as("waited for maxWait, and not for ever").isBetween(150L, 5_000L);
            assertThat(metrics.failures()).isPositive();
            assertThat(metrics.waits()).contains("unavailable");

            allocator.failWith(null); // the store is back: the background retry fetches
            long resumed = await().atMost(BOUND).ignoreExceptions().until(g::nextId, id -> id > 0);
            assertThat(before).containsExactly(range(1, 12));
            assertThat(served).containsExactly(range(12, 201));
            assertThat(resumed).as("above everything issued; the failed attempts reserved nothing").isEqualTo(201);
        }

        @Test
        @DisplayName("maxWait zero: a caller with both buffers empty throws at once")
        void maxWaitZeroThrowsAtOnce() {
            SegmentIdGenerator g = build(builder().maxWait(Duration.ZERO));
            allocator.hold();
            take(g, 100);

            assertThatThrownBy(g::nextId).isInstanceOf(IdSourceUnavailableException.class)
                    .hasMessageContaining("has not completed");
        }

        @Test
        @DisplayName("an allocator's refusal (overflow) is thrown at once as IdGenerationException, without retries")
        void anOverflowIsThrownAtOnce() {
            InMemorySegmentAllocator nearTheEnd = new InMemorySegmentAllocator(Long.MAX_VALUE - 250);
            SegmentIdGenerator g = build(builder(nearTheEnd));

            long[] ids = g.nextIds(200);

            assertThat(ids[199]).isEqualTo(Long.MAX_VALUE - 51);
            assertThatThrownBy(g::nextId)
                    .isExactlyInstanceOf(IdGenerationException.class)
                    .hasMessageContaining("tag 'orders'")
                    .hasMessageContaining("would overflow");
            assertThat(nearTheEnd.nextStart("orders")).as("nothing reserved by the refused steps").isEqualTo(Long.MAX_VALUE - 50);
            await().atMost(BOUND).until(() -> ((DoubleBufferedSegmentGenerator) g).state() == State.REFUSED);
        }

        @Test
        @DisplayName("after a refusal callers throw at once; one that comes after the first retry pause asks again")
        void afterARefusalCallersThrowAtOnceAndAskAgainAfterThePause() {
            AtomicLong nanos = new AtomicLong();
            DoubleBufferedSegmentGenerator g = (DoubleBufferedSegmentGenerator) build(builder().ticker(nanos::get));
            allocator.failWith(new IdGenerationException("unknown tag"));
            take(g, 11); // the prefetch is refused
            await().atMost(BOUND).until(() -> g.state() == State.REFUSED);
            take(g, 89);

            assertThatThrownBy(g::nextId).isExactlyInstanceOf(IdGenerationException.class)
                    .hasMessageContaining("refused the next segment").hasMessageContaining("unknown tag");
            assertThat(allocator.calls()).as("not asked again within the first retry pause").isEqualTo(2);

            allocator.failWith(null);
            allocator.hold();
            nanos.addAndGet(FetchFailures.FIRST_RETRY_PAUSE.toNanos());
            assertThatThrownBy(g::nextId).as("asks again in the background, and throws meanwhile")
                    .isExactlyInstanceOf(IdGenerationException.class);
            allocator.awaitCalls(3);
            assertThat(g.state()).isEqualTo(State.REASKING);
            assertThatThrownBy(g::nextId).isExactlyInstanceOf(IdGenerationException.class);

            allocator.release(1);
            await().atMost(BOUND).until(() -> g.state() == State.READY);
            assertThat(g.nextId()).isEqualTo(101);
        }

        @Test
        @DisplayName("a range below the previous one (a broken allocator) is refused, and none of its ids is issued")
        void aRangeBelowThePreviousOneIsRefused() {
            SegmentIdGenerator g = build(builder());
            allocator.tamperWith(s -> new Segment(s.tag(), s.start() - 50, s.endExclusive() - 50));

            long[] first = g.nextIds(100);

            assertThat(first).containsExactly(range(1, 101));
            assertThatThrownBy(g::nextId)
                    .isInstanceOf(IdGenerationException.class)
                    .hasMessageContaining("below the end 101 of the previous segment");
        }

        @Test
        @DisplayName("a build on a store that is down throws the store's exception")
        void aBuildOnAStoreThatIsDownThrows() {
            allocator.failWith(new IdSourceUnavailableException("distkit_id_segment", "connection refused", null));

            assertThatThrownBy(() -> build(builder())).isInstanceOf(IdSourceUnavailableException.class)
                    .hasMessageContaining("connection refused");
        }
    }

    @Nested
    @DisplayName("the adaptive step")
    class AdaptiveStep {

        @Test
        @DisplayName("doubles while segments last under 15 minutes, up to maxStep; halves above 30, down to minStep")
        void doublesWhenFastHalvesWhenSlow() {
            AtomicLong nanos = new AtomicLong(Long.MAX_VALUE - 1_000); // differences only: it wraps
            Ticker ticker = nanos::get;
            SegmentIdGenerator g = build(SegmentIdGenerator.builder(allocator, "orders")
                    .minStep(100).step(100).maxStep(800).ticker(ticker).inlineFetchBelow(Duration.ZERO));
            long[] lasted = {1, 1, 1, 1, 40, 20, 40, 40, 40}; // minutes each segment lasts
            long[] sizes = {100, 200, 400, 800, 800, 400, 400, 200, 100};

            for (int i = 0; i < lasted.length; i++) {
                nanos.addAndGet(TimeUnit.MINUTES.toNanos(lasted[i]));
                long[] ids = g.nextIds((int) sizes[i]); // the whole segment: past the threshold, the next is fetched
                assertThat(ids[ids.length - 1] - ids[0]).as("one segment, consecutive").isEqualTo(sizes[i] - 1);
                allocator.awaitCalls(i + 2);
            }

            assertThat(allocator.steps()).containsExactly(100L, 200L, 400L, 800L, 800L, 400L, 400L, 200L, 100L, 100L);
            assertThat(g.step()).isEqualTo(100);
        }

        @Test
        @DisplayName("the window is configurable")
        void theWindowIsConfigurable() {
            AtomicLong nanos = new AtomicLong();
            SegmentIdGenerator g = build(SegmentIdGenerator.builder(allocator, "orders")
                    .minStep(10).maxStep(1000).ticker(nanos::get).inlineFetchBelow(Duration.ZERO)
                    .adaptiveStep(Duration.ofSeconds(1), Duration.ofSeconds(2)));

            nanos.addAndGet(TimeUnit.MILLISECONDS.toNanos(1500)); // between the bounds: kept
            g.nextIds(10);
            allocator.awaitCalls(2);
            nanos.addAndGet(TimeUnit.MILLISECONDS.toNanos(500)); // under 1 s: doubled
            g.nextIds(10);
            allocator.awaitCalls(3);

            assertThat(allocator.steps()).containsExactly(10L, 10L, 20L);
        }
    }

    @Nested
    @DisplayName("closing")
    class Closing {

        @Test
        @DisplayName("close stops issuing, drops the segment of a fetch in progress, and is idempotent")
        void closeStopsIssuingAndDropsAFetchInProgress() {
            SegmentIdGenerator g = build(builder());
            allocator.hold();
            take(g, 11);
            allocator.awaitCalls(2);

            g.close();
            g.close();
            allocator.open();

            await().atMost(BOUND).until(() -> allocator.allocated().size() == 2);
            assertThat(((DoubleBufferedSegmentGenerator) g).nextSegment()).isNull();
            assertThatThrownBy(g::nextId).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("tag 'orders' is closed");
            assertThatThrownBy(() -> g.nextIds(5)).isInstanceOf(IllegalStateException.class);
            assertThat(g.toString()).contains("closed");
        }

        @Test
        @DisplayName("a generator built after another closed starts above every id the first returned")
        void aNewGeneratorStartsAbove() {
            SegmentIdGenerator first = build(builder());
            long last = take(first, 42)[41];
            first.close();

            SegmentIdGenerator second = build(builder());

            assertThat(second.nextId()).isGreaterThan(last);
        }
    }

    @Nested
    @DisplayName("the builder")
    class Builder {

        @Test
        void refusesBadArgumentsNamingThem() {
            assertThatThrownBy(() -> SegmentIdGenerator.builder(null, "t")).isInstanceOf(NullPointerException.class)
                    .hasMessage("allocator");
            assertThatThrownBy(() -> SegmentIdGenerator.builder(allocator, null)).isInstanceOf(NullPointerException.class)
                    .hasMessage("tag");
            assertThatThrownBy(() -> SegmentIdGenerator.builder(allocator, " ")).hasMessageContaining("tag must not be blank");
            assertThatThrownBy(() -> SegmentIdGenerator.builder(allocator, "x".repeat(129)))
                    .hasMessageContaining("tag must be at most 128 characters, was 129");
            assertThatThrownBy(() -> SegmentIdGenerator.builder(allocator, "a\nb"))
                    .hasMessageContaining("control characters");
            SegmentIdGenerator.Builder b = builder();
            assertThatThrownBy(() -> b.minStep(0)).hasMessage("minStep must be positive, was 0");
            assertThatThrownBy(() -> b.maxStep(-5)).hasMessage("maxStep must be positive, was -5");
            assertThatThrownBy(() -> b.step((1L << 40) + 1)).hasMessageContaining("step must be at most");
            assertThatThrownBy(() -> b.prefetchThreshold(1.0)).hasMessageContaining("prefetchThreshold must be in [0, 1)");
            assertThatThrownBy(() -> b.prefetchThreshold(Double.NaN)).hasMessageContaining("prefetchThreshold");
            assertThatThrownBy(() -> b.maxWait(Duration.ofMillis(-1))).hasMessageContaining("maxWait must be between");
            assertThatThrownBy(() -> b.inlineFetchBelow(Duration.ofMillis(-1)))
                    .hasMessageContaining("inlineFetchBelow must be between 0 and 1 s");
            assertThatThrownBy(() -> b.adaptiveStep(Duration.ofMinutes(30), Duration.ofMinutes(15)))
                    .hasMessageContaining("growBelow <= shrinkAbove");
            assertThatThrownBy(() -> builder().minStep(500).maxStep(100).build())
                    .hasMessage("minStep 500 must not be above maxStep 100");
            assertThatThrownBy(() -> builder().minStep(100).maxStep(200).step(300).build())
                    .hasMessageContaining("step must be between minStep 100 and maxStep 200, was 300");
            assertThat(allocator.calls()).as("nothing fetched for a refused builder").isZero();
        }
    }

    /** Counts what the hooks were told. */
    static final class RecordingMetrics implements SegmentMetrics {
        private final List<String> waits = new ArrayList<>();
        private final List<Segment> fetched = new ArrayList<>();
        private volatile int failures;

        @Override
        public synchronized void segmentFetched(String tag, Segment segment, Duration latency) {
            fetched.add(segment);
        }

        @Override
        public void fetchFailed(String tag, Throwable cause, Duration latency) {
            failures++;
        }

        @Override
        public synchronized void emptyBufferWait(String tag, Duration waited, boolean served) {
            waits.add(served ? "served" : "unavailable");
        }

        synchronized List<String> waits() {
            return List.copyOf(waits);
        }

        int failures() {
            return failures;
        }
    }
}
