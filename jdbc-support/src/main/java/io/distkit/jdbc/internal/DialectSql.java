package io.distkit.jdbc.internal;

import io.distkit.jdbc.SqlDialect;
import java.sql.SQLException;
import java.util.Locale;
import java.util.Objects;

/**
 * The SQL pieces of one {@link SqlDialect} that distkit's JDBC modules build their statements from.
 * Every time in them is the database's clock; the client's clock is never read, so a client whose
 * wall clock is wrong (F18) changes no lease. On PostgreSQL a statement can also choose its own
 * commit: {@link #durable} for the writes a lease or a high-water mark depends on, {@link #unhurried}
 * for releases.
 */
public enum DialectSql {

    /** {@link SqlDialect#POSTGRESQL}. */
    POSTGRESQL {
        @Override
        public String now() {
            return "clock_timestamp()";
        }

        @Override
        public String nowPlusMillis() {
            return "clock_timestamp() + ? * INTERVAL '1 millisecond'";
        }

        @Override
        public String millisUntil(String column) {
            return "CAST(CEIL(EXTRACT(EPOCH FROM (" + column + " - clock_timestamp())) * 1000) AS BIGINT)";
        }

        @Override
        public String epochMicros() {
            return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)";
        }

        /**
         * {@code synchronous_commit = on} for the statement's own transaction, whatever the server or role
         * default, in a common table expression {@code commit_mode}. PostgreSQL evaluates it before the
         * write commits only if the statement reads {@code commit_mode}: append {@link #durableWhere()} to
         * its WHERE, or select {@code FROM commit_mode}.
         */
        @Override
        public String durable(String statement) {
            return withCommitMode("on", statement);
        }

        @Override
        public String unhurried(String statement) {
            return withCommitMode("off", statement);
        }

        @Override
        public String durableWhere() {
            return " AND (SELECT setting FROM commit_mode) IS NOT NULL";
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
        public boolean queryTimeoutIsSafe() {
            return false;
        }
    },

    /** {@link SqlDialect#MYSQL}. */
    MYSQL {
        @Override
        public String now() {
            return "UTC_TIMESTAMP(3)";
        }

        @Override
        public String nowPlusMillis() {
            return "UTC_TIMESTAMP(3) + INTERVAL (? * 1000) MICROSECOND";
        }

        @Override
        public String millisUntil(String column) {
            return "TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), " + column + ") DIV 1000";
        }

        @Override
        public String epochMicros() {
            // UTC throughout: NOW(6) is in the session's time zone, and in the hour a daylight-saving clock
            // repeats, UNIX_TIMESTAMP(NOW(6)) would go back an hour
            return "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6))";
        }

        @Override
        boolean isMissingTable(String sqlState, int errorCode) {
            return errorCode == 1146 || "42S02".equals(sqlState);
        }
    },

    /** {@link SqlDialect#H2}. */
    H2 {
        @Override
        public String now() {
            return "CURRENT_TIMESTAMP";
        }

        @Override
        public String nowPlusMillis() {
            return "DATEADD(MILLISECOND, ?, CURRENT_TIMESTAMP)";
        }

        @Override
        public String millisUntil(String column) {
            return "DATEDIFF(MILLISECOND, CURRENT_TIMESTAMP, " + column + ")";
        }

        @Override
        public String epochMicros() {
            return "CAST(EXTRACT(EPOCH FROM CURRENT_TIMESTAMP) * 1000000 AS BIGINT)";
        }

        @Override
        boolean isMissingTable(String sqlState, int errorCode) {
            return errorCode == 42102 || errorCode == 42103 || errorCode == 42104; // not found; with candidates; database empty
        }
    };

    /** The SQL of {@code dialect}. */
    public static DialectSql of(SqlDialect dialect) {
        return switch (Objects.requireNonNull(dialect, "dialect")) {
            case POSTGRESQL -> POSTGRESQL;
            case MYSQL -> MYSQL;
            case H2 -> H2;
        };
    }

    /**
     * The dialect of a database product name as JDBC reports it; see {@link SqlDialect#of}.
     *
     * @param sqlFor what distkit has no SQL for, in the message: "lock SQL", "worker-id SQL"
     * @throws NullPointerException if {@code databaseProductName} is null
     * @throws IllegalArgumentException for any other database: "distkit has no {@code sqlFor} for the
     *     database '...'", naming the supported ones
     */
    public static SqlDialect dialectOf(String databaseProductName, String sqlFor) {
        Objects.requireNonNull(databaseProductName, "databaseProductName");
        String product = databaseProductName.toLowerCase(Locale.ROOT);
        if (product.contains("postgres")) {
            return SqlDialect.POSTGRESQL;
        }
        if (product.contains("mysql") || product.contains("mariadb")) {
            return SqlDialect.MYSQL;
        }
        if (product.equals("h2")) {
            return SqlDialect.H2;
        }
        throw new IllegalArgumentException("distkit has no " + sqlFor + " for the database '" + databaseProductName
                + "'; supported: PostgreSQL, MySQL, MariaDB, H2");
    }

    /** The database's current time. */
    public abstract String now();

    /** The database's current time plus a parameter in milliseconds. */
    public abstract String nowPlusMillis();

    /** Milliseconds (an integer, rounded up on PostgreSQL, down elsewhere) from the database's current time until {@code column}. */
    public abstract String millisUntil(String column);

    /** Microseconds since the epoch by the database clock, a BIGINT: e.g. the seed of a new lock row's token. */
    public abstract String epochMicros();

    /**
     * {@code statement} made durable on commit, where the database lets a statement ask for that
     * (PostgreSQL); as it is elsewhere. A statement with a WITH clause of its own gets the setting as its
     * first common table expression. Append {@link #durableWhere()} to its WHERE so that the setting is
     * evaluated.
     */
    public String durable(String statement) {
        return statement;
    }

    /**
     * {@code statement} committed without waiting for the disk, where the database allows it: for
     * releases only. A release lost in a crash leaves the row held until its expiry, which is what a
     * crashed holder does anyway; it can never let two holders in. (The next durable commit on the
     * server flushes it too: the log is written in order.) Acquires, claims and renewals stay {@link
     * #durable}: losing one of those would let a second holder in while the first still trusts its lease.
     */
    public String unhurried(String statement) {
        return statement;
    }

    /** A condition to append to the WHERE of a {@link #durable} or {@link #unhurried} statement, so that its setting is evaluated. */
    public String durableWhere() {
        return "";
    }

    /** Whether the JDBC query timeout ends a statement promptly (else only the network timeout bounds it). */
    public boolean queryTimeoutIsSafe() {
        return true;
    }

    /** Whether an error says the table does not exist. */
    abstract boolean isMissingTable(String sqlState, int errorCode);

    /** Whether {@code failure} or one of its causes says the table does not exist. */
    boolean isMissingTable(Throwable failure) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause instanceof SQLException sql && isMissingTable(sql.getSQLState(), sql.getErrorCode())) {
                return true;
            }
        }
        return false;
    }

    /** {@code statement} with {@code synchronous_commit} set for its own transaction (see {@link #durable}). */
    private static String withCommitMode(String synchronousCommit, String statement) {
        // local to the statement's own transaction; evaluated before the write commits
        String commitMode = "WITH commit_mode AS (SELECT set_config('synchronous_commit', '" + synchronousCommit
                + "', true) AS setting)";
        return statement.startsWith("WITH ")
                ? commitMode + ", " + statement.substring("WITH ".length())
                : commitMode + " " + statement;
    }
}
