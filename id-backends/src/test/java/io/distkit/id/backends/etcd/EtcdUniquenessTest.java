package io.distkit.id.backends.etcd;

import io.distkit.id.backends.StoreUniquenessContract;
import io.distkit.testkit.server.EtcdCluster;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;

/** 4 JVMs killed at random on one etcd: no id twice. */
@Timeout(150)
class EtcdUniquenessTest extends StoreUniquenessContract {

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

    /** A counter id is a write to etcd's log (one revision each): 50,000 a slot, a million for the others. */
    @Override
    protected long idsPerSlot(String kind) {
        return kind.equals("counter") ? 50_000 : super.idsPerSlot(kind);
    }

    @Override
    protected String storeUri() {
        return etcd.endpoints().get(0).replace("http://", "etcd://") + "/uniqueness/";
    }
}
