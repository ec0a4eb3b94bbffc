/**
 * What distkit's JDBC modules ({@code lock-jdbc}, {@code id-backends}) share in their API: the
 * {@link io.distkit.jdbc.SqlDialect} their builders accept, and {@link io.distkit.jdbc.JdbcTableBuilder},
 * the options every one of those builders has (table, dialect, table creation, command timeout). The
 * SQL and the checks behind them live in {@code io.distkit.jdbc.internal}, which is not API.
 */
@NullMarked
package io.distkit.jdbc;

import org.jspecify.annotations.NullMarked;
