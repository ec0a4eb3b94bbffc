/**
 * Distributed locks with fencing tokens on one table of a relational database (PostgreSQL, MySQL and
 * MariaDB, H2) through spring-jdbc: start at {@link io.distkit.lock.jdbc.JdbcLockClient}, or connect by
 * URL with {@link io.distkit.lock.LockClients#connect(java.net.URI)} ({@code jdbc:...}, pooled by
 * HikariCP).
 *
 * <p>Public: {@code JdbcLockClient} (with the table's DDL per {@link io.distkit.jdbc.SqlDialect}, which
 * also forces a dialect) and the {@link java.util.ServiceLoader} provider; the backend is
 * package-private. The SQL and checks it shares with {@code id-backends} are in {@code jdbc-support}.
 */
@NullMarked
package io.distkit.lock.jdbc;

import org.jspecify.annotations.NullMarked;
