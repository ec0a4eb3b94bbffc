/**
 * Server-backed implementations of the ID SPIs, one package per store ({@code redis}, {@code etcd},
 * {@code zookeeper}, {@code jdbc}), each with an {@link io.distkit.id.IdStore} that
 * {@link io.distkit.id.IdStores#connect} opens from the store's URI, and what they share: counters on any
 * allocator ({@link io.distkit.id.backends.AllocatedCounter}) and worker ids as locks.
 *
 * <p>Shared: worker ids leased as locks. {@link io.distkit.id.backends.LockedWorkerIdAssigner} holds
 * worker id {@code n} as the lock {@code worker-<n>} through any distkit {@link io.distkit.lock.LockClient},
 * so the lock engine keeps the lease (renewal, local deadline, loss listeners) for every backend alike,
 * and keeps each worker id's high-water mark in a {@link io.distkit.id.backends.WorkerMarkStore} of the
 * backend, fenced by the lock's fencing token. A backend's worker-id assigner is its lock client plus a
 * mark store.
 */
@NullMarked
package io.distkit.id.backends;

import org.jspecify.annotations.NullMarked;
