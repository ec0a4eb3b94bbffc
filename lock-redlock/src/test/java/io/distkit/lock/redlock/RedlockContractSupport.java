package io.distkit.lock.redlock;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.server.RedisServer;
import io.distkit.testkit.server.RedisServer.Persistence;
import java.time.Duration;
import java.util.List;

/**
 * What the lock contract tests on 3 and on 5 independent redis-server masters share, with the default restart safeguard:
 * the nodes sync their append-only file before every reply, so their votes count at once (nodes without it
 * would count only after {@code maxLeaseTime} of uptime). Every client is its own set of Lettuce clients,
 * as separate processes would be.
 */
final class RedlockContractSupport {

    private RedlockContractSupport() {}

    static LockClient client(List<RedisServer> nodes, LockOptions defaults) {
        return RedlockClient.builder(nodes.stream().map(RedisServer::uri).toList())
                .defaultOptions(defaults)
                .maxLeaseTime(Duration.ofSeconds(60))
                .build();
    }

    static void delete(List<RedisServer> nodes, String lockName) {
        for (RedisServer node : nodes) {
            node.call("DEL", RedlockClient.lockKey(RedlockClient.DEFAULT_KEY_PREFIX, lockName));
        }
    }

    static RedisServer node() {
        return RedisServer.builder().persistence(Persistence.AOF_ALWAYS).build();
    }
}
