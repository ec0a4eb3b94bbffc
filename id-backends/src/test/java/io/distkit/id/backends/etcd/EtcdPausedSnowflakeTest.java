package io.distkit.id.backends.etcd;

import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.backends.PausedSnowflakeContract;
import io.distkit.id.backends.PausedSnowflakeMain;
import io.distkit.testkit.server.EtcdCluster;
import java.time.Duration;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** F20 with a real pause on the etcd worker-id assigner (its lease: etcd's minimum, 2 s). */
@Timeout(120)
class EtcdPausedSnowflakeTest extends PausedSnowflakeContract {

    @RegisterExtension
    static EtcdCluster etcd = EtcdTests.cluster().build();

    private final String keyPrefix = "paused-" + System.nanoTime() + "/";

    @Override
    protected Class<? extends PausedSnowflakeMain.Factory> factory() {
        return Factory.class;
    }

    @Override
    protected String address() {
        return String.join(",", EtcdTests.endpoints(etcd)) + "|" + keyPrefix;
    }

    /** {@code <endpoint,...>|<key prefix>}. */
    public static final class Factory implements PausedSnowflakeMain.Factory {
        @Override
        public WorkerIdAssigner open(String address, Duration leaseTime) {
            String[] parts = address.split("\\|");
            return EtcdWorkerIdAssigner.builder(parts[0].split(",")).keyPrefix(parts[1]).leaseTime(leaseTime).build();
        }
    }
}
