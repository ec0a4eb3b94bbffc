package io.distkit.lock.jdbc;

import io.distkit.lock.LockBackendException;
import java.sql.SQLException;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.springframework.dao.DataAccessException;
import org.springframework.jdbc.CannotGetJdbcConnectionException;
import org.springframework.jdbc.core.JdbcTemplate;

/** Checks, once at build time, that the lock table is there, has distkit's columns and is durable. */
final class LockTable {

    private LockTable() {}

    static void check(JdbcTemplate jdbc, JdbcDialect dialect, String table, boolean create, String where) {
        DataAccessException problem = probe(jdbc, table);
        if (problem != null && isMissingTable(dialect, problem)) {
            if (!create) {
                throw new LockBackendException(null, "the lock table " + table + " does not exist in " + where
                        + ". Create it with:\n\n" + dialect.createTable(table)
                        + "\n\nor build the client with createTableIfMissing().", problem);
            }
            try {
                jdbc.execute(dialect.createTable(table));
            } catch (DataAccessException raced) {
                // another client may have created it meanwhile: the second probe decides
            }
            problem = probe(jdbc, table);
        }
        if (problem instanceof CannotGetJdbcConnectionException) {
            throw new LockBackendException(null, "cannot connect to " + where + ": " + rootMessage(problem)
                    + " (check the URL, the credentials and that the database runs)", problem);
        }
        if (problem != null) {
            throw new LockBackendException(null, "the lock table " + table + " in " + where + " cannot be used: "
                    + rootMessage(problem) + ". distkit expects:\n\n" + dialect.createTable(table), problem);
        }
        if (dialect == JdbcDialect.POSTGRESQL) {
            requireLogged(jdbc, table, where);
        }
    }

    private static @Nullable DataAccessException probe(JdbcTemplate jdbc, String table) {
        try {
            jdbc.queryForList("SELECT lock_name, owner, fencing_token, expires_at FROM " + table + " WHERE 1 = 0");
            return null;
        } catch (DataAccessException e) {
            return e;
        }
    }

    private static boolean isMissingTable(JdbcDialect dialect, DataAccessException problem) {
        for (Throwable cause = problem; cause != null; cause = cause.getCause()) {
            if (cause instanceof SQLException sql && dialect.isMissingTable(sql.getSQLState(), sql.getErrorCode())) {
                return true;
            }
        }
        return false;
    }

    /** An UNLOGGED table is emptied by a crash: every lock would vanish while its holder keeps writing. */
    private static void requireLogged(JdbcTemplate jdbc, String table, String where) {
        List<String> persistence = jdbc.queryForList(
                "SELECT CAST(relpersistence AS TEXT) FROM pg_class WHERE oid = to_regclass(?)", String.class, table);
        if (persistence.contains("u")) {
            throw new LockBackendException(null, "the lock table " + table + " in " + where + " is UNLOGGED:"
                    + " PostgreSQL empties it after a crash, and every lock with it while the holders keep going."
                    + " Make it durable: ALTER TABLE " + table + " SET LOGGED", null);
        }
        if (persistence.contains("t")) {
            throw new LockBackendException(null, "the lock table " + table + " in " + where + " is a temporary"
                    + " table, private to one session: locks in it exclude nobody. Use a regular table.", null);
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
