package io.distkit.id.backends.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.Segment;
import io.distkit.testkit.id.IdChecks;
import io.distkit.testkit.process.ChildJvm;
import io.distkit.testkit.server.Pools;
import io.distkit.testkit.server.PostgresServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ranges of one tag allocated at once by {@value #PROCESSES} processes ({@link SegmentAllocationMain}
 * child JVMs) x {@value #THREADS} threads from one PostgreSQL table never overlap: every range is
 * recorded to a file, and the files are checked together afterwards. A small step ({@value #STEP}) makes
 * many allocations contend for the row. The negative control runs the same workload in the same
 * processes with an allocator that reads {@code max_id} and writes it back in two statements, and the
 * same checks must flag it.
 */
@Timeout(90)
class SegmentAllocationDisjointnessTest {

    static final int PROCESSES = 4;
    static final int THREADS = 4;
    static final int ALLOCATIONS = 50; // per thread
    static final long STEP = 7;
    static final long FIRST_ID = 1;
    private static final Duration REPLY_TIMEOUT = Duration.ofSeconds(60);
    private static final String TABLE = "distkit_id_segment";

    @RegisterExtension
    static PostgresServer postgres = PostgresServer.builder().build();

    @TempDir
    static Path dir;

    private static final List<ChildJvm> children = new ArrayList<>();
    private static HikariDataSource pool;
    private static JdbcSegmentAllocator admin;

    @BeforeAll
    static void launch() {
        pool = Pools.hikari(postgres);
        admin = JdbcSegmentAllocator.builder(pool).createTableIfMissing().build();
        for (int p = 0; p < PROCESSES; p++) { // started together, they boot in parallel
            children.add(ChildJvm.builder(SegmentAllocationMain.class).name("allocator-" + p)
                    .args(postgres.jdbcUrl(), postgres.user(), postgres.password(), TABLE).start());
        }
        for (ChildJvm child : children) {
            child.awaitLine(l -> l.startsWith(SegmentAllocationMain.PREFIX + "ready "), REPLY_TIMEOUT);
        }
    }

    @AfterAll
    static void stop() {
        children.forEach(ChildJvm::close);
        if (pool != null) {
            pool.close();
        }
    }

    @Test
    @DisplayName("ranges that 4 processes x 4 threads allocate from one tag are pairwise disjoint, all their ids distinct, and tile [first id, max_id) exactly")
    void rangesOfConcurrentProcessesAreDisjoint() {
        assertThat(admin.createTag("shared", FIRST_ID)).isTrue();
        Map<String, List<Segment>> ranges = runEverywhere("shared", false);

        assertThat(ranges.values().stream().mapToInt(List::size).sum()).as("every allocation returned")
                .isEqualTo(PROCESSES * THREADS * ALLOCATIONS);
        SegmentRanges.overlaps(ranges).assertNoViolations();
        assertThat(SegmentRanges.notAscending(ranges)).as("each thread's ranges ascend").isEmpty();
        long end = FIRST_ID + (long) PROCESSES * THREADS * ALLOCATIONS * STEP;
        assertThat(SegmentRanges.tilingProblems(ranges, FIRST_ID, end)).as("no gap, no overlap").isEmpty();
        assertThat(admin.allocate("shared", 1)).as("max_id is where the ranges end")
                .isEqualTo(new Segment("shared", end, end + 1));
    }

    @Test
    @DisplayName("negative control: read-then-write allocators in the same processes hand out overlapping ranges, and the same checks flag them")
    void readThenWriteAllocatorsAreCaught() {
        assertThat(admin.createTag("unsafe", FIRST_ID)).isTrue();
        Map<String, List<Segment>> ranges = runEverywhere("unsafe", true);

        assertThat(ranges.values().stream().mapToInt(List::size).sum()).isEqualTo(PROCESSES * THREADS * ALLOCATIONS);
        IdChecks.Result result = SegmentRanges.overlaps(ranges);
        assertThat(result.count(IdChecks.Kind.SEGMENT_OVERLAP)).as(result.report()).isPositive();
        assertThat(result.count(IdChecks.Kind.DUPLICATE)).isPositive();
        assertThat(SegmentRanges.tilingProblems(ranges, FIRST_ID, FIRST_ID + (long) PROCESSES * THREADS * ALLOCATIONS * STEP))
                .isNotEmpty();
    }

    @Test
    @DisplayName("the checks flag fabricated overlaps: neighbours sharing an id, a range inside a longer one, and a gap")
    void checksFlagFabricatedOverlaps() {
        Map<String, List<Segment>> neighbours = Map.of("a", List.of(seg(1, 8), seg(15, 22)), "b", List.of(seg(7, 14)));
        assertThat(SegmentRanges.overlaps(neighbours).count(IdChecks.Kind.SEGMENT_OVERLAP)).isEqualTo(1);
        assertThat(SegmentRanges.overlaps(neighbours).count(IdChecks.Kind.DUPLICATE)).isEqualTo(1);
        assertThat(SegmentRanges.tilingProblems(neighbours, 1, 22)).hasSize(2); // 7 < 8 (overlap), 15 > 14 (gap)

        // sorted by start, [8, 9) sits between [1, 50) and [10, 17): adjacent pairs alone would miss [10, 17)
        Map<String, List<Segment>> inside = Map.of("a", List.of(seg(1, 50)), "b", List.of(seg(8, 9), seg(10, 17)));
        assertThat(SegmentRanges.overlaps(inside).count(IdChecks.Kind.SEGMENT_OVERLAP)).isEqualTo(2);
        assertThat(SegmentRanges.tilingProblems(inside, 1, 50)).isNotEmpty();

        Map<String, List<Segment>> backwards = Map.of("a", List.of(seg(8, 15), seg(1, 8)));
        SegmentRanges.overlaps(backwards).assertNoViolations();
        assertThat(SegmentRanges.notAscending(backwards)).hasSize(1);

        Map<String, List<Segment>> clean = Map.of("a", List.of(seg(1, 8), seg(15, 22)), "b", List.of(seg(8, 15)));
        SegmentRanges.overlaps(clean).assertNoViolations();
        assertThat(SegmentRanges.tilingProblems(clean, 1, 22)).isEmpty();
    }

    private static Segment seg(long start, long end) {
        return new Segment("t", start, end);
    }

    /** Arms every process, then starts them all at once; the ranges by "process thread", in the order each got them. */
    private static Map<String, List<Segment>> runEverywhere(String tag, boolean unsafe) {
        List<Path> files = new ArrayList<>();
        for (int p = 0; p < PROCESSES; p++) {
            Path file = dir.resolve(tag + "-" + p + ".ranges");
            files.add(file);
            call(children.get(p), "arm " + tag + " " + STEP + " " + THREADS + " " + ALLOCATIONS + " " + file
                    + (unsafe ? " unsafe" : ""), "armed");
        }
        List<CompletableFuture<String>> ran = new ArrayList<>();
        for (ChildJvm child : children) {
            ran.add(reply(child));
            child.send("go");
        }
        for (int p = 0; p < PROCESSES; p++) {
            String reply = ran.get(p).orTimeout(REPLY_TIMEOUT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS).join();
            assertThat(reply).as("process %d: %s", p, children.get(p).logTail(20)).startsWith("ran ");
        }
        Map<String, List<Segment>> ranges = new LinkedHashMap<>();
        for (int p = 0; p < PROCESSES; p++) {
            try {
                for (String line : Files.readAllLines(files.get(p))) {
                    String[] f = line.split(" ");
                    ranges.computeIfAbsent("process " + p + " thread " + f[0], k -> new ArrayList<>())
                            .add(new Segment(tag, Long.parseLong(f[1]), Long.parseLong(f[2])));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return ranges;
    }

    private static CompletableFuture<String> reply(ChildJvm child) {
        String prefix = SegmentAllocationMain.PREFIX;
        return child.nextLine(l -> l.startsWith(prefix) && !l.startsWith(prefix + "ready "))
                .thenApply(l -> l.substring(prefix.length()));
    }

    private static void call(ChildJvm child, String command, String expected) {
        CompletableFuture<String> reply = reply(child);
        child.send(command);
        assertThat(reply.orTimeout(REPLY_TIMEOUT.toSeconds(), java.util.concurrent.TimeUnit.SECONDS).join())
                .as("%s: %s", child.name(), command).isEqualTo(expected);
    }
}
