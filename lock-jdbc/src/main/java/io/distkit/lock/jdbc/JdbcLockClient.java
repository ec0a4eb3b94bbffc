package io.distkit.lock.jdbc;

import io.distkit.jdbc.JdbcTableBuilder;
import io.distkit.jdbc.SqlDialect;
import io.distkit.jdbc.internal.Database;
import io.distkit.jdbc.internal.TableSpec;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockOptions;
import io.distkit.lock.spi.LockEngine;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * Distributed locks on one table of a database you already have (PostgreSQL, MySQL/MariaDB, H2).
 *
 * <pre>{@code
 * LockClient locks = JdbcLockClient.builder(dataSource).build();   // table distkit_lock must exist
 * try (LockHandle handle = locks.lock("nightly-report").acquire()) {
 *     store.write(report, handle.fencingToken());
 * }
 * }</pre>
 *
 * <p>One row per lock name: {@code (lock_name, owner, fencing_token, expires_at)}. Acquiring takes
 * the row when it is free or its lease has run out by the <em>database's</em> clock, bumps the
 * fencing token and sets the expiry; renewals (one JDBC batch per pass for all locks of the client)
 * and releases are conditional on the owner value, so a stale holder can change nothing. Waiting
 * polls with jittered exponential backoff (5 ms to 250 ms, never past the holder's expiry).
 *
 * <p>The table: {@link #createTableSql} gives its DDL ({@code src/main/resources} of this
 * module ships it per database); {@link Builder#createTableIfMissing()} creates it. On PostgreSQL
 * the table must be logged (distkit refuses an {@code UNLOGGED} one: a crash empties it), and every
 * acquire and renewal commits with {@code synchronous_commit = on}, so one that was acknowledged
 * survives a crash of the server. Releases commit with it off: a release lost in a crash leaves the
 * row held until its expiry (as a crashed holder would), never two holders, and it saves the second
 * disk flush of every acquire-release cycle.
 */
public final class JdbcLockClient {

    /** The table used unless {@link Builder#tableName} names another. */
    public static final String DEFAULT_TABLE = "distkit_lock";
    /** How long one statement may take unless {@link Builder#commandTimeout} sets another: 5 seconds. */
    public static final Duration DEFAULT_COMMAND_TIMEOUT = JdbcTableBuilder.DEFAULT_COMMAND_TIMEOUT;

    /** The lock table for the shared checks: its columns, its DDL ({@code src/main/resources}), and every problem a {@link LockBackendException}. */
    private static final TableSpec LOCK_TABLE = TableSpec.builder("lock")
            .builtBy("client")
            .columns("lock_name", "owner", "fencing_token", "expires_at")
            .ddl(JdbcLockClient.class, Map.of(SqlDialect.POSTGRESQL, "postgresql.sql", SqlDialect.MYSQL, "mysql.sql",
                    SqlDialect.H2, "h2.sql"))
            .lostInCrash("every lock with it while the holders keep going")
            .rows("locks")
            .connectHint("check the URL, the credentials and that the database runs")
            .failures((problem, table, message, cause) -> new LockBackendException(null, message, cause))
            .build();

    private static final int DEFAULT_STATEMENT_THREADS = 4;

    private JdbcLockClient() {}

    /** A builder for a client on {@code dataSource}; the data source stays yours (the client does not close it). */
    public static Builder builder(DataSource dataSource) {
        return new Builder(Objects.requireNonNull(dataSource, "dataSource"), null);
    }

    static Builder builder(DataSource dataSource, AutoCloseable closeWithClient) {
        return new Builder(dataSource, closeWithClient);
    }

    /**
     * The {@code CREATE TABLE} statement of a lock table named {@code table} in {@code dialect}, as this
     * module ships it ({@code io/distkit/lock/jdbc/<dialect>.sql}): run it in your migrations, or let
     * {@link Builder#createTableIfMissing()} do it.
     *
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if {@code table} is not an unquoted SQL identifier, optionally
     *     schema-qualified
     */
    public static String createTableSql(SqlDialect dialect, String table) {
        return LOCK_TABLE.createTableSql(dialect, table);
    }

    /**
     * Configures a client. Only the data source is required. Besides the options of every JDBC builder
     * ({@link JdbcTableBuilder}: table, dialect, table creation, command timeout): the lock defaults, the
     * statement threads and the spin wait. A statement that runs past the command timeout counts as
     * failed; an acquire that failed so is resolved by owner value (given back if it took the lock).
     */
    public static final class Builder extends JdbcTableBuilder<Builder> {
        private final @Nullable AutoCloseable closeWithClient;
        private LockOptions defaultOptions = LockOptions.defaults();
        private int threads = DEFAULT_STATEMENT_THREADS;
        private Duration spinWait = LockEngine.DEFAULT_SPIN_WAIT;

        private Builder(DataSource dataSource, @Nullable AutoCloseable closeWithClient) {
            super(dataSource, DEFAULT_TABLE);
            this.closeWithClient = closeWithClient;
        }

        /** The options of {@link LockClient#lock(String)}; default {@link LockOptions#defaults()}. */
        public Builder defaultOptions(LockOptions options) {
            this.defaultOptions = Objects.requireNonNull(options, "defaultOptions");
            return this;
        }

        /**
         * How many statements this client runs at once (its threads; each borrows a connection while it
         * runs); default 4. Keep it below the pool size of the data source.
         *
         * @throws IllegalArgumentException if not between 1 and 256
         */
        public Builder maxConcurrentStatements(int threads) {
            if (threads < 1 || threads > 256) {
                throw new IllegalArgumentException("maxConcurrentStatements must be between 1 and 256, was " + threads);
            }
            this.threads = threads;
            return this;
        }

        /** See {@link LockEngine.Builder#spinWait}; default 100 µs, {@link Duration#ZERO} turns it off. */
        public Builder spinWait(Duration budget) {
            this.spinWait = LockEngine.checkSpinWait(budget);
            return this;
        }

        /**
         * Checks the database and the table, then returns the client.
         *
         * @throws LockBackendException if the database cannot be reached, or the table is missing (the message
         *     carries the DDL to run), lacks distkit's columns, or is UNLOGGED or temporary
         * @throws IllegalArgumentException if the database is not one distkit has SQL for
         */
        public LockClient build() {
            // the network bound on every borrowed connection, the probe, the dialect, the query timeout, the table
            Database database = openDatabase(LOCK_TABLE);
            return engine(new JdbcLockBackend(database, threads, closeWithClient), defaultOptions, spinWait).build();
        }
    }

    /**
     * For distkit's own modules, not for application code: a client on a table that another distkit
     * module opened and checked, whose rows have the lock columns ({@code lock_name}, {@code owner},
     * {@code fencing_token}, {@code expires_at}) besides columns of its own with defaults. The JDBC
     * worker-id assigner keeps its worker ids so, as locks in its worker table. The data source stays
     * the caller's. Owner values start with {@code ownerPrefix} ({@link LockEngine.Builder#ownerPrefix}).
     */
    public static LockClient onCheckedTable(Database database, LockOptions defaultOptions, String ownerPrefix) {
        Objects.requireNonNull(database, "database");
        Objects.requireNonNull(defaultOptions, "defaultOptions");
        return engine(new JdbcLockBackend(database, DEFAULT_STATEMENT_THREADS, null), defaultOptions,
                LockEngine.DEFAULT_SPIN_WAIT).ownerPrefix(ownerPrefix).build();
    }

    private static LockEngine.Builder<JdbcLease> engine(JdbcLockBackend backend, LockOptions defaultOptions,
            Duration spinWait) {
        return LockEngine.builder(backend)
                .defaultOptions(defaultOptions)
                .operationTimeout(backend.commandTimeout.multipliedBy(2).plusSeconds(1))
                .spinWait(spinWait);
    }
}
