package io.distkit.lock.etcd;

import io.distkit.testkit.server.EtcdCluster;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The lock contract on a three-member etcd cluster; each client talks to every member. */
class EtcdClusterLockContractTest extends EtcdLockContractSupport {

    @RegisterExtension
    static EtcdCluster etcd = EtcdCluster.builder().members(3).build();

    @Override
    EtcdCluster etcd() {
        return etcd;
    }
}
