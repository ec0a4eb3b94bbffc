package io.distkit.benchmarks;

import io.distkit.id.SegmentAllocator;
import io.distkit.id.segment.InMemorySegmentAllocator;
import io.distkit.id.segment.SegmentIdGenerator;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import me.ahoo.cosid.segment.DefaultSegmentId;
import me.ahoo.cosid.segment.IdSegmentDistributor;
import me.ahoo.cosid.segment.SegmentChainId;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The segment generator against CosId's two segment generators and the physical limit, a bare
 * {@code AtomicLong.incrementAndGet()}: one generator of one tag shared by every benchmark thread, ranges
 * of {@code step} ids from an allocator in memory (so the benchmark measures the generators, not a store).
 * Scores are ids per second ({@code nextId}) or nanoseconds per id ({@code nextIdLatency}).
 *
 * <pre>
 * scripts/bench.sh 'SegmentBenchmark.nextId$' -t 1 -f 2 -wi 3 -i 5 -w 1 -r 2
 * scripts/bench.sh 'SegmentBenchmark.nextId$' -t 2 -f 2 -wi 3 -i 5 -w 1 -r 2
 * scripts/bench.sh SegmentBenchmark.nextIdLatency -p impl=DISTKIT -p step=1000,1000000000 -f 2 -wi 3 -i 5
 * </pre>
 *
 * <ul>
 *   <li>{@code DISTKIT}: {@code SegmentIdGenerator.builder(new InMemorySegmentAllocator(), tag)} with
 *       {@code minStep = maxStep = step} (the adaptive step off, for a like-for-like step). The in-memory
 *       allocator answers in well under 10 µs, so segments are fetched on the caller's thread when they
 *       run out (a hand-over to a prefetch thread would cost more).
 *   <li>{@code COSID_DEFAULT}: {@code new DefaultSegmentId(new IdSegmentDistributor.Atomic(step))}
 *       (cosid-core 2.x): one segment, refilled by the caller that finds it used up.
 *   <li>{@code COSID_CHAIN}: {@code new SegmentChainId(new IdSegmentDistributor.Atomic(step))}: a chain of
 *       segments filled ahead by CosId's prefetch worker.
 *   <li>{@code ATOMIC_LONG}: {@code AtomicLong.incrementAndGet()}: no segments, the limit of a shared
 *       counter.
 * </ul>
 *
 * Targets (docs/architecture.md, "Benchmarks"): on one thread, {@code DISTKIT} at least 1.0 &times;
 * {@code COSID_DEFAULT} and 3 &times; {@code COSID_CHAIN}, and at least 0.5 &times; {@code ATOMIC_LONG};
 * the p99.9 of {@code nextIdLatency} with step 1,000 (a segment switch every 1,000 ids) at most
 * 2 &times; its p99.9 with step 10<sup>9</sup> (no switch in a run).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class SegmentBenchmark {

    /** The implementation measured. */
    @Param({"DISTKIT", "COSID_DEFAULT", "COSID_CHAIN", "ATOMIC_LONG"})
    public Impl impl;

    /** The implementations, spelled as the other benchmarks spell theirs. */
    public enum Impl { DISTKIT, COSID_DEFAULT, COSID_CHAIN, ATOMIC_LONG }

    /** Ids per segment. */
    @Param({"1000"})
    public long step;

    /** One source of ids, whichever library it comes from. */
    interface IdSource extends AutoCloseable {
        long nextId();

        @Override
        default void close() {}
    }

    private IdSource source;

    @Setup(Level.Trial)
    public void open() {
        source = switch (impl) {
            case DISTKIT -> distkit(new InMemorySegmentAllocator(), step);
            case COSID_DEFAULT -> new DefaultSegmentId(new IdSegmentDistributor.Atomic(step))::generate;
            case COSID_CHAIN -> new SegmentChainId(new IdSegmentDistributor.Atomic(step))::generate;
            case ATOMIC_LONG -> new AtomicLong()::incrementAndGet;
        };
    }

    static IdSource distkit(SegmentAllocator allocator, long step) {
        SegmentIdGenerator generator = SegmentIdGenerator.builder(allocator, "bench")
                .minStep(step).maxStep(step).build();
        return new IdSource() {
            @Override
            public long nextId() {
                return generator.nextId();
            }

            @Override
            public void close() {
                generator.close();
            }
        };
    }

    @TearDown(Level.Trial)
    public void close() throws Exception {
        source.close();
    }

    @Benchmark
    public long nextId() {
        return source.nextId();
    }

    /** The same call, each one timed: the distribution shows what a segment switch costs the unlucky caller. */
    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public long nextIdLatency() {
        return source.nextId();
    }
}
