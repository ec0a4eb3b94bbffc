/**
 * The distkit lock API: one small set of interfaces shared by every backend.
 *
 * <p>A {@link io.distkit.lock.LockClient} is one connection to a backend. It hands out
 * {@link io.distkit.lock.DistributedLock}s by name; acquiring one yields a
 * {@link io.distkit.lock.LockHandle} that carries a fencing token, knows its lease deadline and
 * tells its listeners when the lease is lost.
 *
 * <p>Lock names follow one rule on every backend (see {@link io.distkit.lock.LockClient#lock(String)}):
 * not blank, at most 200 characters, no unpaired surrogate, no control character; within it, distinct
 * names are distinct locks, compared exactly (case, spaces and Unicode normalisation count).
 *
 * <p>No lease-based lock can guarantee mutual exclusion on its own: a holder can be paused past its
 * lease. Protect the resource with {@link io.distkit.lock.LockHandle#fencingToken()}: make it refuse
 * writes whose token is lower than the highest it has accepted.
 */
@NullMarked
package io.distkit.lock;

import org.jspecify.annotations.NullMarked;
