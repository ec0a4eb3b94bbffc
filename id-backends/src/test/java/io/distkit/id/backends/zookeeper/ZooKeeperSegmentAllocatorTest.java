package io.distkit.id.backends.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.id.IdGenerationException;
import io.distkit.id.Segment;
import io.distkit.id.SegmentAllocator;
import io.distkit.testkit.Closer;
import io.distkit.testkit.id.IdChecks;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.CreateMode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link ZooKeeperSegmentAllocator}: tags created on first use at the first id, one node per tag (injective), ranges
 * disjoint and ascending under concurrent allocators (with a racy allocator as the negative control), overflow and
 * bad input.
 */
class ZooKeeperSegmentAllocatorTest {

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperIdTestSupport.server();

    private static final AtomicInteger TESTS = new AtomicInteger();
    private static CuratorFramework operator;
    private final Closer toClose = new Closer();
    private String base;

    @BeforeAll
    static void connectOperator() throws InterruptedException {
        operator = ZooKeeperIdTestSupport.operator(zk);
    }

    @AfterAll
    static void closeOperator() {
        operator.close();
    }

    @BeforeEach
    void freshBase() {
        base = "/segment-test/b" + TESTS.incrementAndGet();
    }

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    private ZooKeeperSegmentAllocator allocator() {
        return register(ZooKeeperSegmentAllocator.builder(zk.connectString()).basePath(base).build());
    }

    private ZooKeeperSegmentAllocator register(ZooKeeperSegmentAllocator allocator) {
        toClose.add(allocator::close);
        return allocator;
    }

    private String data(String path) throws Exception {
        return new String(operator.getData().forPath(path), StandardCharsets.UTF_8);
    }

    @Test
    @DisplayName("an unknown tag starts at firstId (default 1); ranges follow each other; the node holds the next start in decimal")
    void tagsStartAtFirstIdAndRangesFollow() throws Exception {
        ZooKeeperSegmentAllocator allocator = allocator();
        assertThat(allocator.allocate("order", 10)).isEqualTo(new Segment("order", 1, 11));
        assertThat(allocator.allocate("order", 5)).isEqualTo(new Segment("order", 11, 16));
        assertThat(data(base + "/order")).isEqualTo("16");

        ZooKeeperSegmentAllocator fromThousand = register(ZooKeeperSegmentAllocator.builder(zk.connectString())
                .basePath(base).firstId(1000).build());
        assertThat(fromThousand.allocate("invoice", 100)).isEqualTo(new Segment("invoice", 1000, 1100));
        assertThat(fromThousand.allocate("order", 1)).as("an existing tag keeps its value").isEqualTo(
                new Segment("order", 16, 17));
    }

    @Test
    @DisplayName("tags map one to one onto node names: '/', '%', dots, surrogate pairs and private-use characters never collide")
    void tagsMapInjectivelyOntoNodes() throws Exception {
        ZooKeeperSegmentAllocator allocator = allocator();
        List<String> tags = List.of("a/b", "a%2Fb", "a%252Fb", ".", "..", "%2E", "a b", "\uD83D\uDE00", "%uD83D%uDE00",
                "\uE000", "zookeeper");
        for (String tag : tags) {
            assertThat(allocator.allocate(tag, 7)).as(tag).isEqualTo(new Segment(tag, 1, 8));
        }
        assertThat(operator.getChildren().forPath(base)).as("one node per tag").hasSize(tags.size())
                .contains("a%2Fb", "a%252Fb", "%2E", "%2E%2E", "%uD83D%uDE00", "%25uD83D%25uDE00");
        for (String tag : tags) {
            assertThat(data(allocator.tagPath(tag))).isEqualTo("8");
        }
    }

    @Test
    @DisplayName("concurrent allocators on one tag: ranges disjoint across all, ascending per allocator thread")
    void concurrentAllocatorsGetDisjointAscendingRanges() throws Exception {
        Map<String, List<Segment>> ranges = race(this::allocator, "hot", 40);
        IdChecks.disjoint(ranges).assertNoViolations();
        for (Map.Entry<String, List<Segment>> entry : ranges.entrySet()) {
            List<Segment> segments = entry.getValue();
            for (int i = 1; i < segments.size(); i++) {
                assertThat(segments.get(i).start()).as("%s ascends", entry.getKey())
                        .isGreaterThanOrEqualTo(segments.get(i - 1).endExclusive());
            }
        }
    }

