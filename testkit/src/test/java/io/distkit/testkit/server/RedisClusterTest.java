package io.distkit.testkit.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisAdvancedClusterAsyncCommands;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The Redis Cluster fixture against real redis-server nodes joined by redis-cli. */
class RedisClusterTest {

    @RegisterExtension
    static RedisCluster cluster = RedisCluster.builder().build();

    @Test
    @DisplayName("three masters form a cluster that serves every slot; a key is answered by its master only")
    void formsAndAnswers() {
        assertThat(cluster.nodes()).hasSize(3);
        assertThat(cluster.masters()).containsExactlyElementsOf(cluster.nodes());
        for (RedisServer node : cluster.nodes()) {
            assertThat(String.valueOf(node.call("CLUSTER", "INFO")))
                    .contains("cluster_state:ok", "cluster_slots_assigned:16384", "cluster_known_nodes:3");
        }

        RedisServer owner = cluster.nodeFor("answered");
        assertThat(owner.call("SET", "answered", "yes")).isEqualTo("OK");
        assertThat(owner.call("GET", "answered")).isEqualTo("yes");
        RedisServer other = cluster.nodes().stream().filter(node -> node != owner).findFirst().orElseThrow();
        assertThatThrownBy(() -> other.call("GET", "answered")).isInstanceOf(Resp.RedisError.class)
                .hasMessageStartingWith("MOVED " + RedisCluster.slot("answered") + " ");
    }

    @Test
    @DisplayName("the slot computed locally is the server's CLUSTER KEYSLOT, hash tags included")
    void slotMatchesServer() {
        RedisServer node = cluster.node(0);
        for (String key : List.of("", "a", "foo", "user:1000", "{user1000}.following", "foo{}{bar}", "foo{{bar}}zap",
                "foo{bar}{zap}", "{", "}{x}", "ключ", "emoji-\uD83D\uDE00")) {
            assertThat(RedisCluster.slot(key)).as(key).isEqualTo(((Long) node.call("CLUSTER", "KEYSLOT", key)).intValue());
        }
        assertThat(RedisCluster.slot("123456789")).isEqualTo(0x31C3 % RedisCluster.SLOTS); // the CRC16/XMODEM check value
    }

    @Test
    @DisplayName("keys with the same hash tag {x} land on one node and can be used together")
    void hashTagsShareANode() {
        List<String> keys = List.of("{x}a", "{x}b", "prefix{x}suffix", "{x}");
        Set<Integer> slots = keys.stream().map(RedisCluster::slot).collect(Collectors.toSet());
        assertThat(slots).containsExactly(RedisCluster.slot("x"));

        RedisServer owner = cluster.nodeFor("{x}a");
        assertThat(keys).allMatch(key -> cluster.nodeFor(key) == owner);
        assertThat(owner.call("MSET", "{x}a", "1", "{x}b", "2")).isEqualTo("OK"); // multi-key needs one slot
        assertThat(owner.call("MGET", "{x}a", "{x}b")).isEqualTo(List.of("1", "2"));
    }

    @Test
    @DisplayName("a Lettuce cluster client sets and gets a key in every one of the 16384 slots")
    void lettuceClusterClientCoversAllSlots() throws Exception {
        String[] keyForSlot = new String[RedisCluster.SLOTS];
        int found = 0;
        for (int i = 0; found < RedisCluster.SLOTS; i++) {
            String key = "k" + i;
            int slot = RedisCluster.slot(key);
            if (keyForSlot[slot] == null) {
                keyForSlot[slot] = key;
                found++;
            }
        }
        List<RedisURI> seeds = cluster.seedUris().stream().map(RedisURI::create).collect(Collectors.toList());
        RedisClusterClient client = RedisClusterClient.create(seeds);
        try (StatefulRedisClusterConnection<String, String> connection = client.connect()) {
            connection.setTimeout(Duration.ofSeconds(10));
            RedisAdvancedClusterAsyncCommands<String, String> async = connection.async();
            List<RedisFuture<String>> sets = new ArrayList<>();
            for (String key : keyForSlot) {
                sets.add(async.set(key, "v-" + key));
            }
            for (RedisFuture<String> set : sets) {
                assertThat(set.get(10, TimeUnit.SECONDS)).isEqualTo("OK");
            }
            List<RedisFuture<String>> gets = new ArrayList<>();
            for (String key : keyForSlot) {
                gets.add(async.get(key));
            }
            for (int slot = 0; slot < RedisCluster.SLOTS; slot++) {
                assertThat(gets.get(slot).get(10, TimeUnit.SECONDS)).isEqualTo("v-" + keyForSlot[slot]);
            }
        } finally {
            client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        }

        // the client's routing and nodeFor agree, and every master got its share
        for (int slot = 0; slot < RedisCluster.SLOTS; slot += 997) {
            String key = keyForSlot[slot];
            assertThat(cluster.nodeFor(key).call("GET", key)).isEqualTo("v-" + key);
        }
        long total = 0;
        for (RedisServer node : cluster.nodes()) {
            long size = (Long) node.call("DBSIZE");
            assertThat(size).isPositive();
            total += size;
        }
        assertThat(total).isGreaterThanOrEqualTo(RedisCluster.SLOTS);
    }

    @Test
    @DisplayName("a killed master stops answering; restarted, it rejoins with its slots and the cluster is healthy")
    void killAndRestartNode() {
        RedisServer owner = cluster.nodeFor("restarted");
        int index = cluster.nodes().indexOf(owner);
        owner.call("SET", "restarted", "1");

        cluster.kill(index);
        assertThat(owner.isRunning()).isFalse();
        assertThatThrownBy(() -> owner.call("PING")).isInstanceOf(UncheckedIOException.class);

        cluster.restart(index);
        cluster.awaitHealthy(Duration.ofSeconds(30));
        assertThat(cluster.nodeFor("restarted")).isSameAs(owner);
        assertThat(owner.call("GET", "restarted")).isNull(); // no persistence: the data is gone, the slots are not
    }

    @Test
    @DisplayName("with a replica per master, killing a master promotes its replica, which has the data")
    void replicaTakesOver() {
        try (RedisCluster replicated = RedisCluster.builder().replicasPerMaster(1).build()) {
            replicated.start();
            assertThat(replicated.nodes()).hasSize(6);
            assertThat(replicated.masters()).containsExactlyElementsOf(replicated.nodes().subList(0, 3));

            RedisServer master = replicated.nodeFor("failover");
            // SET and WAIT on one connection: WAIT waits for the writes of its own connection only
            RedisClient client = RedisClient.create(master.uri());
            try (StatefulRedisConnection<String, String> connection = client.connect()) {
                connection.sync().set("failover", "kept");
                assertThat(connection.sync().waitForReplication(1, 2_000)).isEqualTo(1L);
            } finally {
                client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
            }
            master.kill();

            await().atMost(Duration.ofSeconds(30)).ignoreExceptions()
                    .until(() -> replicated.nodeFor("failover") != master);
            RedisServer promoted = replicated.nodeFor("failover");
            assertThat(promoted.call("GET", "failover")).isEqualTo("kept");

            replicated.heal(); // the old master comes back as a replica of the promoted one
            assertThat(replicated.masters()).hasSize(3).doesNotContain(master);
        }
    }

    @Test
    @DisplayName("the builder refuses fewer than three masters and negative replicas")
    void builderChecksArguments() {
        assertThatThrownBy(() -> RedisCluster.builder().masters(2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least 3").hasMessageContaining("2");
        assertThatThrownBy(() -> RedisCluster.builder().replicasPerMaster(-1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-1");
    }
}
