package io.distkit.jdbc;

import io.distkit.jdbc.internal.Database;
import io.distkit.jdbc.internal.TableSpec;
import java.time.Duration;
import java.util.Objects;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * The options every distkit builder on one table of a database shares ({@code JdbcLockClient.Builder},
 * {@code JdbcWorkerIdAssigner.Builder}): which table, which dialect, whether to create the table, and
 * how long one statement may take. Every setter checks its argument at once and returns the builder
 * it was called on, so the options chain with the module's own.
 *
 * @param <B> the module's builder
 */
public abstract class JdbcTableBuilder<B extends JdbcTableBuilder<B>> {

    /** How long one statement may take unless {@link #commandTimeout} sets another: 5 seconds. */
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(5);

    private final DataSource dataSource;
    private String table;
    private @Nullable SqlDialect dialect;
    private boolean createTableIfMissing;
    private Duration commandTimeout = DEFAULT_COMMAND_TIMEOUT;

    /**
     * For distkit's modules.
     *
     * @param dataSource the user's data source, which stays theirs (nothing built here closes it)
     * @param defaultTable the module's table unless {@link #tableName} names another
     * @throws NullPointerException if {@code dataSource} is null, with the message "dataSource"
     */
    protected JdbcTableBuilder(DataSource dataSource, String defaultTable) {
        this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
        this.table = TableSpec.checkTableName(defaultTable);
    }

    /**
     * The table; by default the module's ({@code DEFAULT_TABLE} of its client class). Whatever must
     * exclude each other (clients contending for a lock, assigners handing out worker ids) needs the same
     * table; separate tables are separate name spaces.
     *
     * @throws NullPointerException if null
     * @throws IllegalArgumentException if not an unquoted SQL identifier, optionally schema-qualified (each
     *     part a letter or underscore followed by up to 62 letters, digits or underscores)
     */
    public final B tableName(String table) {
        this.table = TableSpec.checkTableName(table);
        return self();
    }

    /**
     * The SQL dialect; by default detected from the database product name the driver reports.
     *
     * @throws NullPointerException if null
     */
    public final B dialect(SqlDialect dialect) {
        this.dialect = Objects.requireNonNull(dialect, "dialect");
        return self();
    }

    /**
     * Creates the table at {@code build()} if it does not exist, with the DDL of the client class's {@code
     * createTableSql}. Off by default: most teams create tables through their migrations. Builders that
     * race to create it are fine: one creates it, the others use it.
     */
    public final B createTableIfMissing() {
        this.createTableIfMissing = true;
        return self();
    }

    /**
     * How long one statement may take; default 5 s. A statement that runs longer fails. Enforced as a
     * network timeout of this plus a second on each connection while distkit uses it (the connection's own
     * setting is put back afterwards), which also ends a statement whose server went silent; MySQL/MariaDB
     * and H2 also get it as their JDBC query timeout (rounded up to whole seconds). PostgreSQL does not:
     * pgjdbc's cancel of a timed-out statement waits for a server that may never answer.
     *
     * @throws NullPointerException if null
     * @throws IllegalArgumentException if not positive
     */
    public final B commandTimeout(Duration timeout) {
        Objects.requireNonNull(timeout, "commandTimeout");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("commandTimeout must be positive, was " + timeout);
        }
        this.commandTimeout = timeout;
        return self();
    }

    /**
     * For distkit's modules, from {@code build()}: bounds the data source, probes the database, picks the
     * dialect, sets the query timeout and checks (or creates) {@code table}, with these options.
     *
     * @throws IllegalArgumentException if the database is not one distkit has SQL for
     * @throws RuntimeException the module's exception, if the database cannot be reached or the table
     *     cannot be used
     */
    protected final Database openDatabase(TableSpec spec) {
        return Database.open(spec, table, dataSource, dialect, commandTimeout, createTableIfMissing);
    }

    @SuppressWarnings("unchecked")
    private B self() {
        return (B) this;
    }
}
