/**
 * Backends of the distkit ID SPIs ({@link io.distkit.id.WorkerIdAssigner}, and later
 * {@link io.distkit.id.SegmentAllocator} and plain generators on Redis, etcd and ZooKeeper).
 *
 * <p>For now: {@link io.distkit.id.backends.JdbcWorkerIdAssigner}, worker ids leased from one table
 * of a PostgreSQL, MySQL/MariaDB or H2 database by the database's clock, renewed in the background,
 * with each worker id's last timestamp kept in its row across leases. Its dialect type and the SQL
 * and checks it shares with {@code lock-jdbc} are in {@code jdbc-support} ({@link io.distkit.jdbc.SqlDialect}).
 */
@NullMarked
package io.distkit.id.backends;

import org.jspecify.annotations.NullMarked;
