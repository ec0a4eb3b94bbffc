package io.distkit.id.segment;

import java.time.Duration;

/**
 * The id contract with the double buffer at work: every fetch a prefetch on the shared executor. (It was
 * a static nested class of {@link SegmentContractTest}, which Surefire's default excludes never ran.)
 */
class PrefetchingSegmentContractTest extends SegmentContractTest {

    @Override
    SegmentIdGenerator.Builder builder(InMemorySegmentAllocator allocator) {
        return super.builder(allocator).inlineFetchBelow(Duration.ZERO);
    }
}
