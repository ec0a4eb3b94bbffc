/**
 * Distributed locks with fencing tokens on etcd v3 through jetcd: start at
 * {@link io.distkit.lock.etcd.EtcdLockClient}, or connect by URI with
 * {@link io.distkit.lock.LockClients#connect(String)} ({@code etcd://}, {@code etcds://}).
 *
 * <p>Only {@code EtcdLockClient} and the {@link java.util.ServiceLoader} provider are public; the
 * backend the engine runs on is package-private.
 */
@NullMarked
package io.distkit.lock.etcd;

import org.jspecify.annotations.NullMarked;
