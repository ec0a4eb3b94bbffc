/**
 * The ID SPIs on a database table (PostgreSQL, MySQL/MariaDB, H2), via spring-jdbc: one of the
 * backends of {@code id-backends}, a package per backend ({@code io.distkit.id.backends.<backend>}).
 *
 * <p>{@link io.distkit.id.backends.jdbc.JdbcWorkerIdAssigner}, worker ids leased from one table by the
 * database's clock, renewed in the background, with each worker id's last timestamp kept in its row
 * across leases; {@link io.distkit.id.backends.jdbc.JdbcSegmentAllocator}, ranges of ids reserved in one
 * row per tag, for the segment generator of {@code id-segment}. Their dialect type and the SQL and checks
 * they share with {@code lock-jdbc} are in {@code jdbc-support} ({@link io.distkit.jdbc.SqlDialect}).
 */
@NullMarked
package io.distkit.id.backends.jdbc;

import org.jspecify.annotations.NullMarked;
