/**
 * The distkit ID API: unique 64-bit ids from interchangeable backends.
 *
 * <p>An {@link io.distkit.id.IdGenerator} hands out {@code long} ids that never repeat for its
 * source, even across restarts, clock rollback and two processes configured alike by mistake.
 * Each implementation says whether its ids also increase. Generators are built from two SPIs:
 * a {@link io.distkit.id.WorkerIdAssigner} leases a worker id to a snowflake-style generator, and a
 * {@link io.distkit.id.SegmentAllocator} hands a segment generator disjoint ranges of ids
 * ({@link io.distkit.id.Segment}) from a shared store.
 *
 * <p>Every failure is an unchecked {@link io.distkit.id.IdGenerationException}; a generator never
 * signals failure with a magic value such as a negative id. Null is not accepted or returned
 * anywhere in this package.
 */
@NullMarked
package io.distkit.id;

import org.jspecify.annotations.NullMarked;
