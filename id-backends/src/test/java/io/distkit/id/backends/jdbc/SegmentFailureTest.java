package io.distkit.id.backends.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.backends.SegmentOutage;
import io.distkit.id.segment.InMemorySegmentAllocator;
import io.distkit.id.segment.SegmentIdGenerator;
import io.distkit.id.segment.SegmentMetrics;
import io.distkit.testkit.Closer;
import io.distkit.testkit.id.IdChecks;
import io.distkit.testkit.process.ChildJvm;
import io.distkit.testkit.server.Pools;
import io.distkit.testkit.server.PostgresServer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/failures.md, F22, for {@link SegmentIdGenerator} on {@link JdbcSegmentAllocator} and a PostgreSQL server
 * of its own: the database stopped mid-run (ids from the buffers, then a clean error within the bound,
 * then resumption without a duplicate), and a generator JVM killed mid-run (only gaps, no reuse).
 */
class SegmentFailureTest {

    static final Duration MAX_WAIT = Duration.ofSeconds(1);

    static PostgresServer server;
    static HikariDataSource pool;
    private final Closer toClose = new Closer();

    @BeforeAll
    static void startDatabase() {
        server = PostgresServer.builder().build();
        server.start();
        pool = Pools.hikari(server);
    }

    @AfterAll
    static void stopDatabase() {
        if (pool != null) {
            pool.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    JdbcSegmentAllocator allocator(String table) {
        return JdbcSegmentAllocator.builder(pool).tableName(table).createTableIfMissing().createMissingTags(1).build();
    }

    SegmentIdGenerator generator(JdbcSegmentAllocator allocator, long step) {
        return generator(allocator, step, SegmentMetrics.NONE);
    }

    SegmentIdGenerator generator(JdbcSegmentAllocator allocator, long step, SegmentMetrics metrics) {
        SegmentIdGenerator g = SegmentIdGenerator.builder(allocator, "f22").minStep(step).maxStep(step)
                .maxWait(MAX_WAIT).metrics(metrics).build();
        toClose.add(g);
        return g;
    }

    /**
     * F22, outage. The generator has served 500 ids of its first segment (step 1,000) and prefetched the
     * second when the database stops. Every id of both buffers still comes (1,500 of them); the next call
     * throws {@link IdSourceUnavailableException} naming the tag, after waiting {@code maxWait} and not
     * much more. Once the database is back, ids resume above all of them; no id repeats.
     */
    @Test
    @DisplayName("F22: database stopped mid-run: ids from the buffers, then a clean IdSourceUnavailableException within maxWait, then resumption without duplicates")
    void databaseStoppedMidRun() {
        SegmentOutage.run("PostgreSQL", allocator("seg_f22_outage"), toClose, server::stop, server::restart);
    }

    /**
     * F22, crash. A generator in a child JVM (step 100, so it fetches every few milliseconds) is killed with
     * SIGKILL while issuing. A new generator on the same table starts above every id the dead one wrote
     * down: its unused reservation is a gap, never reused. Negative control: the same check against a
     * generator whose store forgot the reservations (an in-memory allocator) finds the duplicates.
     */
    @Test
    @DisplayName("F22: a generator JVM killed mid-run leaves only gaps; a store that forgot its reservations repeats ids, and the checker finds them")
    void generatorJvmKilledLeavesOnlyGaps(@TempDir Path dir) throws IOException {
        String table = "seg_f22_crash";
        JdbcSegmentAllocator allocator = allocator(table);
        allocator.createTag("f22", 1);
        Path out = dir.resolve("child.ids");
        ChildJvm child = ChildJvm.builder(SegmentGeneratorMain.class).name("segment-generator")
                .args(server.jdbcUrl(), server.user(), server.password(), table, "f22", "100", out.toString())
                .start();
        toClose.add(child);
        child.awaitLine(line -> line.equals(SegmentGeneratorMain.PREFIX + "ready"), Duration.ofSeconds(30));
        child.awaitLine(line -> line.startsWith(SegmentGeneratorMain.PREFIX + "issued 20000"), Duration.ofSeconds(30));
        child.kill();
        long[] dead = readIds(out);

        SegmentIdGenerator successor = generator(allocator, 100);
        long[] next = LongStream.range(0, 5000).map(i -> successor.nextId()).toArray();

        long deadMax = LongStream.of(dead).max().orElseThrow();
        System.out.printf("F22 crash: the killed generator wrote %d ids up to %d; its successor started at %d%n",
                dead.length, deadMax, next[0]);
        assertThat(dead.length).isGreaterThanOrEqualTo(20_000);
        Map<String, long[]> ids = new LinkedHashMap<>();
        ids.put("killed", dead);
        ids.put("successor", next);
        IdChecks.distinct(ids).assertNoViolations();
        IdChecks.noRewindAfterRestart(Map.of("killed", dead), "successor", next[0]).assertNoViolations();

        SegmentIdGenerator forgetful = SegmentIdGenerator.builder(new InMemorySegmentAllocator(), "f22")
                .minStep(100).maxStep(100).build();
        toClose.add(forgetful);
        Map<String, long[]> control = new LinkedHashMap<>();
        control.put("killed", dead);
        control.put("forgetful", LongStream.range(0, 5000).map(i -> forgetful.nextId()).toArray());
        IdChecks.Result result = IdChecks.distinct(control);
        assertThat(result.count(IdChecks.Kind.DUPLICATE)).as("%s", result).isPositive();
    }

    /** The ids a child wrote, 8 bytes each; a partial last one (the kill hit mid-write) is dropped. */
    private static long[] readIds(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer buffer = ByteBuffer.wrap(bytes, 0, bytes.length - bytes.length % Long.BYTES);
        long[] ids = new long[buffer.remaining() / Long.BYTES];
        buffer.asLongBuffer().get(ids);
        return ids;
    }
}
