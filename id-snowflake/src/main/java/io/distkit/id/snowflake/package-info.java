/**
 * Snowflake ids: 63-bit (or JavaScript-safe 53-bit) ids made of a timestamp, a worker id and a
 * sequence number, issued by a lock-free generator that never repeats an id, across clock rollback
 * and restarts included.
 *
 * <p>Start at {@link io.distkit.id.snowflake.SnowflakeIdGenerator#builder(SnowflakeLayout)} with a
 * {@link io.distkit.id.snowflake.SnowflakeLayout} (a preset or a built one) and a worker id source:
 * a {@link io.distkit.id.WorkerIdAssigner} that leases worker ids from a shared store, or
 * {@link io.distkit.id.snowflake.StaticWorkerIdAssigner} for a fixed one.
 * {@link io.distkit.id.snowflake.IdFormat} writes ids as sortable 13-character strings.
 *
 * <p>Public: the layout, the generator interface and its builder, the static assigner, the id
 * format; the generator itself is package-private. The ticker is {@link io.distkit.id.Ticker}.
 */
@NullMarked
package io.distkit.id.snowflake;

import org.jspecify.annotations.NullMarked;
