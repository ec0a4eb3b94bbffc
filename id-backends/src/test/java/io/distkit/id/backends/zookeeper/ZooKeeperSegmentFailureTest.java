package io.distkit.id.backends.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.Segment;
import io.distkit.id.segment.SegmentIdGenerator;
import io.distkit.id.segment.SegmentMetrics;
import io.distkit.testkit.Closer;
import io.distkit.testkit.id.IdChecks;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * docs/failures.md, F22, for {@link SegmentIdGenerator} on {@link ZooKeeperSegmentAllocator}: the ZooKeeper server
 * stopped mid-run (ids from the buffers, then a clean error within the bound, then resumption without a duplicate).
 */
class ZooKeeperSegmentFailureTest {

    static final Duration MAX_WAIT = Duration.ofSeconds(1);

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperIdTestSupport.server();

    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    /**
     * F22, outage. The generator has served 500 ids of its first segment (step 1,000) and prefetched the second
     * when the server stops. Every id of both buffers still comes (1,500 of them); the next call throws {@link
     * IdSourceUnavailableException} naming the tag after waiting {@code maxWait} and not much more. Once the server
     * is back, ids resume above all of them; no id repeats.
     */
    @Test
    @DisplayName("F22: server stopped mid-run: ids from the buffers, then a clean IdSourceUnavailableException within maxWait, then resumption without duplicates")
    void serverStoppedMidRun() {
        ZooKeeperSegmentAllocator allocator = ZooKeeperSegmentAllocator.builder(zk.connectString())
                .basePath("/f22").commandTimeout(Duration.ofSeconds(1)).build();
        toClose.add(allocator::close);
        AtomicInteger published = new AtomicInteger();
        SegmentIdGenerator g = toClose.add(SegmentIdGenerator.builder(allocator, "f22").minStep(1000).maxStep(1000)
                .maxWait(MAX_WAIT).metrics(new SegmentMetrics() {
                    @Override
                    public void segmentFetched(String tag, Segment segment, Duration latency) {
                        published.incrementAndGet();
                    }
                }).build());
        long[] before = LongStream.range(0, 500).map(i -> g.nextId()).toArray();
        await().atMost(Duration.ofSeconds(10)).until(() -> published.get() >= 2);

        zk.killServer(0);
        long[] fromBuffers = new long[1500];
        for (int i = 0; i < fromBuffers.length; i++) {
            fromBuffers[i] = g.nextId();
        }
        long calledAt = System.nanoTime();
        assertThatThrownBy(g::nextId)
                .isInstanceOf(IdSourceUnavailableException.class)
                .hasMessageContaining("tag 'f22'")
                .hasMessageContaining("both segment buffers are empty");
        long waitedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - calledAt);

        zk.restartServer(0);
        long first = await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50)).ignoreExceptions()
                .until(g::nextId, id -> id > 0);
        long[] after = LongStream.range(0, 2500).map(i -> g.nextId()).toArray();

        System.out.printf("F22 outage (ZooKeeper): %d ids before the stop, %d from the buffers after it, the next call"
                + " threw after %d ms (maxWait %d ms); resumed at %d%n", before.length, fromBuffers.length, waitedMillis,
                MAX_WAIT.toMillis(), first);
        assertThat(waitedMillis).as("waited for maxWait, not for ever").isBetween(MAX_WAIT.toMillis() - 50, 4_000L);
        assertThat(fromBuffers[fromBuffers.length - 1]).as("the last id of the prefetched segment").isEqualTo(2000);
        Map<String, long[]> ids = new LinkedHashMap<>();
        ids.put("before", before);
        ids.put("buffers", fromBuffers);
        ids.put("after", LongStream.concat(LongStream.of(first), LongStream.of(after)).toArray());
        IdChecks.distinct(ids).assertNoViolations();
        assertThat(first).as("resumed above every id issued").isGreaterThan(2000);
    }
}
