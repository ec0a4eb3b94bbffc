package io.distkit.jdbc;

import io.distkit.jdbc.internal.DialectSql;

/**
 * The database families distkit's JDBC modules have SQL for. Builders detect the dialect from the
 * product name the driver reports; name one to override that, and to get the {@code CREATE TABLE}
 * statement of a module's table from its client class (for example {@code
 * JdbcLockClient.createTableSql(SqlDialect.POSTGRESQL, "distkit_lock")}).
 */
public enum SqlDialect {

    /** PostgreSQL 9.5 or later. */
    POSTGRESQL,

    /** MySQL 8 and MariaDB 10.5 or later, InnoDB. */
    MYSQL,

    /** H2 2.x, in any compatibility mode. */
    H2;

    /**
     * The dialect of a database product name as JDBC reports it ({@code DatabaseMetaData#getDatabaseProductName}):
     * any name containing "postgres" is {@link #POSTGRESQL}, "mysql" or "mariadb" {@link #MYSQL}, and
     * exactly "h2" {@link #H2}, ignoring case.
     *
     * @throws NullPointerException if null
     * @throws IllegalArgumentException for any other database, naming the supported ones
     */
    public static SqlDialect of(String databaseProductName) {
        return DialectSql.dialectOf(databaseProductName, "SQL");
    }
}
