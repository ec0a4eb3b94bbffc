package io.distkit.id.backends.etcd;

import io.distkit.id.IdGenerator;
import io.distkit.id.segment.SegmentIdGenerator;
import io.distkit.testkit.id.IdGeneratorContract;
import io.distkit.testkit.server.EtcdCluster;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The id contract on {@link SegmentIdGenerator} over {@link EtcdSegmentAllocator}, step 1,000 fixed: every
 * generator on one tag, each with an allocator and a jetcd client of its own, racing the others for segments.
 */
class EtcdSegmentContractTest extends IdGeneratorContract {

    static EtcdCluster etcd;

    @BeforeAll
    static void startEtcd() {
        etcd = EtcdTests.started();
    }

    @AfterAll
    static void stopEtcd() {
        if (etcd != null) {
            etcd.close();
        }
    }

    private final Map<IdGenerator, EtcdSegmentAllocator> allocators = new ConcurrentHashMap<>();

    @Override
    protected IdGenerator newGenerator() {
        EtcdSegmentAllocator allocator = EtcdSegmentAllocator.builder(EtcdTests.endpoints(etcd)).build();
        SegmentIdGenerator generator = SegmentIdGenerator.builder(allocator, "contract").minStep(1000).maxStep(1000)
                .build();
        allocators.put(generator, allocator);
        return generator;
    }

    @Override
    protected void closeGenerator(IdGenerator generator) throws Exception {
        try {
            super.closeGenerator(generator);
        } finally {
            EtcdSegmentAllocator allocator = allocators.remove(generator);
            if (allocator != null) {
                allocator.close();
            }
        }
    }

    @Override
    protected int idsPerThread() {
        return 5_000;
    }
}
