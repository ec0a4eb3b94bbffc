package io.distkit.lock.redlock;

import io.distkit.lock.redis.internal.LockKeys;

/**
 * What renew and release need to know about one lock held through a quorum: its keys (the same on every
 * node) and the owner value that proves ownership on each. The owner value is unique to one acquisition.
 */
record RedlockLease(String name, LockKeys keys, String owner) {}
