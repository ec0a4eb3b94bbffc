/**
 * Redlock: distributed locks with fencing tokens held by a quorum of independent Redis masters, through
 * Lettuce. Start at {@link io.distkit.lock.redlock.RedlockClient}, or connect by URI with
 * {@link io.distkit.lock.LockClients#connect(String)} ({@code redlock://h1:p1,h2:p2,h3:p3}).
 *
 * <p>Only {@code RedlockClient}, {@link io.distkit.lock.redlock.RestartSafeguard} and the
 * {@link java.util.ServiceLoader} provider are public; the backend the engine runs on is package-private.
 */
@NullMarked
package io.distkit.lock.redlock;

import org.jspecify.annotations.NullMarked;
