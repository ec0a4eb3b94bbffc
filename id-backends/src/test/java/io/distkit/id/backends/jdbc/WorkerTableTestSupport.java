package io.distkit.id.backends.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.IdGenerationException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.id.backends.LockedWorkerLease;
import io.distkit.jdbc.SqlDialect;
import io.distkit.jdbc.internal.DialectSql;
import io.distkit.testkit.Closer;
import java.util.List;
import java.util.UUID;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * A worker table of its own for each test, on the database a subclass supplies, and what tests need
 * around it. Each assigner gets a pool of its own (as a separate process would). Expiry of a row is
 * read off the database clock and brought to this JVM's {@link System#nanoTime()} by reading the
 * remaining lease between two readings of the local clock (the databases run on this machine).
 */
abstract class WorkerTableTestSupport {

    static final long MS = 1_000_000L;

    /** A new pool on the database under test. */
    abstract HikariDataSource newPool();

    /** The dialect of the database under test (to read expiry times in its SQL). */
    abstract SqlDialect dialect();

    final String table = "w_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    final Closer toClose = new Closer();
    private @Nullable JdbcTemplate admin;

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    /** One worker row as the database has it. */
    record Row(@Nullable String owner, long lastTimestamp) {}

    /** The lease, or null when every id in range is taken (any other failure is thrown). */
    static @Nullable WorkerLease tryAcquire(WorkerIdAssigner assigner, int maxWorkerIds) {
        try {
            return assigner.acquire(maxWorkerIds);
        } catch (IdGenerationException e) {
            if (e.getClass() != IdGenerationException.class) {
                throw e;
            }
            return null;
        }
    }

    /** The lock name of a worker id in the worker table. */
    static String lockName(int workerId) {
        return "worker-" + workerId;
    }

    /**
     * The owner value the lease's take wrote: the row's owner while the row still has the lease's fencing
     * token (a later take raises it), so comparing it with {@link #row}'s owner says whether the row is
     * still this lease's.
     */
    String owner(WorkerLease lease) {
        LockedWorkerLease locked = (LockedWorkerLease) lease;
        List<String> owners = admin().queryForList("SELECT owner FROM " + table + " WHERE lock_name = ? AND fencing_token = ?",
                String.class, locked.lockName(), locked.fencingToken());
        assertThat(owners).as("the row still carries the fencing token of %s", lease).hasSize(1);
        return java.util.Objects.requireNonNull(owners.get(0), "released");
    }

    WorkerIdAssigner assigner(UnaryOperator<JdbcWorkerIdAssigner.Builder> configure) {
        HikariDataSource pool = toClose.add(newPool());
        return toClose.add(configure.apply(JdbcWorkerIdAssigner.builder(pool).tableName(table).createTableIfMissing())
                .build());
    }

    @Nullable Row row(int workerId) {
        List<Row> rows = admin().query("SELECT owner, last_timestamp FROM " + table + " WHERE lock_name = ?",
                (rs, i) -> new Row(rs.getString(1), rs.getLong(2)), lockName(workerId));
        return rows.isEmpty() ? null : rows.get(0);
    }

    long remainingMillis(int workerId) {
        return admin().queryForObject("SELECT " + DialectSql.of(dialect()).millisUntil("expires_at") + " FROM " + table
                + " WHERE lock_name = ?", Long.class, lockName(workerId));
    }

    /** The row's expiry by the DB clock as a {@link System#nanoTime()} interval {@code [lower, upper]}. */
    long[] expiry(int workerId) {
        long before = System.nanoTime();
        long remaining = remainingMillis(workerId);
        long after = System.nanoTime();
        // millisUntil rounds: up on PostgreSQL, down (by under a millisecond) elsewhere
        return new long[] {before + (remaining - 1) * MS, after + (remaining + 1) * MS};
    }

    JdbcTemplate admin() {
        if (admin == null) {
            admin = new JdbcTemplate(toClose.add(newPool()));
        }
        return admin;
    }
}
