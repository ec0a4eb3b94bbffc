package io.distkit.id.backends.etcd;

import io.distkit.testkit.server.EtcdCluster;
import io.etcd.jetcd.Client;
import java.nio.file.Files;
import java.nio.file.Path;

/** What the etcd tests share. */
final class EtcdTests {

    private EtcdTests() {}

    /** A cluster on /dev/shm where there is one: these tests are about ids, not disks. */
    static EtcdCluster.Builder cluster() {
        EtcdCluster.Builder builder = EtcdCluster.builder();
        Path shm = Path.of("/dev/shm");
        return Files.isDirectory(shm) && Files.isWritable(shm) ? builder.dataIn(shm) : builder;
    }

    /** A started single-member cluster, for {@code @BeforeAll}: the JUnit extension would restart it per nested class. */
    static EtcdCluster started() {
        EtcdCluster cluster = cluster().build();
        cluster.start();
        return cluster;
    }

    static String[] endpoints(EtcdCluster cluster) {
        return cluster.endpoints().toArray(String[]::new);
    }

    static Client client(EtcdCluster cluster) {
        return Client.builder().endpoints(endpoints(cluster)).build();
    }
}
