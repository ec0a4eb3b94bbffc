package io.distkit.lock.spi;

/** Which thread holds which lock in which mode, for reentrant acquires without a round trip. */
record ReentrancyKey(String name, LockMode mode, Thread thread) {}
