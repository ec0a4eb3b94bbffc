package io.distkit.id.backends.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.id.IdGenerationException;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link ZooKeeperWorkerMarkStore} against the semantics of the SPI (those of the in-memory reference store): the
 * highest token heard from wins, a lower token reads nothing and saves nothing, a save keeps the maximum.
 */
class ZooKeeperWorkerMarkStoreTest {

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperIdTestSupport.server();

    private static CuratorFramework operator;
    private static ZooKeeperAccess access;

    @BeforeAll
    static void connect() throws InterruptedException {
        operator = ZooKeeperIdTestSupport.operator(zk);
        access = ZooKeeperAccess.of(operator, Duration.ofSeconds(5));
    }

    @AfterAll
    static void close() {
        operator.close();
    }

    @Test
    @DisplayName("fenced by the token: a read raises it, a lower token reads empty and saves nothing, saves keep the maximum")
    void fencedByTheToken() throws Exception {
        ZooKeeperWorkerMarkStore marks = new ZooKeeperWorkerMarkStore(access, "/marks-test/fenced", null);
        assertThat(marks.read("worker-0", 5)).isEqualTo(OptionalLong.of(0));
        assertThat(marks.save("worker-0", 5, 100)).isTrue();
        assertThat(marks.save("worker-0", 5, 50)).as("a lower value leaves the mark").isTrue();
        assertThat(marks.read("worker-0", 3)).as("an older holder").isEmpty();
        assertThat(marks.save("worker-0", 3, 200)).isFalse();
        assertThat(marks.read("worker-0", 7)).isEqualTo(OptionalLong.of(100));
        assertThat(marks.save("worker-0", 5, 300)).as("fenced off once token 7 read the mark").isFalse();
        assertThat(marks.save("worker-0", 7, 150)).isTrue();
        assertThat(new String(operator.getData().forPath("/marks-test/fenced/worker-0"), StandardCharsets.UTF_8))
                .isEqualTo("7 150");
        assertThat(marks.save("worker-1", 9, 40)).as("a save before any read creates the node").isTrue();
        assertThat(marks.read("worker-1", 9)).isEqualTo(OptionalLong.of(40));
        assertThat(marks.read("lock/with%slash", 1)).as("names encoded into one node").isEqualTo(OptionalLong.of(0));
        assertThat(operator.getChildren().forPath("/marks-test/fenced")).contains("lock%2Fwith%25slash");
    }

    @Test
    @DisplayName("concurrent saves of one holder keep the maximum (compare-and-set, retried)")
    void concurrentSavesKeepTheMaximum() throws Exception {
        ZooKeeperWorkerMarkStore marks = new ZooKeeperWorkerMarkStore(access, "/marks-test/concurrent", null);
        marks.read("worker-0", 1);
        ExecutorService threads = Executors.newFixedThreadPool(4);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int thread = t;
                futures.add(threads.submit(() -> {
                    start.await();
                    for (int i = 0; i < 25; i++) {
                        assertThat(marks.save("worker-0", 1, i * 4L + thread)).isTrue();
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> future : futures) {
                future.get(30, TimeUnit.SECONDS);
            }
        } finally {
            threads.shutdownNow();
        }
        assertThat(marks.read("worker-0", 1)).isEqualTo(OptionalLong.of(99));
    }

    @Test
    @DisplayName("a mark node holding something else than '<token> <mark>' is a clear error")
    void corruptNodeIsAClearError() throws Exception {
        operator.create().creatingParentsIfNeeded().forPath("/marks-test/corrupt/worker-0",
                "garbage".getBytes(StandardCharsets.UTF_8));
        ZooKeeperWorkerMarkStore marks = new ZooKeeperWorkerMarkStore(access, "/marks-test/corrupt", null);
        assertThatThrownBy(() -> marks.read("worker-0", 1)).isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("holds 'garbage', not '<fencing token> <last timestamp>'");
        assertThatThrownBy(() -> marks.save("worker-0", 1, 5)).isExactlyInstanceOf(IdGenerationException.class);
    }
}
