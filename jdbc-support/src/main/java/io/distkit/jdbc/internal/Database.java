package io.distkit.jdbc.internal;

import io.distkit.jdbc.SqlDialect;
import java.sql.DatabaseMetaData;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.ConcurrencyFailureException;
import org.springframework.dao.DataAccessException;
import org.springframework.jdbc.CannotGetJdbcConnectionException;
import org.springframework.jdbc.UncategorizedSQLException;
import org.springframework.jdbc.datasource.DelegatingDataSource;
import org.springframework.jdbc.datasource.TransactionAwareDataSourceProxy;
import org.springframework.jdbc.support.SQLExceptionSubclassTranslator;
import org.springframework.jdbc.support.SQLExceptionTranslator;

/**
 * A user's database as a distkit JDBC module uses it, made by the prologue every builder runs once
 * ({@link #open}): one connection reads the product name and URL, the first contact and so the clearest
 * error; the dialect is detected unless the user named one; the query timeout is set where it is safe;
 * and the module's table is checked ({@link TableSpec}).
 *
 * <p>Every statement runs through {@link #call} (auto-commit: each statement its own transaction) or
 * {@link #inTransaction} (one transaction at {@code READ COMMITTED}, committed before it returns), on a
 * connection borrowed for that call alone and given back afterwards with its settings as they were
 * ({@link OwnConnections}). So distkit's writes commit on their own whatever the pool's {@code autoCommit}
 * and the server's default isolation, are never part of (or rolled back with) a caller's Spring
 * transaction, keep no connection between calls, and a call ends in bounded time even when the server
 * goes silent, the wait for the connection included.
 */
public final class Database {

    /** The statements of one call on one borrowed connection. */
    @FunctionalInterface
    public interface Work<T> {
        /** Runs the call's statements. */
        T run(Statements statements) throws SQLException;
    }

    private static final Logger LOG = LoggerFactory.getLogger(Database.class);

    private final OwnConnections connections;
    private final SQLExceptionTranslator translator = new SQLExceptionSubclassTranslator();
    private final SqlDialect dialect;
    private final String where;
    private final String table;
    private final Duration commandTimeout;
    private final int queryTimeoutSeconds;
    private final String productName;

    private Database(OwnConnections connections, SqlDialect dialect, String where, String table,
            Duration commandTimeout, int queryTimeoutSeconds, String productName) {
        this.connections = connections;
        this.dialect = dialect;
        this.where = where;
        this.table = table;
        this.commandTimeout = commandTimeout;
        this.queryTimeoutSeconds = queryTimeoutSeconds;
        this.productName = productName;
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
     *     borrowed connection and the longest wait for a connection from a data source that does not bound
     *     its own
     * @param createTableIfMissing whether to create the table when it is missing
     * @throws IllegalArgumentException if the database is not one distkit has SQL for
     * @throws RuntimeException the module's exception ({@link TableSpec.Failures}) if the database cannot be
     *     reached or the table cannot be used
     */
    public static Database open(TableSpec spec, String table, DataSource dataSource, @Nullable SqlDialect dialect,
            Duration commandTimeout, boolean createTableIfMissing) {
        Objects.requireNonNull(dataSource, "dataSource");
        DataSource own = outsideSpringTransactions(dataSource);
        String described = describe(own);
        OwnConnections connections = new OwnConnections(own, commandTimeout);
        String productName;
        String where;
        try (OwnConnections.Borrowed first = connections.borrow(false)) {
            DatabaseMetaData meta = first.connection.getMetaData();
            productName = meta.getDatabaseProductName();
            where = meta.getURL() != null ? shortUrl(meta.getURL()) : described;
        } catch (SQLException e) {
            throw spec.unreachable(table, described, rootMessage(e), e);
        }
        SqlDialect chosen = dialect != null ? dialect : DialectSql.dialectOf(productName, spec.sqlFor());
        int queryTimeoutSeconds = DialectSql.of(chosen).queryTimeoutIsSafe()
                ? (int) Math.max(1, (commandTimeout.toMillis() + 999) / 1000)
                : -1;
        Database database = new Database(connections, chosen, where, table, commandTimeout, queryTimeoutSeconds,
                productName);
        spec.check(database, createTableIfMissing);
        return database;
    }

    /**
     * Runs {@code work} on a connection of its own in auto-commit: each statement commits on its own.
     *
     * @param task what the work does, for the exception's message ("acquire", "renew")
     * @throws DataAccessException the translated failure ({@code CannotGetJdbcConnectionException} when no
     *     connection could be had); the message has no SQL text (the SQL is logged at debug level)
     */
    public <T> T call(String task, Work<T> work) {
        return run(task, false, work);
    }

    /**
     * Runs {@code work} in one transaction of its own at {@code READ COMMITTED}, committed before this
     * returns; rolled back if the work throws.
     *
     * @param task what the work does, for the exception's message
     * @throws DataAccessException as {@link #call}
     */
    public <T> T inTransaction(String task, Work<T> work) {
        return run(task, true, work);
    }

    /**
     * {@link #call} for work that may run again without harm: owner-checked, idempotent statements (renew,
     * release, save). A lost race, which under a pool's {@code repeatable read} or {@code serializable}
     * default is a serialization failure where {@code READ COMMITTED} would have waited (a holder's release
     * and its own renewal meeting on one row), is run again after a short random pause
     * ({@link #pauseAfterLostRace}), for up to the command timeout.
     *
     * @throws DataAccessException as {@link #call}, the last lost race's once the time is up
     */
    public <T> T callRepeatable(String task, Work<T> work) {
        long giveUpAt = System.nanoTime() + commandTimeout.toNanos();
        for (int lostRaces = 1; ; lostRaces++) {
            try {
                return call(task, work);
            } catch (ConcurrencyFailureException lostRace) {
                if (System.nanoTime() - giveUpAt >= 0 || Thread.currentThread().isInterrupted()) {
                    throw lostRace;
                }
                pauseAfterLostRace(lostRaces);
            }
        }
    }

    private <T> T run(String task, boolean transaction, Work<T> work) {
        OwnConnections.Borrowed borrowed;
        try {
            borrowed = connections.borrow(transaction);
        } catch (SQLException e) {
            throw new CannotGetJdbcConnectionException(task + ": no connection to " + where + ": " + rootMessage(e), e);
        }
        // closing rolls back a transaction not committed, before it restores the settings
        try (borrowed) {
            T result = work.run(new Statements(borrowed.connection, queryTimeoutSeconds));
            if (transaction) {
                borrowed.commit();
            }
            return result;
        } catch (SQLException e) {
            throw translate(task, e);
        }
    }

    /** {@code failure} as Spring's exception of its kind, with {@code task} and the driver's words, no SQL. */
    public DataAccessException translate(String task, SQLException failure) {
        LOG.debug("{} on {} failed", task, where, failure);
        DataAccessException translated = translator.translate(task + " on " + where, null, failure);
        return translated != null ? translated : new UncategorizedSQLException(task + " on " + where, null, failure);
    }

    /** The dialect, as named by the user or detected. */
    public SqlDialect dialect() {
        return dialect;
    }

    /** The database product as the driver names it ("PostgreSQL", "MariaDB", "H2"), whatever the dialect. */
    public String productName() {
        return productName;
    }

    /** The SQL of {@link #dialect()}. */
    public DialectSql sql() {
        return DialectSql.of(dialect);
    }

    /**
     * Where the database is, for messages: its JDBC URL without parameters or credentials
     * ({@code jdbc:postgresql://db:5432/app}), or the data source's type if the driver gives none.
     */
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
     * timeout alone bounds a statement).
     */
    public int queryTimeoutSeconds() {
        return queryTimeoutSeconds;
    }

