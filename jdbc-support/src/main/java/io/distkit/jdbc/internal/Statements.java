package io.distkit.jdbc.internal;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The statements of one call ({@link Database#call} or {@link Database#inTransaction}) on the one
 * connection distkit borrowed for it. Plain JDBC on purpose: a {@code JdbcTemplate} takes its
 * connection through Spring's {@code DataSourceUtils}, which, inside a caller's Spring transaction,
 * keeps that connection bound to the caller's thread until the caller's transaction ends; a lock
 * statement must neither wait for nor be rolled back with the caller's work.
 *
 * <p>Every statement gets the query timeout where it is safe ({@link DialectSql#queryTimeoutIsSafe});
 * the network timeout of the connection bounds it everywhere.
 */
public final class Statements {

    /** Sets the parameters of one row of a batch. */
    @FunctionalInterface
    public interface BatchRow {
        /** Sets the parameters of row {@code i} on {@code statement}. */
        void set(PreparedStatement statement, int i) throws SQLException;
    }

    /** Reads a result. */
    @FunctionalInterface
    public interface Reader<T> {
        /** Reads {@code rows}, positioned before the first row. */
        T read(ResultSet rows) throws SQLException;
    }

    private final Connection connection;
    private final int queryTimeoutSeconds;

    Statements(Connection connection, int queryTimeoutSeconds) {
        this.connection = connection;
        this.queryTimeoutSeconds = queryTimeoutSeconds;
    }

    /** Runs an INSERT, UPDATE or DELETE; the number of rows it changed. */
    public int update(String sql, @Nullable Object... args) throws SQLException {
        try (PreparedStatement statement = prepare(sql, args)) {
            return statement.executeUpdate();
        }
    }

    /** Runs a query and reads its result. */
    public <T> T query(String sql, Reader<T> reader, @Nullable Object... args) throws SQLException {
        try (PreparedStatement statement = prepare(sql, args); ResultSet rows = statement.executeQuery()) {
            return reader.read(rows);
        }
    }

    /** Runs a query (or a statement with {@code RETURNING}); the first column of every row, SQL NULL as null. */
    public List<@Nullable Long> longs(String sql, @Nullable Object... args) throws SQLException {
        return query(sql, rows -> {
            List<@Nullable Long> values = new ArrayList<>(1);
            while (rows.next()) {
                long value = rows.getLong(1);
                values.add(rows.wasNull() ? null : value);
            }
            return values;
        }, args);
    }

    /**
     * Runs {@code count} rows of one statement as a JDBC batch (one round trip where the driver pipelines
     * batches); the rows each changed. A driver that does not say ({@link Statement#SUCCESS_NO_INFO}) is
     * asked again row by row: the statements distkit batches are conditional and idempotent.
     */
    public int[] batch(String sql, int count, BatchRow row) throws SQLException {
        int[] changed;
        try (PreparedStatement statement = connection.prepareStatement(sql)) {
            timeout(statement);
            for (int i = 0; i < count; i++) {
                row.set(statement, i);
                statement.addBatch();
            }
            changed = statement.executeBatch();
        }
        for (int i = 0; i < changed.length; i++) {
            if (changed[i] == Statement.SUCCESS_NO_INFO) {
                try (PreparedStatement again = connection.prepareStatement(sql)) {
                    timeout(again);
                    row.set(again, i);
                    changed[i] = again.executeUpdate();
                }
            }
        }
        return changed;
    }

    private PreparedStatement prepare(String sql, @Nullable Object[] args) throws SQLException {
        PreparedStatement statement = connection.prepareStatement(sql);
        try {
            timeout(statement);
            for (int i = 0; i < args.length; i++) {
                statement.setObject(i + 1, args[i]);
            }
            return statement;
        } catch (SQLException | RuntimeException e) {
            statement.close();
            throw e;
        }
    }

    private void timeout(Statement statement) throws SQLException {
        if (queryTimeoutSeconds > 0) {
            statement.setQueryTimeout(queryTimeoutSeconds);
        }
    }
}
