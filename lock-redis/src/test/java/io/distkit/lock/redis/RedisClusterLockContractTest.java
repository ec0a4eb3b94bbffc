package io.distkit.lock.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.lock.LockClientContract;
import io.distkit.testkit.server.RedisCluster;
import io.distkit.testkit.server.RedisServer;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The lock contract on a Redis Cluster of three masters; clients are seeded with every node, as an
 * application would configure them.
 */
class RedisClusterLockContractTest extends LockClientContract {

    @RegisterExtension
    static RedisCluster cluster = RedisCluster.builder().masters(3).build();

    private static String seeds() {
        return "redis://" + cluster.nodes().stream().map(node -> node.host() + ":" + node.port())
                .collect(Collectors.joining(","));
    }

    @Override
    protected LockClient newClient(LockOptions defaults) {
        return RedisLockClient.builder(seeds()).defaultOptions(defaults).build();
    }

    @Override
    protected void deleteLockState(String lockName) {
        String key = RedisLockClient.lockKey(RedisLockClient.DEFAULT_KEY_PREFIX, lockName);
        cluster.nodeFor(key).call("DEL", key);
    }

    @Test
    @DisplayName("the URI of one cluster node connects in cluster mode, and locks spread over every master")
    void oneNodeUriFindsTheCluster() throws Exception {
        RedisServer seed = cluster.node(0);
        try (LockClient client = RedisLockClient.builder(seed.uri()).build()) {
            assertThat(client.toString()).contains("redis cluster");
            Set<Integer> ports = new HashSet<>();
            for (int i = 0; i < 30; i++) {
                String name = uniqueName("spread-" + i);
                LockHandle handle = client.lock(name).tryAcquire().orElseThrow();
                String key = RedisLockClient.lockKey(RedisLockClient.DEFAULT_KEY_PREFIX, name);
                RedisServer owner = cluster.nodeFor(key);
                assertThat(owner.call("EXISTS", key)).isEqualTo(1L);
                assertThat(owner.call("EXISTS", key + ":fence")).isEqualTo(1L);
                ports.add(owner.port());
                handle.release();
                assertThat(owner.call("EXISTS", key)).isEqualTo(0L);
            }
            assertThat(ports).as("masters that held a lock").hasSize(3);
        }
    }
}
