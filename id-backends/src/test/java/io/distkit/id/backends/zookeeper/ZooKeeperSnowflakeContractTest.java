package io.distkit.id.backends.zookeeper;

import io.distkit.id.IdGenerator;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.snowflake.SnowflakeIdGenerator;
import io.distkit.id.snowflake.SnowflakeLayout;
import io.distkit.testkit.id.IdGeneratorContract;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The id contract on snowflake generators whose worker ids come from {@link ZooKeeperWorkerIdAssigner}: every
 * generator on an assigner with a client of its own, as separate processes; a generator built after one was
 * closed gets its worker id back with the mark saved on close, so it starts above every id of the old one. Marks
 * every 100 ms, so that a replacement waits at most 200 ms for the mark saved ahead of the time.
 */
class ZooKeeperSnowflakeContractTest extends IdGeneratorContract {

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperIdTestSupport.server();

    /** The mark's rhythm: a replacement waits up to two of these for the mark saved ahead of the time (default 1 s). */
    private static final Duration PERSIST = Duration.ofMillis(100);

    private final Map<IdGenerator, WorkerIdAssigner> assigners = new ConcurrentHashMap<>();

    @Override
    protected IdGenerator newGenerator() {
        WorkerIdAssigner assigner = ZooKeeperWorkerIdAssigner.builder(zk.connectString())
                .sessionTimeout(ZooKeeperIdTestSupport.SESSION).basePath("/contract/workers").build();
        try {
            SnowflakeIdGenerator generator = SnowflakeIdGenerator.builder(SnowflakeLayout.TWITTER)
                    .workerIdAssigner(assigner)
                    .persistInterval(PERSIST).build();
            assigners.put(generator, assigner);
            return generator;
        } catch (RuntimeException e) {
            assigner.close();
            throw e;
        }
    }

    @Override
    protected void closeGenerator(IdGenerator generator) throws Exception {
        super.closeGenerator(generator);
        WorkerIdAssigner assigner = assigners.remove(generator);
        if (assigner != null) {
            assigner.close();
        }
    }
}
