package io.distkit.id.backends.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.id.IdGenerationException;
import io.distkit.id.backends.SegmentOutage;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.Segment;
import io.distkit.testkit.Closer;
import io.distkit.testkit.id.IdChecks;
import io.distkit.testkit.server.EtcdCluster;
import io.distkit.testkit.server.Servers;
import io.etcd.jetcd.Client;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * {@link EtcdSegmentAllocator} on a single-member cluster: first allocation at firstId, ascending ranges,
 * disjoint ranges of racing allocators, overflow, a key that holds no number, bad tags, an unreachable endpoint;
 * and docs/failures.md F22: the member killed mid-run under a segment generator.
 */
class EtcdSegmentAllocatorTest {

    static final Duration MAX_WAIT = Duration.ofSeconds(1);

    static EtcdCluster etcd;
    static Client admin;
    private final Closer toClose = new Closer();

    @BeforeAll
    static void start() {
        etcd = EtcdTests.started();
        admin = EtcdTests.client(etcd);
    }

    @AfterAll
    static void stop() {
        if (admin != null) {
            admin.close();
        }
        if (etcd != null) {
            etcd.close();
        }
    }

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    private EtcdSegmentAllocator allocator() {
        return toClose.add(EtcdSegmentAllocator.builder(EtcdTests.endpoints(etcd)).commandTimeout(Duration.ofSeconds(2))
                .build());
    }

    private static void put(String key, String value) throws Exception {
        admin.getKVClient().put(EtcdCalls.bytes(key), EtcdCalls.bytes(value)).get(10, TimeUnit.SECONDS);
    }

    private static String get(String key) throws Exception {
        return admin.getKVClient().get(EtcdCalls.bytes(key)).get(10, TimeUnit.SECONDS).getKvs().stream()
                .map(kv -> EtcdCalls.text(kv.getValue())).findFirst().orElse(null);
    }

    @Test
    @DisplayName("the first allocation of a tag starts at firstId; the next ones follow, each exactly step ids; the key holds the next start")
    void firstAllocationAndAscendingRanges() throws Exception {
        EtcdSegmentAllocator allocator = toClose.add(EtcdSegmentAllocator.builder(EtcdTests.endpoints(etcd))
                .keyPrefix("first").firstId(100).build());
        assertThat(allocator.allocate("a", 10)).isEqualTo(new Segment("a", 100, 110));
        assertThat(allocator.allocate("a", 5)).isEqualTo(new Segment("a", 110, 115));
        assertThat(allocator.allocate("b", 1)).isEqualTo(new Segment("b", 100, 101));
        assertThat(get("first/segment/a")).isEqualTo("115");
        assertThat(allocator.key("a")).isEqualTo("first/segment/a");
    }

    @Test
    @DisplayName("what an allocator remembers of its last write is only a guess: a key moved behind its back is followed, in the same call")
    void aKeyMovedBehindTheAllocatorsBackIsFollowed() throws Exception {
        EtcdSegmentAllocator allocator = toClose.add(EtcdSegmentAllocator.builder(EtcdTests.endpoints(etcd))
                .keyPrefix("moved").build());
        assertThat(allocator.allocate("t", 10)).isEqualTo(new Segment("t", 1, 11));
        put("moved/segment/t", "500"); // an operator, or another allocator: a new mod revision
        assertThat(allocator.allocate("t", 10)).as("from the key's value, not from the remembered 11")
                .isEqualTo(new Segment("t", 500, 510));
        assertThat(allocator.allocate("t", 10)).isEqualTo(new Segment("t", 510, 520));
        assertThat(get("moved/segment/t")).isEqualTo("520");
    }

    @Test
    @DisplayName("allocators racing on one tag get disjoint ranges, each allocator's ascending")
    void racingAllocatorsGetDisjointRanges() throws Exception {
        int allocators = 4;
        int threads = 3;
        int each = 25;
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(allocators * threads);
        Map<String, List<Segment>> byThread = new LinkedHashMap<>();
        try {
            List<Future<List<Segment>>> futures = new ArrayList<>();
            for (int a = 0; a < allocators; a++) {
                EtcdSegmentAllocator allocator = allocator();
                for (int t = 0; t < threads; t++) {
                    futures.add(pool.submit(() -> {
                        start.await();
                        List<Segment> segments = new ArrayList<>();
                        for (int i = 0; i < each; i++) {
                            segments.add(allocator.allocate("race", 7));
                        }
                        return segments;
                    }));
                }
            }
            start.countDown();
            for (int i = 0; i < futures.size(); i++) {
                byThread.put("allocator " + i / threads + " / thread " + i % threads, futures.get(i).get(60, TimeUnit.SECONDS));
            }
        } finally {
            pool.shutdownNow();
        }
        IdChecks.disjoint(byThread).assertNoViolations();
        for (List<Segment> segments : byThread.values()) {
            for (int i = 1; i < segments.size(); i++) {
                assertThat(segments.get(i).start()).isGreaterThanOrEqualTo(segments.get(i - 1).endExclusive());
            }
        }
        long total = byThread.values().stream().mapToLong(List::size).sum();
        assertThat(get("distkit/id/segment/race")).as("no gaps without failures").isEqualTo(Long.toString(1 + total * 7));
    }

