package io.distkit.lock.redis;

/**
 * What renew and release need to know about one held lock: its keys and the owner value that proves
 * ownership. The owner value is unique to one acquisition, so it alone identifies the lease.
 */
record RedisLease(String name, String key, String channel, String owner) {}
