package io.distkit.testkit.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.IntStream;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryOneTime;
import org.apache.zookeeper.CreateMode;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The ZooKeeper fixture against curator-test servers and a real Curator client: kill, quorum loss, session expiry. */
class ZooKeeperClusterTest {

    @Nested
    @DisplayName("a single member")
    class SingleMember {

        @RegisterExtension
        static ZooKeeperCluster zk = ZooKeeperCluster.builder().build();

        @Test
        @DisplayName("creates and reads a node on its own loopback port")
        void answers() throws Exception {
            try (CuratorFramework client = client(zk.connectString())) {
                client.create().forPath("/single", bytes("v"));
                assertThat(client.getData().forPath("/single")).isEqualTo(bytes("v"));
                assertThat(zk.connectedMember(client.getZookeeperClient().getZooKeeper())).hasValue(0);
            }
            assertThat(zk.connectString()).startsWith("127.0.0.1:").doesNotEndWith(":2181");
            assertThat(zk.mode(0)).hasValue("standalone");
            assertThat(zk.leaderIndex()).hasValue(0);
        }

        @Test
        @DisplayName("killed, it stops answering; restarted, it still has the data")
        void killAndRestartKeepsData() throws Exception {
            try (CuratorFramework client = client(zk.connectString())) {
                client.create().forPath("/kept", bytes("1"));
                zk.killServer(0);
                assertThat(zk.isRunning(0)).isFalse();
                assertThat(zk.mode(0)).isEmpty();
                assertFailsOrTimesOut(() -> client.checkExists().forPath("/kept"));

                zk.restartServer(0);
                await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
                        .untilAsserted(() -> assertThat(client.getData().forPath("/kept")).isEqualTo(bytes("1")));
            }
        }
    }

    @Nested
    @DisplayName("three members")
    class ThreeMembers {

        @RegisterExtension
        static ZooKeeperCluster zk = ZooKeeperCluster.builder().members(3).build();

        @Test
        @DisplayName("one leader, two followers; a node written through one member is read through another")
        void answers() throws Exception {
            assertThat(IntStream.range(0, 3).mapToObj(zk::mode))
                    .map(mode -> mode.orElse("none")).containsExactlyInAnyOrder("leader", "follower", "follower");
            try (CuratorFramework writer = client(zk.connectString(0));
                    CuratorFramework reader = client(zk.connectString(2))) {
                writer.create().forPath("/three", bytes("v"));
                reader.sync().forPath("/three"); // a follower may lag; sync makes the read see the write
                await().atMost(Duration.ofSeconds(5))
                        .untilAsserted(() -> assertThat(reader.getData().forPath("/three")).isEqualTo(bytes("v")));
                assertThat(zk.connectedMember(writer.getZookeeperClient().getZooKeeper())).hasValue(0);
                assertThat(zk.connectedMember(reader.getZookeeperClient().getZooKeeper())).hasValue(2);
            }
        }

        @Test
        @DisplayName("serves with one member down, not with two; a restarted member brings the quorum back")
        void quorum() throws Exception {
            try (CuratorFramework client = client(zk.connectString())) {
                client.create().forPath("/q", bytes("0"));
                int first = zk.leaderIndex().orElseThrow();
                zk.killServer(first); // the leader: the other two must elect a new one first

                await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
                        .untilAsserted(() -> client.setData().forPath("/q", bytes("1")));
                assertThat(zk.leaderIndex()).isPresent().isNotEqualTo(OptionalInt.of(first));

                int second = (first + 1) % 3;
                int last = (first + 2) % 3;
                zk.killServer(second);
                await().atMost(Duration.ofSeconds(10)).until(() -> zk.mode(last).isEmpty());
                assertFailsOrTimesOut(() -> client.setData().forPath("/q", bytes("2")));

                zk.restartServer(first);
                assertThat(zk.mode(first)).isPresent();
                await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
                        .untilAsserted(() -> assertThat(client.getData().forPath("/q")).isEqualTo(bytes("1")));
            }
        }

        @Test
        @DisplayName("an expired session loses its ephemeral node and the client is told LOST")
        void sessionExpiry() throws Exception {
            try (CuratorFramework holder = client(zk.connectString());
                    CuratorFramework observer = client(zk.connectString())) {
                List<ConnectionState> states = new CopyOnWriteArrayList<>();
                holder.getConnectionStateListenable().addListener((c, state) -> states.add(state));
                holder.create().withMode(CreateMode.EPHEMERAL).forPath("/ephemeral", bytes("mine"));
                long session = holder.getZookeeperClient().getZooKeeper().getSessionId();

                zk.expireSession(holder.getZookeeperClient().getZooKeeper());

                await().atMost(Duration.ofSeconds(10)).until(() -> states.contains(ConnectionState.LOST));
                await().atMost(Duration.ofSeconds(5)).ignoreExceptions()
                        .until(() -> observer.checkExists().forPath("/ephemeral") == null);
                // Curator opens a fresh session afterwards, and it works
                await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
                        .until(() -> holder.getZookeeperClient().getZooKeeper().getSessionId() != session
                                && holder.checkExists().forPath("/") != null);
            }
        }
    }

    /** A started client with short timeouts, so that a request to a dead ensemble fails within seconds. */
    private static CuratorFramework client(String connectString) throws InterruptedException {
        CuratorFramework client = CuratorFrameworkFactory.builder()
                .connectString(connectString)
                .sessionTimeoutMs(4_000)
                .connectionTimeoutMs(2_000)
                .retryPolicy(new RetryOneTime(100))
                .build();
        client.start();
        if (!client.blockUntilConnected(10, TimeUnit.SECONDS)) {
            client.close();
            throw new IllegalStateException("no connection to " + connectString + " within 10 s");
        }
        return client;
    }

    private static void assertFailsOrTimesOut(Callable<?> request) {
        CompletableFuture<Object> call = CompletableFuture.supplyAsync(() -> {
            try {
                return request.call();
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        });
        assertThatThrownBy(() -> call.get(5, TimeUnit.SECONDS))
                .isInstanceOfAny(ExecutionException.class, TimeoutException.class);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
