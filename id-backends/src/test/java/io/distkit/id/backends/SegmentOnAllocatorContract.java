package io.distkit.id.backends;

import io.distkit.id.IdGenerator;
import io.distkit.id.SegmentAllocator;
import io.distkit.id.segment.SegmentIdGenerator;
import io.distkit.testkit.id.IdGeneratorContract;

/**
 * The id contract for {@link SegmentIdGenerator} on a store's allocator, step 1,000 fixed: every generator of a
 * test on one tag, racing the others for segments through the store.
 */
public abstract class SegmentOnAllocatorContract extends IdGeneratorContract {

    /** The allocator a new generator uses: a new one on the shared store, or one shared by all. */
    protected abstract SegmentAllocator allocator();

    @Override
    protected IdGenerator newGenerator() {
        return SegmentIdGenerator.builder(allocator(), "contract").minStep(1000).maxStep(1000).build();
    }

    @Override
    protected int idsPerThread() {
        return 5_000;
    }
}
