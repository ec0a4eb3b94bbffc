package io.distkit.lock.jdbc;

/** One held lock: the row and the owner value that proves it is ours. */
record JdbcLease(String name, String owner) {}
