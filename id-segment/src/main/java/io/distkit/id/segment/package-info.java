/**
 * Segment ("leaf") ids: numbers handed out from ranges that a {@link io.distkit.id.SegmentAllocator}
 * reserves in a shared store, the next range fetched in the background before the current one runs
 * out, so the hot path is one atomic increment with no store call.
 *
 * <p>Start at {@link io.distkit.id.segment.SegmentIdGenerator#builder(io.distkit.id.SegmentAllocator, String)}
 * with an allocator: one on a server from {@code id-backends} ({@code io.distkit.id.backends.jdbc.JdbcSegmentAllocator}
 * on a database table: PostgreSQL, MySQL/MariaDB, H2), or {@link io.distkit.id.segment.InMemorySegmentAllocator}
 * for tests. This module holds the algorithm only: it depends on {@code id-api}, and on {@code distkit-common}
 * (which {@code id-api} brings anyway) for its named daemon threads.
 */
@NullMarked
package io.distkit.id.segment;

import org.jspecify.annotations.NullMarked;
