package io.distkit.id.backends;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.Segment;
import io.distkit.id.SegmentAllocator;
import io.distkit.id.segment.SegmentIdGenerator;
import io.distkit.id.segment.SegmentMetrics;
import io.distkit.testkit.Closer;
import io.distkit.testkit.id.IdChecks;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;

/**
 * F22 on any store, the same scenario for each: a segment generator (step 1,000, {@code maxWait} 1 s) has served
 * 500 ids of its first segment and prefetched the second when the store stops. Every id of both buffers still
 * comes (1,500 of them); the next call throws {@link IdSourceUnavailableException} naming the tag after about
 * {@code maxWait}; once the store is back, ids resume above all of them, and none repeats.
 */
public final class SegmentOutage {

    /** The generator's {@code maxWait}. */
    public static final Duration MAX_WAIT = Duration.ofSeconds(1);

    private SegmentOutage() {}

    /**
     * Runs the scenario on {@code allocator} (tag {@code f22}, which must be new to its store).
     *
     * @param stop stops the store (a kill or a stop)
     * @param restart brings it back
     */
    public static void run(String store, SegmentAllocator allocator, Closer toClose, Runnable stop, Runnable restart) {
        AtomicInteger fetched = new AtomicInteger(); // reported once a segment is in a buffer
        SegmentIdGenerator g = toClose.add(SegmentIdGenerator.builder(allocator, "f22").minStep(1000).maxStep(1000)
                .maxWait(MAX_WAIT).metrics(new SegmentMetrics() {
                    @Override
                    public void segmentFetched(String tag, Segment segment, Duration latency) {
                        fetched.incrementAndGet();
                    }
                }).build());
        long[] before = LongStream.range(0, 500).map(i -> g.nextId()).toArray();
        await().atMost(Duration.ofSeconds(10)).until(() -> fetched.get() >= 2); // the second segment is buffered

        stop.run();
        long[] fromBuffers = LongStream.range(0, 1500).map(i -> g.nextId()).toArray(); // throws if one is not served
        long calledAt = System.nanoTime();
        assertThatThrownBy(g::nextId).isInstanceOf(IdSourceUnavailableException.class)
                .hasMessageContaining("tag 'f22'");
        long waitedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - calledAt);

        restart.run();
        long first = await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).ignoreExceptions()
                .until(g::nextId, id -> id > 0);
        long[] after = LongStream.range(0, 2500).map(i -> g.nextId()).toArray();

        System.out.printf("F22 on %s: %d ids before the stop, %d from the buffers after it, the next call threw after"
                + " %d ms (maxWait %d ms); resumed at %d%n", store, before.length, fromBuffers.length, waitedMillis,
                MAX_WAIT.toMillis(), first);
        assertThat(waitedMillis).as("waited about maxWait, not for ever").isBetween(MAX_WAIT.toMillis() - 50, 4_000L);
        assertThat(fromBuffers[fromBuffers.length - 1]).as("the last id of the prefetched segment").isEqualTo(2000);
        assertThat(first).as("resumed above every id issued").isGreaterThan(2000);
        Map<String, long[]> ids = new LinkedHashMap<>();
        ids.put("before", before);
        ids.put("buffers", fromBuffers);
        ids.put("after", IdChecks.concat(new long[] {first}, after));
        IdChecks.distinct(ids).assertNoViolations();
    }
}
