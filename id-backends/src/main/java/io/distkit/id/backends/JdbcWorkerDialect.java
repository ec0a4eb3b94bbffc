package io.distkit.id.backends;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The SQL of one database family for {@link JdbcWorkerIdAssigner}. Every time in these statements is
 * the database's clock: the client's wall clock is never read, so a client whose clock is wrong
 * changes no lease.
 *
 * <p>The time expressions, {@link #durable} and {@link #isMissingTable} are the same as those of
 * {@code io.distkit.lock.jdbc.JdbcDialect} in {@code lock-jdbc}; they are repeated here (a few lines
 * each) until both modules share one dialect class.
 */
public enum JdbcWorkerDialect {

    /** PostgreSQL 9.5 or later. */
    POSTGRESQL("worker-postgresql.sql") {
        @Override
        String now() {
            return "clock_timestamp()";
        }

        @Override
        String nowPlusMillis() {
            return "clock_timestamp() + ? * INTERVAL '1 millisecond'";
        }

        @Override
        String millisUntil(String column) {
            return "CAST(CEIL(EXTRACT(EPOCH FROM (" + column + " - clock_timestamp())) * 1000) AS BIGINT)";
        }

        /**
         * {@code synchronous_commit = on} for the statement's own transaction, whatever the server or
         * role default: an acknowledged claim, renewal or high-water mark survives a crash. The setting
         * is evaluated before the write commits only if the statement reads {@code commit_mode}, which
         * {@link #durableWhere()} (or a {@code FROM commit_mode}) makes sure of.
         */
        @Override
        String durable(String statement) {
            return "WITH commit_mode AS (SELECT set_config('synchronous_commit', 'on', true) AS setting) " + statement;
        }

        /** Releases: a release lost in a crash only leaves the row to expire, as a crashed holder would. */
        @Override
        String unhurried(String statement) {
            return "WITH commit_mode AS (SELECT set_config('synchronous_commit', 'off', true) AS setting) " + statement;
        }

        @Override
        String durableWhere() {
            return " AND (SELECT setting FROM commit_mode) IS NOT NULL";
        }

        @Override
        String insertIfAbsent(String table) {
            // DO NOTHING: a concurrent insert of the same id is a lost race, not an error (an error would
            // also be logged by the server for every race)
            return durable("INSERT INTO " + table + " (worker_id, owner, last_timestamp, expires_at)"
                    + " SELECT ?, ?, 0, " + nowPlusMillis() + " FROM commit_mode"
                    + " ON CONFLICT (worker_id) DO NOTHING");
        }

        @Override
        String claimReturningLastTimestamp(String table, String reclaimable) {
            return durable("UPDATE " + table + " SET owner = ?, expires_at = " + nowPlusMillis()
                    + " WHERE worker_id = ? AND (" + reclaimable + ")" + durableWhere() + " RETURNING last_timestamp");
        }

        @Override
        boolean isMissingTable(String sqlState, int errorCode) {
            return "42P01".equals(sqlState);
        }

        /** As in lock-jdbc: pgjdbc waits up to 10 s for a cancel that a silent server never answers. */
        @Override
        boolean queryTimeoutIsSafe() {
            return false;
        }
    },

    /** MySQL 8 and MariaDB 10.5 or later, InnoDB. */
    MYSQL("worker-mysql.sql") {
        @Override
        String now() {
            return "UTC_TIMESTAMP(3)";
        }

        @Override
        String nowPlusMillis() {
            return "UTC_TIMESTAMP(3) + INTERVAL (? * 1000) MICROSECOND";
        }

        @Override
        String millisUntil(String column) {
            return "TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), " + column + ") DIV 1000";
        }

        @Override
        String bigintParameter() {
            return "?"; // MySQL casts to SIGNED, not BIGINT, and needs no cast here
        }

        @Override
        boolean isMissingTable(String sqlState, int errorCode) {
            return errorCode == 1146 || "42S02".equals(sqlState);
        }
    },

    /** H2 2.x, in any compatibility mode. */
    H2("worker-h2.sql") {
        @Override
        String now() {
            return "CURRENT_TIMESTAMP";
        }

        @Override
        String nowPlusMillis() {
            return "DATEADD(MILLISECOND, ?, CURRENT_TIMESTAMP)";
        }

        @Override
        String millisUntil(String column) {
            return "DATEDIFF(MILLISECOND, CURRENT_TIMESTAMP, " + column + ")";
        }

        @Override
        boolean isMissingTable(String sqlState, int errorCode) {
            return errorCode == 42102 || errorCode == 42103 || errorCode == 42104;
        }
    };

    private final String ddlResource;

    JdbcWorkerDialect(String ddlResource) {
        this.ddlResource = ddlResource;
    }

    /**
     * The dialect of a database product name as JDBC reports it ({@code DatabaseMetaData#getDatabaseProductName}).
     *
     * @throws NullPointerException if null
     * @throws IllegalArgumentException for any other database, naming the supported ones
     */
    public static JdbcWorkerDialect of(String databaseProductName) {
        Objects.requireNonNull(databaseProductName, "databaseProductName");
        String product = databaseProductName.toLowerCase(Locale.ROOT);
        if (product.contains("postgres")) {
            return POSTGRESQL;
        }
        if (product.contains("mysql") || product.contains("mariadb")) {
            return MYSQL;
        }
        if (product.equals("h2")) {
            return H2;
        }
        throw new IllegalArgumentException("distkit has no worker-id SQL for the database '" + databaseProductName
                + "'; supported: PostgreSQL, MySQL, MariaDB, H2");
    }

    /**
     * The {@code CREATE TABLE} statement of the worker table {@code table} in this dialect (shipped in
     * this module's resources, {@code io/distkit/id/backends/worker-*.sql}).
     *
     * @throws NullPointerException if {@code table} is null
     * @throws IllegalArgumentException if {@code table} is not an unquoted SQL identifier, optionally
     *     schema-qualified
     */
    public String createTable(String table) {
        JdbcWorkerIdAssigner.checkTableName(table);
        try (InputStream in = JdbcWorkerDialect.class.getResourceAsStream(ddlResource)) {
            if (in == null) {
                throw new IllegalStateException("resource " + ddlResource + " is missing from the distkit jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).replace("${table}", table).strip();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The database's current time. */
    abstract String now();

    /** The database's current time plus a parameter in milliseconds. */
    abstract String nowPlusMillis();

    /** Milliseconds (an integer) from the database's current time until {@code column}. */
    abstract String millisUntil(String column);

    /**
     * The larger of two BIGINT expressions. {@code GREATEST} in all three (with both sides NOT NULL, so
     * MySQL's NULL-if-any-NULL rule never applies); a method so that a database without it can differ.
     */
    String greatest(String a, String b) {
        return "GREATEST(" + a + ", " + b + ")";
    }

    /** A BIGINT statement parameter where the database cannot infer its type from the context. */
    String bigintParameter() {
        return "CAST(? AS BIGINT)";
    }

    /** {@code statement} made durable on commit, where the database lets a statement ask for that. */
    String durable(String statement) {
        return statement;
    }

    /** {@code statement} committed without waiting for the disk, where the database allows it: releases only. */
    String unhurried(String statement) {
        return statement;
    }

    /** A condition to append to the WHERE of a {@link #durable} or {@link #unhurried} statement, so that its setting is evaluated. */
    String durableWhere() {
        return "";
    }

    /**
     * Inserts a new row for a worker id not in the table yet: parameters worker id, owner, lease millis.
     * Either inserts one row, or (the id was inserted concurrently) inserts none or fails on the primary key.
     */
    String insertIfAbsent(String table) {
        return durable("INSERT INTO " + table + " (worker_id, owner, last_timestamp, expires_at) VALUES (?, ?, 0, "
                + nowPlusMillis() + ")");
    }

    /**
     * One statement that claims a reclaimable row and returns its {@code last_timestamp}: parameters
     * owner, lease millis, worker id; an empty result if the row was not reclaimable. Null where the
     * database has no {@code UPDATE ... RETURNING}; the claim is then an update and a read by owner.
     */
    @Nullable String claimReturningLastTimestamp(String table, String reclaimable) {
        return null;
    }

    /** Whether the JDBC query timeout ends a statement promptly (else only the network timeout bounds it). */
    boolean queryTimeoutIsSafe() {
        return true;
    }

    /** Whether an error says the table does not exist. */
    abstract boolean isMissingTable(String sqlState, int errorCode);
}
