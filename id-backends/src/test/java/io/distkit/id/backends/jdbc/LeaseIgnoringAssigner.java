package io.distkit.id.backends.jdbc;

import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import java.sql.Timestamp;
import java.time.Instant;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * The negative control of the assigner tests: before each acquire it marks every row of the worker table
 * expired, as a store that ignored leases would see them, so the real assigner it wraps claims ids that
 * live leases hold. The checks must flag the duplicate worker ids; a check that never sees a broken
 * assigner proves nothing.
 */
final class LeaseIgnoringAssigner implements WorkerIdAssigner {

    private static final Timestamp LONG_AGO = Timestamp.from(Instant.parse("2000-01-01T00:00:00Z"));

    private final WorkerIdAssigner assigner;
    private final JdbcTemplate admin;
    private final String table;

    LeaseIgnoringAssigner(WorkerIdAssigner assigner, JdbcTemplate admin, String table) {
        this.assigner = assigner;
        this.admin = admin;
        this.table = table;
    }

    @Override
    public WorkerLease acquire(int maxWorkerIds) {
        // One row a statement: a single UPDATE of every held row, run by several acquirers at once, locks the
        // rows in whatever order each scan meets them and PostgreSQL answers with "deadlock detected".
        for (String held : admin.queryForList("SELECT lock_name FROM " + table + " WHERE owner IS NOT NULL", String.class)) {
            admin.update("UPDATE " + table + " SET expires_at = ? WHERE lock_name = ?", LONG_AGO, held);
        }
        return assigner.acquire(maxWorkerIds);
    }

    @Override
    public void close() {
        assigner.close();
    }
}
