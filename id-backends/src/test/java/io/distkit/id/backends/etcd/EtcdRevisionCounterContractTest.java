package io.distkit.id.backends.etcd;

import io.distkit.id.IdGenerator;
import io.distkit.testkit.id.IdGeneratorContract;
import io.distkit.testkit.server.EtcdCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The id contract on {@link EtcdRevisionCounter}: every generator on one key, each with a jetcd client of its own. */
class EtcdRevisionCounterContractTest extends IdGeneratorContract {

    static EtcdCluster etcd;

    @BeforeAll
    static void startEtcd() {
        etcd = EtcdTests.started();
    }

    @AfterAll
    static void stopEtcd() {
        if (etcd != null) {
            etcd.close();
        }
    }

    @Override
    protected IdGenerator newGenerator() {
        return EtcdRevisionCounter.builder(EtcdTests.endpoints(etcd)).name("contract").build();
    }

    @Override
    protected int idsPerThread() {
        return 300; // a put per id
    }
}
