/**
 * Distributed locks with fencing tokens on ZooKeeper through curator-framework: start at
 * {@link io.distkit.lock.zookeeper.ZooKeeperLockClient}, or connect by URI with
 * {@link io.distkit.lock.LockClients#connect(String)} ({@code zookeeper://}).
 *
 * <p>Only {@code ZooKeeperLockClient} and the {@link java.util.ServiceLoader} provider are public; the
 * backend the engine runs on is package-private.
 */
@NullMarked
package io.distkit.lock.zookeeper;

import org.jspecify.annotations.NullMarked;