    @Test
    @DisplayName("a range that would pass Long.MAX_VALUE is an IdGenerationException; nothing changes")
    void overflowIsRefused() throws Exception {
        put("distkit/id/segment/full", Long.toString(Long.MAX_VALUE - 5));
        EtcdSegmentAllocator allocator = allocator();
        assertThatThrownBy(() -> allocator.allocate("full", 10)).isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("overflow").hasMessageContaining("'full'");
        assertThat(get("distkit/id/segment/full")).isEqualTo(Long.toString(Long.MAX_VALUE - 5));
        assertThat(allocator.allocate("full", 5)).isEqualTo(new Segment("full", Long.MAX_VALUE - 5, Long.MAX_VALUE));
    }

    @Test
    @DisplayName("a tag key holding something else than a decimal number is an IdGenerationException naming the key and the value")
    void keyHoldingNoNumber() throws Exception {
        EtcdSegmentAllocator allocator = allocator();
        for (String value : List.of("abc", "-5", "", "12 ", "99999999999999999999")) {
            put("distkit/id/segment/garbled", value);
            assertThatThrownBy(() -> allocator.allocate("garbled", 10)).as("value '%s'", value)
                    .isExactlyInstanceOf(IdGenerationException.class)
                    .hasMessageContaining("distkit/id/segment/garbled").hasMessageContaining("'" + value + "'")
                    .hasMessageContaining("decimal number");
            assertThat(get("distkit/id/segment/garbled")).isEqualTo(value);
        }
    }

    @Test
    @DisplayName("blank, oversized and control-character tags and steps below 1 are IllegalArgumentExceptions")
    void badTagsAndSteps() {
        EtcdSegmentAllocator allocator = allocator();
        assertThatThrownBy(() -> allocator.allocate(" ", 10)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("blank");
        assertThatThrownBy(() -> allocator.allocate("x".repeat(129), 10)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("128");
        assertThatThrownBy(() -> allocator.allocate("a\nb", 10)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("control");
        assertThatThrownBy(() -> allocator.allocate("ok", 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("step");
        assertThatThrownBy(() -> allocator.allocate(null, 1)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> EtcdSegmentAllocator.builder(EtcdTests.endpoints(etcd)).firstId(-1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("firstId");
        assertThatThrownBy(() -> EtcdSegmentAllocator.builder(EtcdTests.endpoints(etcd)).keyPrefix(" "))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("keyPrefix");
    }

    @Test
    @DisplayName("an unreachable endpoint is an IdSourceUnavailableException within the command timeout")
    void unreachableEndpoint() {
        EtcdSegmentAllocator allocator = toClose.add(EtcdSegmentAllocator.builder("127.0.0.1:" + Servers.freePort())
                .commandTimeout(Duration.ofSeconds(1)).build());
        long start = System.nanoTime();
        assertThatThrownBy(() -> allocator.allocate("t", 10)).isInstanceOf(IdSourceUnavailableException.class)
                .hasMessageContaining("tag 't'").hasMessageContaining("127.0.0.1")
                .satisfies(e -> System.out.println("unreachable allocator: " + e.getMessage()));
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(3_000);
        allocator.close();
        assertThatThrownBy(() -> allocator.allocate("t", 10)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    /**
     * F22, outage. The generator has served 500 ids of its first segment (step 1,000) and prefetched the second
     * when the only member is killed. Every id of both buffers still comes; the next call throws
     * {@link IdSourceUnavailableException} naming the tag within maxWait and not much more. Once the member is
     * back, ids resume above all of them; no id repeats.
     */
    @Test
    @DisplayName("F22: etcd killed mid-run: ids from the buffers, then a clean IdSourceUnavailableException within the bound, then resumption without duplicates")
    void memberKilledMidRun() {
        EtcdSegmentAllocator allocator = toClose.add(EtcdSegmentAllocator.builder(EtcdTests.endpoints(etcd))
                .keyPrefix("f22").commandTimeout(Duration.ofSeconds(2)).build());
        SegmentOutage.run("etcd", allocator, toClose, () -> etcd.member(0).kill(), () -> etcd.member(0).start());
    }
}
