package io.distkit.id.backends;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import java.sql.SQLException;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.springframework.dao.DataAccessException;
import org.springframework.jdbc.CannotGetJdbcConnectionException;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * Checks, once when the assigner is built, that the worker table is there, has distkit's columns and
 * is durable; creates it on request. The same steps as {@code io.distkit.lock.jdbc.LockTable} with
 * another column list and the ID exceptions: both belong in one shared table check.
 */
final class WorkerTable {

    private WorkerTable() {}

    static void check(JdbcTemplate jdbc, JdbcWorkerDialect dialect, String table, boolean create, String where) {
        DataAccessException problem = probe(jdbc, table);
        if (problem != null && isMissingTable(dialect, problem)) {
            if (!create) {
                throw new IdGenerationException("the worker-id table " + table + " does not exist in " + where
                        + ". Create it with:\n\n" + dialect.createTable(table)
                        + "\n\nor build the assigner with createTableIfMissing().", problem);
            }
            try {
                jdbc.execute(dialect.createTable(table));
            } catch (DataAccessException raced) {
                // another assigner may have created it meanwhile: the second probe decides
            }
            problem = probe(jdbc, table);
        }
        if (problem instanceof CannotGetJdbcConnectionException) {
            throw new IdSourceUnavailableException(table, "cannot connect to " + where + ": " + rootMessage(problem)
                    + " (check the URL and the credentials)", problem);
        }
        if (problem != null) {
            throw new IdGenerationException("the worker-id table " + table + " in " + where + " cannot be used: "
                    + rootMessage(problem) + ". distkit expects:\n\n" + dialect.createTable(table), problem);
        }
        if (dialect == JdbcWorkerDialect.POSTGRESQL) {
            requireLogged(jdbc, table, where);
        }
    }

    private static @Nullable DataAccessException probe(JdbcTemplate jdbc, String table) {
        try {
            jdbc.queryForList("SELECT worker_id, owner, last_timestamp, expires_at FROM " + table + " WHERE 1 = 0");
            return null;
        } catch (DataAccessException e) {
            return e;
        }
    }

    private static boolean isMissingTable(JdbcWorkerDialect dialect, DataAccessException problem) {
        for (Throwable cause = problem; cause != null; cause = cause.getCause()) {
            if (cause instanceof SQLException sql && dialect.isMissingTable(sql.getSQLState(), sql.getErrorCode())) {
                return true;
            }
        }
        return false;
    }

    /**
     * An UNLOGGED table is emptied by a crash: every lease would vanish while its holders keep issuing
     * ids, and every high-water mark with it. A temporary table is private to one session.
     */
    private static void requireLogged(JdbcTemplate jdbc, String table, String where) {
        List<String> persistence = jdbc.queryForList(
                "SELECT CAST(relpersistence AS TEXT) FROM pg_class WHERE oid = to_regclass(?)", String.class, table);
        if (persistence.contains("u")) {
            throw new IdGenerationException("the worker-id table " + table + " in " + where + " is UNLOGGED:"
                    + " PostgreSQL empties it after a crash, and with it every worker lease and high-water mark while"
                    + " the generators keep going. Make it durable: ALTER TABLE " + table + " SET LOGGED");
        }
        if (persistence.contains("t")) {
            throw new IdGenerationException("the worker-id table " + table + " in " + where + " is a temporary"
                    + " table, private to one session: leases in it exclude nobody. Use a regular table.");
        }
    }

    static String rootMessage(Throwable failure) {
        Throwable root = failure;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() != null ? root.getMessage() : root.toString();
    }
}
