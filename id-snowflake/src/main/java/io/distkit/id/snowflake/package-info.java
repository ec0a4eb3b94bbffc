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
 * <h2>Choosing a layout</h2>
 *
 * <table>
 *   <caption>Presets of {@link io.distkit.id.snowflake.SnowflakeLayout}</caption>
 *   <tr><th>preset</th><th>bits (time/worker/sequence)</th><th>unit</th><th>epoch</th>
 *       <th>runs out</th><th>workers</th><th>ids/s per worker</th></tr>
 *   <tr><td>{@link io.distkit.id.snowflake.SnowflakeLayout#TWITTER TWITTER}</td><td>41/10/12</td><td>1 ms</td>
 *       <td>2010-11-04T01:42:54.657Z</td><td>2080-07-10T17:30:30.209Z (69.7 years)</td><td>1,024</td>
 *       <td>4,096,000</td></tr>
 *   <tr><td>{@link io.distkit.id.snowflake.SnowflakeLayout#SONYFLAKE SONYFLAKE}</td><td>39/16/8</td><td>10 ms</td>
 *       <td>2014-09-01T00:00:00Z</td><td>2188-11-16T03:28:58.880Z (174.2 years)</td><td>65,536</td>
 *       <td>25,600</td></tr>
 *   <tr><td>{@link io.distkit.id.snowflake.SnowflakeLayout#JS_SAFE JS_SAFE}</td><td>37/6/10 (53 bits)</td>
 *       <td>10 ms</td><td>2024-01-01T00:00:00Z</td><td>2067-07-21T06:52:14.720Z (43.6 years)</td><td>64</td>
 *       <td>102,400</td></tr>
 * </table>
 *
 * <p>The bits trade against each other. Within JS_SAFE's 53 bits, for instance: 2<sup>37</sup>
 * &times; 10 ms = 1,374,389,534.72 s = 43.55 years of timestamps, 1,024 ids per 10 ms = 102,400
 * ids/s per worker, 64 workers, 6,553,600 ids/s over all of them. One more worker bit halves the
 * per-worker rate, one more timestamp bit doubles the lifetime (87 years) at half the rate or half
 * the workers; 1 ms units would leave 34.8 years with 40 timestamp bits.
 *
 * <p>Public: the layout, the generator interface and its builder, the static assigner, the id
 * format; the generator itself is package-private. The ticker is {@link io.distkit.id.Ticker}.
 */
@NullMarked
package io.distkit.id.snowflake;

import org.jspecify.annotations.NullMarked;
