package io.distkit.lock.etcd;

import io.distkit.lock.etcd.KeyNames.KeyName;
import io.etcd.jetcd.ByteSequence;

/**
 * One held lock: its key name, the key's create revision (the fencing token) and the session whose lease
 * keeps the key alive. Equal records are the same lease: a key name is one acquisition's while it is held.
 */
record EtcdLease(String name, KeyName keyName, long token, Session session) {

    ByteSequence key() {
        return keyName.bytes;
    }
}
