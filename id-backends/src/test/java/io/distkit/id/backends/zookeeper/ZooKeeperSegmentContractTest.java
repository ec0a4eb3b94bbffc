package io.distkit.id.backends.zookeeper;

import io.distkit.id.IdGenerator;
import io.distkit.id.segment.SegmentIdGenerator;
import io.distkit.testkit.id.IdGeneratorContract;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The id contract on {@link ZooKeeperSegmentAllocator}, step 1,000 fixed: every generator on an allocator with a
 * client of its own, one tag, racing the others for segments through ZooKeeper.
 */
class ZooKeeperSegmentContractTest extends IdGeneratorContract {

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperIdTestSupport.server();

    private final Map<IdGenerator, ZooKeeperSegmentAllocator> allocators = new ConcurrentHashMap<>();

    @Override
    protected IdGenerator newGenerator() {
        ZooKeeperSegmentAllocator allocator = ZooKeeperSegmentAllocator.builder(zk.connectString())
                .basePath("/contract/segments").build();
        SegmentIdGenerator generator = SegmentIdGenerator.builder(allocator, "contract").minStep(1000).maxStep(1000)
                .build();
        allocators.put(generator, allocator);
        return generator;
    }

    @Override
    protected void closeGenerator(IdGenerator generator) throws Exception {
        super.closeGenerator(generator);
        ZooKeeperSegmentAllocator allocator = allocators.remove(generator);
        if (allocator != null) {
            allocator.close();
        }
    }

    @Override
    protected int idsPerThread() {
        return 5_000;
    }
}
