/**
 * Jepsen-style histories of lock operations and the checkers of docs/failures.md (1–4) over them.
 *
 * <p>A test records every operation in a {@link io.distkit.testkit.history.History} as an
 * invocation and a completion with {@link System#nanoTime()} times, merges the histories of child
 * JVMs in (they print {@link io.distkit.testkit.history.Op#toLine() op lines}), writes through a
 * {@link io.distkit.testkit.history.FencedRegister}, and judges the result with
 * {@link io.distkit.testkit.history.Checkers}. {@link io.distkit.testkit.history.LostUpdateWorkload}
 * does all of this for the lost-update workload against any {@link io.distkit.lock.DistributedLock}.
 */
@NullMarked
package io.distkit.testkit.history;

import org.jspecify.annotations.NullMarked;
