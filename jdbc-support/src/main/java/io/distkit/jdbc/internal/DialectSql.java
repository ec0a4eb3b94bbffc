package io.distkit.jdbc.internal;

import io.distkit.jdbc.SqlDialect;
import java.sql.SQLException;
import java.util.Locale;
import java.util.Objects;

/**
 * The SQL pieces of one {@link SqlDialect} that distkit's JDBC modules build their statements from.
 * Every time in them is the database's clock; the client's clock is never read, so a client whose
 * wall clock is wrong (F18) changes no lease. The writes whose commit matters are built by {@link
 * #update} and {@link #insert} ({@link WriteSql}): on PostgreSQL such a statement chooses its own commit.
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

        @Override
        boolean choosesCommitPerStatement() {
            return true;
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
     * An {@code UPDATE} of {@code table} whose commit matters: finish it with {@link WriteSql#durable()} or
     * {@link WriteSql#unhurried()}.
     *
     * @throws IllegalArgumentException if {@code table} is blank
     */
    public WriteSql.Update update(String table) {
        return new WriteSql.Update(this, table);
    }

    /**
     * An {@code INSERT} into {@code table} whose commit matters: finish it with {@link WriteSql#durable()} or
     * {@link WriteSql#unhurried()}.
     *
     * @throws IllegalArgumentException if {@code table} is blank
     */
    public WriteSql.Insert insert(String table) {
        return new WriteSql.Insert(this, table);
    }

    /** Whether one statement can choose its own commit ({@code synchronous_commit}): see {@link WriteSql}. */
    boolean choosesCommitPerStatement() {
        return false;
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
}
