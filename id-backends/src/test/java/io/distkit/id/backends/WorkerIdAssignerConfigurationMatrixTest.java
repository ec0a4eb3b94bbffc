package io.distkit.id.backends;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.testkit.Closer;
import io.distkit.testkit.jdbc.JdbcConfigurationMatrix;
import io.distkit.testkit.jdbc.PoolConfiguration;
import io.distkit.testkit.server.JdbcServer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * The JDBC worker-id assigner under the pool settings and calling habits of ordinary applications ({@link
 * PoolConfiguration}), on PostgreSQL, MariaDB and H2: 4 assigners (a pool each, a table of the cell's own) ×
 * 4 threads lease 2 worker ids each out of 64 and keep them. Every cell must give 32 distinct worker ids,
 * each with its row held in the table (committed, not rolled back by the pool or with the caller's
 * transaction), and no connection left borrowed.
 */
class WorkerIdAssignerConfigurationMatrixTest extends JdbcConfigurationMatrix {

    private static final int ROUNDS = 2;

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
            run(cell, pools, ROUNDS,
                    (assigner, round) -> leases.add(closer.add(assigners.get(assigner).acquire(64))));
            List<Integer> ids = leases.stream().map(WorkerLease::workerId).toList();
            assertThat(ids).hasSize(CLIENTS * THREADS * ROUNDS).doesNotHaveDuplicates();
            List<Integer> held = new JdbcTemplate(pools.get(0)).queryForList(
                    "SELECT worker_id FROM " + table + " WHERE owner IS NOT NULL", Integer.class);
            assertThat(held).as("the claims committed in the table").containsExactlyInAnyOrderElementsOf(ids);
            pools.forEach(PoolConfiguration::awaitNoConnectionBorrowed);
        }
    }
}
