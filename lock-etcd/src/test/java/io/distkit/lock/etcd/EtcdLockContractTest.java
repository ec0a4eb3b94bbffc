package io.distkit.lock.etcd;

import io.distkit.testkit.server.EtcdCluster;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The lock contract on a one-member etcd cluster. */
class EtcdLockContractTest extends EtcdLockContractSupport {

    @RegisterExtension
    static EtcdCluster etcd = EtcdCluster.builder().build();

    @Override
    EtcdCluster etcd() {
        return etcd;
    }
}
