package io.distkit.id.backends.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.Segment;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.testkit.Closer;
import io.distkit.testkit.jdbc.JdbcConfigurationMatrix;
import io.distkit.testkit.jdbc.PoolConfiguration;
import io.distkit.testkit.server.JdbcServer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * The JDBC worker-id assigner and segment allocator under the pool settings and calling habits of ordinary
 * applications ({@link PoolConfiguration}), on PostgreSQL, MariaDB and H2. One class for both: the servers
 * of {@link JdbcConfigurationMatrix} are static fields of the base class, closed after the first class that
 * uses them, so a module has one matrix test class.
 */
class JdbcIdConfigurationMatrixTest extends JdbcConfigurationMatrix {

    private static final int WORKER_ROUNDS = 2;
    private static final int SEGMENT_ROUNDS = 5;
    private static final long STEP = 10;

    /**
     * 4 assigners (a pool each, a table of the cell's own) × 4 threads lease 2 worker ids each out of 64 and
     * keep them. Every cell must give 32 distinct worker ids, each with its row held in the table (committed,
     * not rolled back by the pool or with the caller's transaction), and no connection left borrowed.
     */
    @ParameterizedTest(name = "{0}: {1}", autoCloseArguments = false) // the servers outlive a cell
    @MethodSource("cells")
    void concurrentAcquirersGetDistinctCommittedWorkerIds(JdbcServer server, PoolConfiguration cell) throws Exception {
        String table = "workers_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        try (Closer closer = new Closer()) {
            List<HikariDataSource> pools = pools(server, cell, closer);
            List<WorkerIdAssigner> assigners = new ArrayList<>();
            for (HikariDataSource pool : pools) {
                assigners.add(closer.add(JdbcWorkerIdAssigner.builder(cell.forDistkit(pool)).tableName(table).createTableIfMissing()
                        .build()));
            }
            List<WorkerLease> leases = Collections.synchronizedList(new ArrayList<>());
            run(cell, pools, WORKER_ROUNDS,
                    (assigner, round) -> leases.add(closer.add(assigners.get(assigner).acquire(64))));
            List<Integer> ids = leases.stream().map(WorkerLease::workerId).toList();
            assertThat(ids).hasSize(CLIENTS * THREADS * WORKER_ROUNDS).doesNotHaveDuplicates();
            List<String> held = new JdbcTemplate(pools.get(0)).queryForList(
                    "SELECT lock_name FROM " + table + " WHERE owner IS NOT NULL", String.class);
            assertThat(held).as("the claims committed in the table")
                    .containsExactlyInAnyOrderElementsOf(ids.stream().map(id -> "worker-" + id).toList());
            pools.forEach(PoolConfiguration::awaitNoConnectionBorrowed);
        }
    }

    /**
     * 4 allocators (a pool each) × 4 threads reserve 5 ranges of 10 each of one tag. Every cell must give
     * disjoint ranges that tile {@code [1, 801)} exactly, a {@code max_id} committed in the table at 801 (not
     * rolled back by the pool or with the caller's transaction), and no connection left borrowed.
     */
    @ParameterizedTest(name = "{0}: {1}", autoCloseArguments = false) // the servers outlive a cell
    @MethodSource("cells")
    void concurrentReservationsAreDisjointAndCommitted(JdbcServer server, PoolConfiguration cell) throws Exception {
        String tag = "matrix-" + UUID.randomUUID();
        try (Closer closer = new Closer()) {
            List<HikariDataSource> pools = pools(server, cell, closer);
            List<JdbcSegmentAllocator> allocators = new ArrayList<>();
            for (HikariDataSource pool : pools) {
                allocators.add(JdbcSegmentAllocator.builder(cell.forDistkit(pool)).createTableIfMissing().build());
            }
            assertThat(cell.call(pools.get(0), () -> allocators.get(0).createTag(tag, 1))).isTrue();
            Map<String, List<Segment>> ranges = new ConcurrentHashMap<>();
            run(cell, pools, SEGMENT_ROUNDS, (allocator, round) -> {
                Segment segment = allocators.get(allocator).allocate(tag, STEP);
                ranges.computeIfAbsent(Thread.currentThread().getName(), producer -> new ArrayList<>()).add(segment);
            });
            SegmentRanges.overlaps(ranges).assertNoViolations();
            long end = 1 + CLIENTS * THREADS * SEGMENT_ROUNDS * STEP;
            assertThat(SegmentRanges.tilingProblems(ranges, 1, end)).as("no gap, no overlap").isEmpty();
            Long stored = new JdbcTemplate(pools.get(0)).queryForObject(
                    "SELECT max_id FROM " + JdbcSegmentAllocator.DEFAULT_TABLE + " WHERE biz_tag = ?", Long.class, tag);
            assertThat(stored).as("max_id committed in the table").isEqualTo(end);
            pools.forEach(PoolConfiguration::awaitNoConnectionBorrowed);
        }
    }
}
