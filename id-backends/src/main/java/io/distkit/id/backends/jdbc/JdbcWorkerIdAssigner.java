package io.distkit.id.backends.jdbc;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.id.backends.LockedWorkerIdAssigner;
import io.distkit.jdbc.JdbcTableBuilder;
import io.distkit.jdbc.SqlDialect;
import io.distkit.jdbc.internal.Database;
import io.distkit.jdbc.internal.TableSpec;
import io.distkit.lock.LockOptions;
import io.distkit.lock.jdbc.JdbcLockClient;
import io.distkit.lock.spi.LockEngine;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * Worker ids for snowflake-style generators, leased from one table of a database you already have
 * (PostgreSQL, MySQL/MariaDB, H2).
 *
 * <pre>{@code
 * WorkerIdAssigner workers = JdbcWorkerIdAssigner.builder(dataSource).build();  // table distkit_worker must exist
 * WorkerLease lease = workers.acquire(1024);   // the lowest free worker id in [0, 1024), renewed in the background
 * ... generator uses lease.workerId(), starts above lease.lastTimestamp(), calls lease.saveLastTimestamp(t) ...
 * workers.close();                             // releases every lease it handed out
 * }</pre>
 *
 * <p>Worker id {@code n} is the lock {@code worker-<n>} of lock-jdbc, taken in the worker table, whose
 * rows have the lock columns ({@code lock_name, owner, fencing_token, expires_at}) and the worker id's
 * high-water mark beside them ({@code last_timestamp}). So the lease is kept as lock-jdbc keeps its locks
 * ({@link LockedWorkerIdAssigner}): a row is free when its owner is null or its {@code expires_at} has
 * passed by the <em>database's</em> clock; a take raises the row's fencing token; the leases of one
 * assigner are renewed in one JDBC batch per renew interval; a lease ends when a renewal finds its row
 * taken, or at its local deadline on this process's monotonic clock, which falls before the row can
 * expire on the database. The mark is read and saved conditionally on the row's fencing token, so a
 * holder whose row was taken can no longer change it. Rows are never deleted: a recycled id keeps its
 * {@code last_timestamp}, which the next lease reports as {@link WorkerLease#lastTimestamp()}.
 *
 * <p>On PostgreSQL the table must be logged (an {@code UNLOGGED} one is refused: a crash empties it),
 * and every take, renewal and save commits with {@code synchronous_commit = on}, so an acknowledged one
 * survives a crash of the server; releases commit without waiting for the disk (a release lost in a
 * crash only leaves the row to expire).
 */
public final class JdbcWorkerIdAssigner {

    /** The table used unless {@link Builder#tableName} names another. */
    public static final String DEFAULT_TABLE = "distkit_worker";
    /** The lease unless {@link Builder#leaseTime} sets another: 30 seconds. */
    public static final Duration DEFAULT_LEASE_TIME = LockOptions.DEFAULT_LEASE_TIME;
    /** How long one statement may take unless {@link Builder#commandTimeout} sets another: 5 seconds. */
    public static final Duration DEFAULT_COMMAND_TIMEOUT = JdbcTableBuilder.DEFAULT_COMMAND_TIMEOUT;

    /**
     * The worker table for the shared checks: its columns, its DDL ({@code src/main/resources}), an
     * unreachable database an {@link IdSourceUnavailableException}, any other problem an {@link IdGenerationException}.
     */
    private static final TableSpec WORKER_TABLE = TableSpec.builder("worker-id")
            .builtBy("assigner")
            .columns("lock_name", "owner", "fencing_token", "expires_at", "last_timestamp")
            .ddl(JdbcWorkerIdAssigner.class, Map.of(SqlDialect.POSTGRESQL, "worker-postgresql.sql",
                    SqlDialect.MYSQL, "worker-mysql.sql", SqlDialect.H2, "worker-h2.sql"))
            .lostInCrash("with it every worker lease and high-water mark while the generators keep going")
            .rows("leases")
            .connectHint("check the URL and the credentials")
            .failures((problem, table, message, cause) -> problem == TableSpec.Problem.UNREACHABLE
                    ? new IdSourceUnavailableException(table, message, cause)
                    : new IdGenerationException(message, cause))
            .build();

    private JdbcWorkerIdAssigner() {}

    /** A builder for an assigner on {@code dataSource}; the data source stays yours (the assigner does not close it). */
    public static Builder builder(DataSource dataSource) {
        return new Builder(Objects.requireNonNull(dataSource, "dataSource"));
    }

    /**
     * The {@code CREATE TABLE} statement of a worker table named {@code table} in {@code dialect}, as this
     * module ships it ({@code io/distkit/id/backends/jdbc/worker-<dialect>.sql}): run it in your migrations, or
     * let {@link Builder#createTableIfMissing()} do it.
     *
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if {@code table} is not an unquoted SQL identifier, optionally
     *     schema-qualified
     */
    public static String createTableSql(SqlDialect dialect, String table) {
        return WORKER_TABLE.createTableSql(dialect, table);
    }

    /**
     * Configures an assigner. Only the data source is required; every setter checks its argument at once.
     * Besides the options of every JDBC builder ({@link JdbcTableBuilder}: table, dialect, table creation,
     * command timeout): the lease and its renewal, with the bounds and defaults of {@link LockOptions}.
     */
    public static final class Builder extends JdbcTableBuilder<Builder> {
        private final LockOptions.Builder lease = LockOptions.builder();
        private @Nullable String ownerPrefix;

        private Builder(DataSource dataSource) {
            super(dataSource, DEFAULT_TABLE);
        }

        /**
         * How long the database keeps a worker id of a process that stopped renewing (crashed, paused, cut
         * off); default 30 s. It is the wait before such an id can be leased again.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if under {@link LockOptions#MIN_LEASE_TIME} or over
         *     {@link LockOptions#MAX_LEASE_TIME}
         */
        public Builder leaseTime(Duration leaseTime) {
            lease.leaseTime(leaseTime);
            return this;
        }

        /**
         * Time between renewal passes; default {@code leaseTime / 3}. Checked against the lease in
         * {@link #build()}: at most half of it, so that a failed renewal can be retried before the deadline.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not positive
         */
        public Builder renewInterval(Duration renewInterval) {
            lease.renewInterval(renewInterval);
            return this;
        }

        /**
         * What the {@code owner} column of this assigner's rows starts with, for operators reading the
         * table; a {@code '#'} and a part unique to each lease follow. Default: the host name and the
         * process id, {@code host/pid}, shortened to fit.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if empty, longer than {@value LockEngine#MAX_OWNER_PREFIX_LENGTH}
         *     characters, or not printable ASCII without spaces
         */
        public Builder ownerPrefix(String prefix) {
            this.ownerPrefix = LockEngine.checkOwnerPrefix(prefix);
            return this;
        }

        /**
         * Checks the settings, the database and the table, then returns the assigner, which renews its
         * leases on the lock engine's daemon threads until it is closed.
         *
         * @throws IllegalArgumentException if the renew interval is over half the lease, or the database
         *     is not one distkit has SQL for
         * @throws IdSourceUnavailableException if the database cannot be reached
         * @throws IdGenerationException if the table is missing (the message carries the DDL to run), lacks
         *     distkit's columns, or is UNLOGGED or temporary
         */
        public WorkerIdAssigner build() {
            LockOptions options = lease.build(); // the renew interval against the lease, before any connection
            // the network bound on every borrowed connection, the probe, the dialect, the query timeout, the table
            Database database = openDatabase(WORKER_TABLE);
            return LockedWorkerIdAssigner.builder(JdbcLockClient.onCheckedTable(database, options,
                                    ownerPrefix != null ? ownerPrefix : defaultOwnerPrefix()),
                            new JdbcWorkerMarkStore(database))
                    .namespace("") // the table is the namespace
                    .leaseTime(options.leaseTime())
                    .renewInterval(options.renewInterval())
                    .closeLockClientWithAssigner()
                    .build();
        }
    }

    /** {@code host/pid}, printable ASCII, at most {@link LockEngine#MAX_OWNER_PREFIX_LENGTH} characters (the pid and the end of the host name kept). */
    static String defaultOwnerPrefix() {
        String pid = Long.toString(ProcessHandle.current().pid());
        String host = System.getenv("HOSTNAME");
        if (host == null || host.isBlank()) {
            try {
                host = InetAddress.getLocalHost().getHostName();
            } catch (UnknownHostException | SecurityException unresolvable) {
                host = "unknown-host";
            }
        }
        StringBuilder clean = new StringBuilder();
        host.chars().forEach(c -> clean.append(c > 0x20 && c < 0x7f ? (char) c : '_'));
        int room = LockEngine.MAX_OWNER_PREFIX_LENGTH - 1 - pid.length();
        // the end of a long host name tells hosts apart (a pod name ends in its random suffix)
        return (clean.length() > room ? clean.substring(clean.length() - room) : clean) + "/" + pid;
    }
}
