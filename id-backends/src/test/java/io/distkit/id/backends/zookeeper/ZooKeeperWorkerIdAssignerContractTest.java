package io.distkit.id.backends.zookeeper;

import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.backends.WorkerIdAssignerContract;
import io.distkit.testkit.server.FaultProxy;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The worker-id assigner contract on {@link ZooKeeperWorkerIdAssigner}: each test on a base path of its own (the
 * marks outlive the leases), every assigner with a client of its own, sessions of 30 s; the short lease (2 s) and
 * the long one (20 s) both fit in such a session.
 */
class ZooKeeperWorkerIdAssignerContractTest extends WorkerIdAssignerContract {

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperIdTestSupport.server();

    private static final AtomicInteger TESTS = new AtomicInteger();
    private static CuratorFramework operator;
    private String basePath;

    @BeforeAll
    static void connectOperator() throws InterruptedException {
        operator = ZooKeeperIdTestSupport.operator(zk);
    }

    @AfterAll
    static void closeOperator() {
        operator.close();
    }

    @BeforeEach
    void freshBasePath() {
        basePath = "/assigner-contract/t" + TESTS.incrementAndGet();
    }

    @Override
    protected WorkerIdAssigner newAssigner(Duration leaseTime) {
        return ZooKeeperWorkerIdAssigner.builder(zk.connectString()).basePath(basePath)
                .sessionTimeout(ZooKeeperIdTestSupport.SESSION).leaseTime(leaseTime).build();
    }

    /** Nothing to clear: each test works under a base path of its own. */
    @Override
    protected void clearStore() {}

    @Override
    protected FaultProxy proxyToStore() {
        String[] hostPort = zk.connectString().split(",")[0].split(":");
        FaultProxy proxy = FaultProxy.builder().target(hostPort[0], Integer.parseInt(hostPort[1])).build();
        proxy.start();
        return proxy;
    }

    /** A session just over the short lease, so that the server ends the cut-off holder's nodes soon after. */
    @Override
    protected WorkerIdAssigner newAssignerThrough(FaultProxy proxy, Duration leaseTime) {
        return ZooKeeperWorkerIdAssigner.builder(proxy.host() + ":" + proxy.port()).basePath(basePath)
                .sessionTimeout(leaseTime.plusSeconds(1)).commandTimeout(Duration.ofMillis(500)).leaseTime(leaseTime)
                .build();
    }

    /** Deletes the lock's nodes (the ephemeral nodes of its holder), leaving its mark node alone. */
    @Override
    protected void deleteLockBehindItsBack(String lockName) throws Exception {
        String directory = basePath + "/locks/" + lockName; // worker-<n>: nothing to encode
        for (String child : operator.getChildren().forPath(directory)) {
            operator.delete().forPath(directory + "/" + child);
        }
    }

    @Override
    protected Duration longLease() {
        return Duration.ofSeconds(20);
    }
}
