package io.distkit.lock.spi;

/** What kind of hold a request asks for. Backends without read-write locks only ever see {@link #EXCLUSIVE}. */
public enum LockMode {
    /** The plain lock: one holder. */
    EXCLUSIVE,
    /** The shared side of a read-write lock: waits only for earlier writers. */
    READ,
    /** The exclusive side of a read-write lock: waits for every earlier reader and writer. */
    WRITE
}
