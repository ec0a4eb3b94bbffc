package io.distkit.testkit.memory;

import io.distkit.lock.spi.LockMode;

/** What the in-memory backend needs to renew or release one acquisition. */
public record InMemoryLease(String key, LockMode mode, String owner) {}
