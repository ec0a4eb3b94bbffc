package io.distkit.id.backends.etcd;

import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.backends.WorkerIdAssignerContract;
import io.distkit.testkit.server.EtcdCluster;
import io.distkit.testkit.server.FaultProxy;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.options.DeleteOption;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The store-neutral assigner contract on {@link EtcdWorkerIdAssigner}: each test on a key prefix of its own, each
 * assigner with a jetcd client of its own.
 */
class EtcdWorkerIdAssignerContractTest extends WorkerIdAssignerContract {

    @RegisterExtension
    static EtcdCluster etcd = EtcdTests.cluster().build();

    private static final AtomicInteger TESTS = new AtomicInteger();
    private static Client admin;

    private final String prefix = "assigner-contract-" + TESTS.incrementAndGet() + "/";

    @BeforeAll
    static void connect() {
        admin = EtcdTests.client(etcd);
    }

    @AfterAll
    static void disconnect() {
        admin.close();
    }

    @Override
    protected WorkerIdAssigner newAssigner(Duration leaseTime) {
        return EtcdWorkerIdAssigner.builder(EtcdTests.endpoints(etcd)).keyPrefix(prefix).leaseTime(leaseTime).build();
    }

    /** Nothing to clear: each test works under a key prefix of its own. */
    @Override
    protected void clearStore() {}

    @Override
    protected FaultProxy proxyToStore() {
        URI endpoint = URI.create(etcd.endpoints().get(0));
        FaultProxy proxy = FaultProxy.builder().target(endpoint.getHost(), endpoint.getPort()).build();
        proxy.start();
        return proxy;
    }

    @Override
    protected WorkerIdAssigner newAssignerThrough(FaultProxy proxy, Duration leaseTime) {
        return EtcdWorkerIdAssigner.builder(proxy.uri("http")).keyPrefix(prefix).leaseTime(leaseTime)
                .commandTimeout(Duration.ofMillis(500)).build();
    }

    /** Deletes every key of the lock (lock-etcd's layout: {@code <prefix>worker-lock/<name>/<client>/<slot>}). */
    @Override
    protected void deleteLockBehindItsBack(String lockName) throws Exception {
        long deleted = admin.getKVClient().delete(EtcdCalls.bytes(prefix + "worker-lock/"
                        + EtcdWorkerMarkStore.encode(lockName) + "/"), DeleteOption.builder().isPrefix(true).build())
                .get(10, TimeUnit.SECONDS).getDeleted();
        if (deleted != 1) {
            throw new AssertionError("expected to delete the one key of lock " + lockName + ", deleted " + deleted);
        }
    }
}
