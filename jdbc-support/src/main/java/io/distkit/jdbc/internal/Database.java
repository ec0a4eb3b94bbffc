package io.distkit.jdbc.internal;

import io.distkit.jdbc.SqlDialect;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Objects;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.support.SQLExceptionSubclassTranslator;

/**
 * A user's database as a distkit JDBC module uses it, made by the prologue every builder runs once
 * ({@link #open}): every connection distkit borrows gets a network timeout, the bound that holds even
 * when the server goes silent (a query timeout's cancel cannot reach a paused or cut-off server); one
 * connection reads the product name and URL, the first contact and so the clearest error; the dialect
 * is detected unless the user named one; the query timeout is set where it is safe; and the module's
 * table is checked ({@link TableSpec}).
 */
public final class Database {

    private final DataSource dataSource;
    private final JdbcTemplate jdbc;
    private final SqlDialect dialect;
    private final String where;
    private final String table;
    private final Duration commandTimeout;
    private final int queryTimeoutSeconds;

    private Database(DataSource dataSource, JdbcTemplate jdbc, SqlDialect dialect, String where, String table,
            Duration commandTimeout, int queryTimeoutSeconds) {
        this.dataSource = dataSource;
        this.jdbc = jdbc;
        this.dialect = dialect;
        this.where = where;
        this.table = table;
        this.commandTimeout = commandTimeout;
        this.queryTimeoutSeconds = queryTimeoutSeconds;
    }

    /**
     * Runs the prologue of the class comment; {@link io.distkit.jdbc.JdbcTableBuilder} calls it with its
     * options. Nothing is left open: the data source stays the caller's.
     *
     * @param spec the module's table
     * @param table the table's name, already checked ({@link TableSpec#checkTableName})
     * @param dataSource the user's data source
     * @param dialect the user's choice, or null to detect it from the product name
     * @param commandTimeout how long one statement may take: the query timeout (rounded up to whole seconds)
     *     where {@link DialectSql#queryTimeoutIsSafe} says so, and plus a second the network timeout of every
     *     borrowed connection
     * @param createTableIfMissing whether to create the table when it is missing
     * @throws IllegalArgumentException if the database is not one distkit has SQL for
     * @throws RuntimeException the module's exception ({@link TableSpec.Failures}) if the database cannot be
     *     reached or the table cannot be used
     */
    public static Database open(TableSpec spec, String table, DataSource dataSource, @Nullable SqlDialect dialect,
            Duration commandTimeout, boolean createTableIfMissing) {
        Objects.requireNonNull(dataSource, "dataSource");
        int networkBound = (int) Math.min(Integer.MAX_VALUE, commandTimeout.toMillis() + 1000);
        DataSource bounded = new NetworkBoundedDataSource(dataSource, networkBound);
        JdbcTemplate jdbc = new JdbcTemplate(bounded);
        // by JDBC exception class and SQL state: Spring's default translator reads error codes from a new
        // connection on the first failure, which is the worst moment (the database may be unreachable)
        jdbc.setExceptionTranslator(new SQLExceptionSubclassTranslator());
        String productName;
        String where;
        try (Connection connection = bounded.getConnection()) {
            DatabaseMetaData meta = connection.getMetaData();
            productName = meta.getDatabaseProductName();
            where = meta.getURL() != null ? meta.getURL().replaceAll("(?i)(password=)[^&;]*", "$1***") : "?";
        } catch (SQLException e) {
            throw spec.unreachable(table, "the database of " + dataSource, String.valueOf(e.getMessage()), e);
        }
        SqlDialect chosen = dialect != null ? dialect : DialectSql.dialectOf(productName, spec.sqlFor());
        int queryTimeoutSeconds = -1;
        if (DialectSql.of(chosen).queryTimeoutIsSafe()) {
            queryTimeoutSeconds = (int) Math.max(1, (commandTimeout.toMillis() + 999) / 1000);
            jdbc.setQueryTimeout(queryTimeoutSeconds);
        }
        spec.check(jdbc, chosen, table, createTableIfMissing, where);
        return new Database(bounded, jdbc, chosen, where, table, commandTimeout, queryTimeoutSeconds);
    }

    /** The user's data source with the network bound: for anything else that borrows connections (transactions). */
    public DataSource dataSource() {
        return dataSource;
    }

    /** The template on {@link #dataSource()}, translating by exception class and SQL state, with the query timeout. */
    public JdbcTemplate jdbc() {
        return jdbc;
    }

    /** The dialect, as named by the user or detected. */
    public SqlDialect dialect() {
        return dialect;
    }

    /** The SQL of {@link #dialect()}. */
    public DialectSql sql() {
        return DialectSql.of(dialect);
    }

    /** Where the database is, for messages: its JDBC URL with any password masked, or "?" if the driver gives none. */
    public String where() {
        return where;
    }

    /** The module's table, checked. */
    public String table() {
        return table;
    }

    /** How long one statement may take, as the builder was told. */
    public Duration commandTimeout() {
        return commandTimeout;
    }

    /**
     * The query timeout in seconds, or -1 where the dialect's query timeout is not safe (then the network
     * timeout alone bounds a statement). -1 is also what {@link JdbcTemplate#setQueryTimeout} and
     * {@code TransactionTemplate#setTimeout} read as "none", so it can be passed on as it is.
     */
    public int queryTimeoutSeconds() {
        return queryTimeoutSeconds;
    }

    /**
     * The message of a failure's innermost cause (the driver's words, not Spring's wrapping), or that
     * cause's {@code toString()} when it has no message.
     */
    public static String rootMessage(Throwable failure) {
        Throwable root = failure;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() != null ? root.getMessage() : root.toString();
    }
}
