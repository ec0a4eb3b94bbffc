package io.distkit.lock.etcd;

import io.distkit.lock.LockOptions;
import io.distkit.lock.ReadWriteLockClient;
import io.distkit.testkit.lock.LockClientContract;
import io.distkit.testkit.lock.ReadWriteLockContract;
import io.distkit.testkit.server.EtcdCluster;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;

/**
 * The lock contract and the read-write lock contract on an etcd cluster; every client is its own jetcd client,
 * as separate processes would be.
 */
abstract class EtcdLockContractSupport extends LockClientContract {

    private Client admin;

    /** The cluster under test. */
    abstract EtcdCluster etcd();

    @AfterEach
    void closeAdmin() {
        if (admin != null) {
            admin.close();
        }
    }

    @Override
    protected ReadWriteLockClient newClient(LockOptions defaults) {
        return EtcdLockClient.builder(etcd().endpoints().toArray(String[]::new)).defaultOptions(defaults).build();
    }

    /** etcd's leases are whole seconds, at least 2 s with the cluster's election timeout. */
    @Override
    protected Duration shortLease() {
        return Duration.ofSeconds(2);
    }

    private Client admin() {
        if (admin == null) {
            admin = Client.builder().endpoints(etcd().endpoints().toArray(String[]::new)).build();
        }
        return admin;
    }

    /** Deletes every key of the lock, as an operator would (the sessions' leases stay). */
    @Override
    protected void deleteLockState(String lockName) {
        String prefix = EtcdLockClient.lockPrefix(EtcdLockClient.DEFAULT_KEY_PREFIX, lockName);
        try {
            admin().getKVClient()
                    .delete(ByteSequence.from(prefix, StandardCharsets.UTF_8), DeleteOption.builder().isPrefix(true).build())
                    .get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("could not delete " + prefix, e);
        }
    }

    /** Read-write locks on the same cluster; etcd's revision order serves them first come, first served. */
    @Nested
    @DisplayName("read-write locks")
    class ReadWrite extends ReadWriteLockContract {

        @Override
        protected ReadWriteLockClient newClient(LockOptions defaults) {
            return EtcdLockContractSupport.this.newClient(defaults);
        }

        @Override
        protected boolean fifo() {
            return true;
        }

        @Override
        protected void awaitQueued(String name, int entries) {
            ByteSequence queue = ByteSequence.from(EtcdLockClient.normalisePrefix(EtcdLockClient.DEFAULT_KEY_PREFIX)
                    + EtcdLockBackend.encodeName(name) + "%rw/", StandardCharsets.UTF_8);
            Awaitility.await().atMost(slack()).until(() -> admin().getKVClient()
                    .get(queue, GetOption.builder().isPrefix(true).withCountOnly(true).build())
                    .get(10, TimeUnit.SECONDS).getCount() >= entries);
        }
    }
}
