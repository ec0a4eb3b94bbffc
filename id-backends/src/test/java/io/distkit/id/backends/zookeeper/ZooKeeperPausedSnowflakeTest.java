package io.distkit.id.backends.zookeeper;

import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.backends.PausedSnowflakeContract;
import io.distkit.id.backends.PausedSnowflakeMain;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.time.Duration;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * F20 with a real pause on the ZooKeeper worker-id assigner: the paused JVM sends no heartbeat, the server expires
 * its 3 s session and deletes its worker node.
 */
@Timeout(120)
class ZooKeeperPausedSnowflakeTest extends PausedSnowflakeContract {

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperIdTestSupport.server();

    private final String basePath = "/paused-" + System.nanoTime();

    @Override
    protected Class<? extends PausedSnowflakeMain.Factory> factory() {
        return Factory.class;
    }

    @Override
    protected String address() {
        return zk.connectString() + "|" + basePath;
    }

    /** {@code <connect string>|<base path>}; a 3 s session. */
    public static final class Factory implements PausedSnowflakeMain.Factory {
        @Override
        public WorkerIdAssigner open(String address, Duration leaseTime) {
            String[] parts = address.split("\\|");
            return ZooKeeperWorkerIdAssigner.builder(parts[0]).basePath(parts[1])
                    .sessionTimeout(leaseTime.plusSeconds(1)).leaseTime(leaseTime).build();
        }
    }
}