    /** The negative control: a read and a blind write, in two calls; the checker must find its overlaps. */
    @Test
    @DisplayName("negative control: an allocator that reads and then writes blindly hands out overlapping ranges, and the checker finds them")
    void readThenBlindWriteOverlaps() throws Exception {
        allocator().allocate("hot", 1); // the node exists
        String path = base + "/hot";
        SegmentAllocator racy = (tag, step) -> {
            try {
                long start = Long.parseLong(data(path));
                operator.setData().forPath(path, Long.toString(start + step).getBytes(StandardCharsets.UTF_8));
                return new Segment(tag, start, start + step);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
        Map<String, List<Segment>> ranges = race(() -> racy, "hot", 60);
        assertThat(IdChecks.disjoint(ranges).isClean()).as("the checker sees the broken allocator").isFalse();
    }

    /** 4 allocators x 2 threads, each {@code perThread} allocations of steps 1 to 5, started together. */
    private Map<String, List<Segment>> race(Supplier<SegmentAllocator> allocators, String tag, int perThread)
            throws Exception {
        ExecutorService threads = Executors.newFixedThreadPool(8);
        try {
            CountDownLatch start = new CountDownLatch(1);
            Map<String, Future<List<Segment>>> futures = new LinkedHashMap<>();
            for (int a = 0; a < 4; a++) {
                SegmentAllocator allocator = allocators.get();
                for (int t = 0; t < 2; t++) {
                    futures.put("allocator " + a + " thread " + t, threads.submit(() -> {
                        start.await();
                        List<Segment> got = new ArrayList<>();
                        for (int i = 0; i < perThread; i++) {
                            got.add(allocator.allocate(tag, 1 + i % 5));
                        }
                        return got;
                    }));
                }
            }
            start.countDown();
            Map<String, List<Segment>> ranges = new LinkedHashMap<>();
            for (Map.Entry<String, Future<List<Segment>>> entry : futures.entrySet()) {
                ranges.put(entry.getKey(), entry.getValue().get(60, TimeUnit.SECONDS));
            }
            return ranges;
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    @DisplayName("a step that would pass Long.MAX_VALUE is refused and reserves nothing; the last range up to it is fine")
    void overflowIsRefused() throws Exception {
        ZooKeeperSegmentAllocator allocator = allocator();
        allocator.allocate("big", 1);
        operator.setData().forPath(base + "/big", Long.toString(Long.MAX_VALUE - 5).getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> allocator.allocate("big", 6)).isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("would overflow").hasMessageContaining("starts at " + (Long.MAX_VALUE - 5))
                .hasMessageContaining("nothing was reserved");
        assertThat(data(base + "/big")).isEqualTo(Long.toString(Long.MAX_VALUE - 5));
        assertThat(allocator.allocate("big", 5)).isEqualTo(new Segment("big", Long.MAX_VALUE - 5, Long.MAX_VALUE));
        assertThatThrownBy(() -> allocator.allocate("big", 1)).isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("would overflow");
    }

    @Test
    @DisplayName("bad input: blank, oversized or control-character tags, a zero step, a node holding no number or a negative one, an ephemeral base path")
    void badInput() throws Exception {
        ZooKeeperSegmentAllocator allocator = allocator();
        assertThatIllegalArgumentException().isThrownBy(() -> allocator.allocate(" ", 1)).withMessageContaining("blank");
        assertThatIllegalArgumentException().isThrownBy(() -> allocator.allocate("x".repeat(129), 1))
                .withMessageContaining("at most 128 characters");
        assertThatIllegalArgumentException().isThrownBy(() -> allocator.allocate("a\nb", 1))
                .withMessageContaining("control characters");
        assertThatIllegalArgumentException().isThrownBy(() -> allocator.allocate("a", 0)).withMessageContaining("step");
        assertThatThrownBy(() -> allocator.allocate(null, 1)).isInstanceOf(NullPointerException.class);
        assertThat(allocator.allocate("x".repeat(128), 1).start()).as("the longest tag fits a node name").isEqualTo(1);

        operator.create().creatingParentsIfNeeded().forPath(base + "/text", "abc".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> allocator.allocate("text", 1)).isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("holds 'abc', not the decimal start of the tag's next range")
                .hasMessageContaining("set " + base + "/text <number>");
        operator.create().forPath(base + "/negative", "-5".getBytes(StandardCharsets.UTF_8));
        assertThatThrownBy(() -> allocator.allocate("negative", 1)).isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("holds -5, below 0");

        String ephemeral = base + "/ephemeral";
        operator.create().withMode(CreateMode.EPHEMERAL).forPath(ephemeral);
        assertThatIllegalArgumentException()
                .isThrownBy(() -> ZooKeeperSegmentAllocator.builder(zk.connectString()).basePath(ephemeral + "/segments")
                        .build())
                .withMessageContaining("the node " + ephemeral).withMessageContaining("is an ephemeral node")
                .withMessageContaining("choose a base path on persistent nodes");
        assertThatIllegalArgumentException().isThrownBy(() -> ZooKeeperSegmentAllocator.builder("h:1").basePath("/"))
                .withMessageContaining("below the root");
        assertThatIllegalArgumentException().isThrownBy(() -> ZooKeeperSegmentAllocator.builder("h:1").firstId(-1))
                .withMessageContaining("firstId");
    }
}
