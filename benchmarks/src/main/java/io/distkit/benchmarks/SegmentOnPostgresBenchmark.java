package io.distkit.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.backends.jdbc.JdbcSegmentAllocator;
import io.distkit.id.segment.SegmentIdGenerator;
import io.distkit.testkit.server.Pools;
import io.distkit.testkit.server.PostgresServer;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
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
 * The segment generator on {@link JdbcSegmentAllocator} and a private PostgreSQL server started for the
 * trial, first step 10,000: each segment costs one {@code UPDATE ... RETURNING} round trip with a durable
 * commit, made in the background once 10 % of the current segment is used. Compare {@code nextId} with
 * {@link SegmentBenchmark}'s {@code distkit} on the in-memory allocator: equal scores mean the callers
 * never waited for the database. {@code maxStep} 10,000 keeps the step fixed: at a hundred million ids a
 * second a segment lasts 100 µs, less than a durable commit takes, so callers do wait (the benchmark shows
 * the price of a step too small for the rate); {@code maxStep} 1,000,000 lets the step adapt, as it does
 * by default.
 *
 * <pre>
 * scripts/bench.sh SegmentOnPostgresBenchmark -t 1 -f 1 -wi 3 -i 5
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class SegmentOnPostgresBenchmark {

    /** Ids of the first segment, and the least step. */
    @Param({"10000"})
    public long step;

    /** The greatest step: {@code step} for a fixed one. */
    @Param({"10000", "1000000"})
    public long maxStep;

    private @Nullable PostgresServer server;
    private @Nullable HikariDataSource pool;
    private SegmentIdGenerator generator;
    private JdbcSegmentAllocator allocator;

    @Setup(Level.Trial)
    public void open() {
        server = PostgresServer.builder().build();
        server.start();
        pool = Pools.hikari(server);
        allocator = JdbcSegmentAllocator.builder(pool).createTableIfMissing().createMissingTags(1).build();
        generator = SegmentIdGenerator.builder(allocator, "bench").minStep(step).maxStep(maxStep).build();
    }

    @TearDown(Level.Trial)
    public void close() {
        try {
            generator.close();
        } finally {
            if (pool != null) {
                pool.close();
            }
            if (server != null) {
                server.close();
            }
        }
    }

    @Benchmark
    public long nextId() {
        return generator.nextId();
    }
}
