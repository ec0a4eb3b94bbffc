package io.distkit.id.segment;

import io.distkit.id.IdGenerator;
import io.distkit.testkit.id.IdGeneratorContract;
import java.time.Duration;

/**
 * The id contract on the in-memory allocator, with a small step (100, fixed) so that the concurrent
 * tests switch segments thousands of times. The allocator answers faster than a thread hand-over, so
 * segments are fetched on the callers' threads; {@link PrefetchingSegmentContractTest} runs the same
 * contract with every fetch in the background.
 */
class SegmentContractTest extends IdGeneratorContract {

    private final InMemorySegmentAllocator allocator = new InMemorySegmentAllocator();

    SegmentIdGenerator.Builder builder(InMemorySegmentAllocator allocator) {
        return SegmentIdGenerator.builder(allocator, "contract").minStep(100).maxStep(100)
                .inlineFetchBelow(Duration.ofSeconds(1)); // every fetch on a caller's thread, however slow the JIT
    }

    @Override
    protected IdGenerator newGenerator() {
        return builder(allocator).build();
    }
}
