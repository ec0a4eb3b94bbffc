package io.distkit.lock.jdbc;

import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockOptions;
import io.distkit.lock.spi.LockEngine;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Objects;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.support.SQLExceptionSubclassTranslator;
import org.springframework.jdbc.datasource.DataSourceTransactionManager;
import org.springframework.transaction.TransactionDefinition;
import org.springframework.transaction.support.TransactionTemplate;

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
 * <p>The table: {@link JdbcDialect#createTable} gives its DDL ({@code src/main/resources} of this
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
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(5);

    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,62}");

    private JdbcLockClient() {}

    /** A builder for a client on {@code dataSource}; the data source stays yours (the client does not close it). */
    public static Builder builder(DataSource dataSource) {
        return new Builder(Objects.requireNonNull(dataSource, "dataSource"), null);
    }

    static Builder builder(DataSource dataSource, AutoCloseable closeWithClient) {
        return new Builder(dataSource, closeWithClient);
    }

    /**
     * Checks a table name: an unquoted SQL identifier, optionally schema-qualified ({@code locks.distkit_lock}),
     * each part a letter or underscore followed by up to 62 letters, digits or underscores.
     *
     * @throws NullPointerException if null
     * @throws IllegalArgumentException otherwise, quoting the name
     */
    static String checkTableName(String table) {
        Objects.requireNonNull(table, "tableName");
        String[] parts = table.split("\\.", -1);
        boolean valid = parts.length <= 2;
        for (String part : parts) {
            valid &= IDENTIFIER.matcher(part).matches();
        }
        if (!valid) {
            throw new IllegalArgumentException("tableName must be an unquoted SQL identifier, optionally"
                    + " schema-qualified (letters, digits, '_', not starting with a digit, at most 63 characters a"
                    + " part), was '" + table + "'");
        }
        return table;
    }

    /** Configures a client. Only the data source is required. */
    public static final class Builder {
        private final DataSource dataSource;
        private final @Nullable AutoCloseable closeWithClient;
        private String table = DEFAULT_TABLE;
        private @Nullable JdbcDialect dialect;
        private LockOptions defaultOptions = LockOptions.defaults();
        private boolean createTableIfMissing;
        private Duration commandTimeout = DEFAULT_COMMAND_TIMEOUT;
        private int threads = 4;
        private Duration spinWait = LockEngine.DEFAULT_SPIN_WAIT;

        private Builder(DataSource dataSource, @Nullable AutoCloseable closeWithClient) {
            this.dataSource = dataSource;
            this.closeWithClient = closeWithClient;
        }

        /**
         * The lock table; default {@value JdbcLockClient#DEFAULT_TABLE}. Clients that should contend for the
         * same locks need the same table.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not an unquoted SQL identifier, optionally schema-qualified
         */
        public Builder tableName(String table) {
            this.table = checkTableName(table);
            return this;
        }

        /** The SQL dialect; by default detected from the database product name the driver reports. */
        public Builder dialect(JdbcDialect dialect) {
            this.dialect = Objects.requireNonNull(dialect, "dialect");
            return this;
        }

        /** The options of {@link LockClient#lock(String)}; default {@link LockOptions#defaults()}. */
        public Builder defaultOptions(LockOptions options) {
            this.defaultOptions = Objects.requireNonNull(options, "defaultOptions");
            return this;
        }

        /**
         * Creates the lock table at {@link #build()} if it does not exist (with the DDL of {@link
         * JdbcDialect#createTable}). Off by default: most teams create tables through their migrations.
         */
        public Builder createTableIfMissing() {
            this.createTableIfMissing = true;
            return this;
        }

        /**
         * How long one statement may take (JDBC query timeout); default 5 s. A statement that times out
         * counts as failed; an acquire that failed so is resolved by owner value (given back if it took the
         * lock). It is enforced as a network timeout of this plus a second on each connection while distkit
         * uses it (the connection's own setting is put back afterwards), which also ends a statement whose
         * server went silent; MariaDB/MySQL and H2 also get it as their query timeout.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder commandTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "commandTimeout");
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("commandTimeout must be positive, was " + timeout);
            }
            this.commandTimeout = timeout;
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
         *     carries the DDL to run), lacks distkit's columns, or is UNLOGGED
         * @throws IllegalArgumentException if the database is not one distkit has SQL for
         */
        public LockClient build() {
            // every connection distkit borrows gets a network timeout: the bound that holds even when the
            // server goes silent (a query timeout's cancel cannot reach a paused or cut-off server)
            int networkBound = (int) Math.min(Integer.MAX_VALUE, commandTimeout.toMillis() + 1000);
            DataSource bounded = new NetworkBoundedDataSource(dataSource, networkBound);
            JdbcTemplate jdbc = new JdbcTemplate(bounded);
            // by JDBC exception class and SQL state: Spring's default translator reads error codes from a new
            // connection on the first failure, which is the worst moment (the database may be unreachable)
            jdbc.setExceptionTranslator(new SQLExceptionSubclassTranslator());
            String[] database = probe(bounded); // product name, URL
            JdbcDialect dialect = this.dialect != null ? this.dialect : JdbcDialect.of(database[0]);
            int queryTimeoutSeconds = (int) Math.max(1, (commandTimeout.toMillis() + 999) / 1000);
            if (dialect.queryTimeoutIsSafe()) {
                jdbc.setQueryTimeout(queryTimeoutSeconds);
            }
            String where = database[1];
            LockTable.check(jdbc, dialect, table, createTableIfMissing, where);
            TransactionTemplate transactions = new TransactionTemplate(new DataSourceTransactionManager(bounded));
            transactions.setIsolationLevel(TransactionDefinition.ISOLATION_READ_COMMITTED);
            if (dialect.queryTimeoutIsSafe()) {
                transactions.setTimeout(queryTimeoutSeconds);
            }
            JdbcLockBackend backend = new JdbcLockBackend(jdbc, transactions, dialect, table,
                    where + " table " + table, threads, commandTimeout, closeWithClient);
            return LockEngine.builder(backend)
                    .defaultOptions(defaultOptions)
                    .operationTimeout(commandTimeout.multipliedBy(2).plusSeconds(1))
                    .spinWait(spinWait)
                    .build();
        }

        /** The database product name and URL, from one connection: the first contact, with the clearest error. */
        private String[] probe(DataSource bounded) {
            try (Connection connection = bounded.getConnection()) {
                DatabaseMetaData meta = connection.getMetaData();
                String url = meta.getURL() != null ? meta.getURL().replaceAll("(?i)(password=)[^&;]*", "$1***") : "?";
                return new String[] {meta.getDatabaseProductName(), url};
            } catch (SQLException e) {
                throw new LockBackendException(null, "cannot connect to the database of " + dataSource + ": "
                        + e.getMessage() + " (check the URL, the credentials and that the database runs)", e);
            }
        }
    }
}