    /**
     * Pauses the calling thread before it tries again after its {@code lostRaces}-th lost race in a row (a
     * serialization failure or a deadlock: rolled back, someone else went first): a random time up to 1 ms,
     * doubling with each race lost, at most 64 ms, so that racers that keep colliding spread out. Returns
     * early, with the interrupt flag set, if the thread is interrupted.
     */
    public static void pauseAfterLostRace(int lostRaces) {
        long bound = TimeUnit.MILLISECONDS.toNanos(1) << Math.min(Math.max(lostRaces - 1, 0), 6);
        LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(bound / 4, bound + 1));
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

    /**
     * The data source whose connections never belong to a caller's Spring transaction: the target of a
     * {@link TransactionAwareDataSourceProxy} (whose connections are the caller's transactional one while a
     * transaction runs), also beneath other delegating layers of Spring's; else {@code dataSource} itself. A
     * decorator of another library around such a proxy is not seen through.
     */
    static DataSource outsideSpringTransactions(DataSource dataSource) {
        // through the delegating layers Spring stacks (a LazyConnectionDataSourceProxy over it, say)
        for (DataSource layer = dataSource; layer instanceof DelegatingDataSource delegating;
                layer = delegating.getTargetDataSource()) {
            if (layer instanceof TransactionAwareDataSourceProxy proxy && proxy.getTargetDataSource() != null) {
                return outsideSpringTransactions(proxy.getTargetDataSource());
            }
        }
        return dataSource;
    }

    /** A data source for messages before any connection: its URL as {@link #shortUrl} gives it, or its type. */
    static String describe(DataSource dataSource) {
        String url = OwnConnections.urlOf(dataSource);
        return url != null ? shortUrl(url) : "the database of a " + dataSource.getClass().getSimpleName();
    }

    /**
     * A JDBC URL fit for a message: without its parameters ({@code ?...}, {@code ;...}) and credentials
     * ({@code user:password@}), which can be long and secret.
     */
    public static String shortUrl(String url) {
        String cut = url;
        int parameters = indexOfAny(cut, '?', ';');
        if (parameters >= 0) {
            cut = cut.substring(0, parameters);
        }
        int at = cut.indexOf('@');
        int slashes = cut.indexOf("//");
        if (at >= 0 && slashes >= 0 && slashes < at) {
            cut = cut.substring(0, slashes + 2) + cut.substring(at + 1);
        }
        return cut;
    }

    private static int indexOfAny(String text, char a, char b) {
        int i = text.indexOf(a);
        int j = text.indexOf(b);
        return i < 0 ? j : j < 0 ? i : Math.min(i, j);
    }
}
