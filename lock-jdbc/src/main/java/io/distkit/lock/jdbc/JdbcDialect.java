package io.distkit.lock.jdbc;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The SQL of one database family. Every time in these statements is the database's clock; the
 * client's clock is never read, so a client whose wall clock is wrong (F18) changes nothing.
 *
 * <p>PostgreSQL acquires in one statement: an {@code INSERT ... ON CONFLICT DO UPDATE ... WHERE}
 * that takes a free or expired row (or creates it) and returns the new token, and, in the same
 * statement, reads the holder's remaining lease for the retry. Acquires and renewals set {@code
 * synchronous_commit = on} for their own transaction, so an acknowledged one survives a crash
 * whatever the server or role default; releases set it off ({@link #unhurried} says why). The other
 * databases acquire
 * with a conditional {@code UPDATE}, an {@code INSERT} when the row is missing (the primary key
 * turns a concurrent insert into "busy"), and a read of the token, in one transaction.
 */
public enum JdbcDialect {

    /** PostgreSQL 9.5 or later. */
    POSTGRESQL("postgresql.sql") {
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

        @Override
        String epochMicros() {
            return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)";
        }

        @Override
        String durable(String statement) {
            // local to the statement's own transaction; evaluated before the write commits
            return "WITH commit_mode AS (SELECT set_config('synchronous_commit', 'on', true) AS setting) " + statement;
        }

        @Override
        String unhurried(String statement) {
            return "WITH commit_mode AS (SELECT set_config('synchronous_commit', 'off', true) AS setting) " + statement;
        }

        @Override
        String durableWhere() {
            return " AND (SELECT setting FROM commit_mode) IS NOT NULL";
        }

        @Override
        String acquireInOneStatement(String table) {
            return "WITH commit_mode AS (SELECT set_config('synchronous_commit', 'on', true) AS setting),"
                    + " taken AS (INSERT INTO " + table + " AS l (lock_name, owner, fencing_token, expires_at)"
                    + " SELECT ?, ?, " + epochMicros() + ", " + nowPlusMillis() + " FROM commit_mode"
                    + " ON CONFLICT (lock_name) DO UPDATE SET owner = EXCLUDED.owner,"
                    + " fencing_token = l.fencing_token + 1, expires_at = EXCLUDED.expires_at"
                    + " WHERE l.owner IS NULL OR l.expires_at <= clock_timestamp()"
                    + " RETURNING l.fencing_token)"
                    // the subquery on the table sees the row as it was before this statement: the holder's
                    + " SELECT (SELECT fencing_token FROM taken),"
                    + " (SELECT " + millisUntil("expires_at") + " FROM " + table + " WHERE lock_name = ?)";
        }

        @Override
        boolean isMissingTable(String sqlState, int errorCode) {
            return "42P01".equals(sqlState);
        }

        /**
         * pgjdbc cancels a timed-out statement over a new connection and then waits for that cancel (up to
         * its cancelSignalTimeout, 10 s) before the statement returns: against a silent server the query
         * timeout stretches the call it should bound. The network timeout alone bounds it.
         */
        @Override
        boolean queryTimeoutIsSafe() {
            return false;
        }
    },

    /** MySQL 8 and MariaDB 10.5 or later, InnoDB. */
    MYSQL("mysql.sql") {
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
        String epochMicros() {
            return "CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)";
        }

        @Override
        boolean isMissingTable(String sqlState, int errorCode) {
            return errorCode == 1146 || "42S02".equals(sqlState);
        }
    },

    /** H2 2.x, in any compatibility mode. */
    H2("h2.sql") {
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
        String epochMicros() {
            return "CAST(EXTRACT(EPOCH FROM CURRENT_TIMESTAMP) * 1000000 AS BIGINT)";
        }

        @Override
        boolean isMissingTable(String sqlState, int errorCode) {
            return errorCode == 42102 || errorCode == 42103 || errorCode == 42104; // not found; with candidates; database empty
        }
    };

    private final String ddlResource;

    JdbcDialect(String ddlResource) {
        this.ddlResource = ddlResource;
    }

    /**
     * The dialect of a database product name as JDBC reports it ({@code DatabaseMetaData#getDatabaseProductName}).
     *
     * @throws IllegalArgumentException for any other database, naming the supported ones
     */
    public static JdbcDialect of(String databaseProductName) {
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
        throw new IllegalArgumentException("distkit has no lock SQL for the database '" + databaseProductName
                + "'; supported: PostgreSQL, MySQL, MariaDB, H2");
    }

    /** The {@code CREATE TABLE} statement of the lock table {@code table} in this dialect. */
    public String createTable(String table) {
        JdbcLockClient.checkTableName(table);
        try (InputStream in = JdbcDialect.class.getResourceAsStream(ddlResource)) {
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

    /** Microseconds since the epoch by the database clock: the seed of a new row's token. */
    abstract String epochMicros();

    /** {@code statement} made durable on commit, if the database lets a statement ask for that. */
    String durable(String statement) {
        return statement;
    }

    /**
     * {@code statement} committed without waiting for the disk, where the database allows it: for
     * releases only. A release lost in a crash leaves the row held until its expiry, which is what a
     * crashed holder does anyway; it can never let two holders in. (The next durable commit on the
     * server flushes it too: the log is written in order.) Acquires and renewals stay {@link #durable}:
     * losing one of those would let a second holder in while the first still trusts its lease.
     */
    String unhurried(String statement) {
        return statement;
    }

    /** A condition to append to a WHERE of a {@link #durable} or {@link #unhurried} statement, so that its setting is evaluated. */
    String durableWhere() {
        return "";
    }

    /**
     * One statement that acquires or reports busy: parameters name, owner, lease millis, name; one
     * row of (new token or null, the holder's remaining millis or null). Null where the dialect
     * acquires in a transaction instead.
     */
    @Nullable String acquireInOneStatement(String table) {
        return null;
    }

    /** Whether the JDBC query timeout ends a statement promptly (else only the network timeout bounds it). */
    boolean queryTimeoutIsSafe() {
        return true;
    }

    /** Whether an error says the table does not exist. */
    abstract boolean isMissingTable(String sqlState, int errorCode);
}
