package io.distkit.id.backends.zookeeper;

import io.distkit.id.backends.SegmentOutage;
import io.distkit.testkit.Closer;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * F22 for {@code SegmentIdGenerator} on {@link ZooKeeperSegmentAllocator}: the ZooKeeper server stopped mid-run
 * ({@link SegmentOutage}).
 */
class ZooKeeperSegmentFailureTest {

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperIdTestSupport.server();

    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    @Test
    @DisplayName("F22: server stopped mid-run: ids from the buffers, then a clean IdSourceUnavailableException within maxWait, then resumption without duplicates")
    void serverStoppedMidRun() {
        ZooKeeperSegmentAllocator allocator = ZooKeeperSegmentAllocator.builder(zk.connectString())
                .basePath("/f22").commandTimeout(Duration.ofSeconds(1)).build();
        toClose.add(allocator::close);
        SegmentOutage.run("ZooKeeper", allocator, toClose, () -> zk.killServer(0), () -> zk.restartServer(0));
    }
}
