package io.distkit.lock.etcd;

import io.etcd.jetcd.ByteSequence;

/**
 * One held lock: its key, the key's create revision (the fencing token) and the session whose lease
 * keeps the key alive. Equal records are the same lease: the key is unique to one acquisition.
 */
record EtcdLease(String name, ByteSequence key, long token, Session session) {}
