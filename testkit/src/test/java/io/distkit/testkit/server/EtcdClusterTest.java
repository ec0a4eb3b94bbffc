package io.distkit.testkit.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.options.GetOption;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The etcd fixture against real etcd processes and a real jetcd client: members crash, pause, restart, fail over. */
class EtcdClusterTest {

    /** Generous for one request to a healthy cluster on a loaded machine; failures are asserted with far less. */
    private static final long REQUEST_SECONDS = 5;

    @Nested
    @DisplayName("a single member")
    class SingleMember {

        @RegisterExtension
        static EtcdCluster etcd = EtcdCluster.builder().build();

        @Test
        @DisplayName("answers a put and a get on its own port")
        void answers() throws Exception {
            try (Client client = client(etcd.endpoints())) {
                put(client.getKVClient(), "k", "v");
                assertThat(get(client.getKVClient(), "k")).contains("v");
            }
            assertThat(etcd.endpoints()).singleElement().asString().startsWith("http://127.0.0.1:").doesNotEndWith(":2379");
            assertThat(etcd.leaderIndex()).isEqualTo(OptionalInt.of(0));
        }

        @Test
        @DisplayName("counts the requests it received from /metrics: three puts and a get are three KV.Put, one KV.Range, three proposals")
        void requestCounts() throws Exception {
            try (Client client = client(etcd.endpoints())) {
                put(client.getKVClient(), "warm", "up"); // the client's connection is set up outside the window
                java.util.SortedMap<String, Long> before = etcd.member(0).requestCounts();
                for (int i = 0; i < 3; i++) {
                    put(client.getKVClient(), "counted", Integer.toString(i));
                }
                get(client.getKVClient(), "counted");
                java.util.SortedMap<String, Long> counted = EtcdCluster.countsBetween(before, etcd.member(0).requestCounts());
                assertThat(counted).containsEntry("KV.Put", 3L).containsEntry("KV.Range", 1L).containsEntry("raft", 3L)
                        .doesNotContainKeys("Maintenance.Status", "Health.Check");
                assertThat(before).containsKey("KV.Put");
            }
        }

        @Test
        @DisplayName("killed, it stops answering; restarted, it still has the data (etcd fsyncs every write)")
        void killAndRestartKeepsData() throws Exception {
            try (Client client = client(etcd.endpoints())) {
                KV kv = client.getKVClient();
                put(kv, "kept", "1");
                long pid = etcd.member(0).pid();

                etcd.member(0).kill();
                assertThat(etcd.member(0).isRunning()).isFalse();
                assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).isNotEqualTo(Optional.of(true));
                assertThatThrownBy(() -> kv.get(bytes("kept")).get(1, TimeUnit.SECONDS))
                        .isInstanceOfAny(TimeoutException.class, ExecutionException.class);

                etcd.member(0).restart();
                // the same client reconnects by itself; its gRPC back-off decides how soon
                await().atMost(Duration.ofSeconds(15)).ignoreExceptions()
                        .untilAsserted(() -> assertThat(get(kv, "kept")).contains("1"));
            }
        }

        @Test
        @DisplayName("paused, a request times out; resumed, it succeeds")
        void pauseAndResume() throws Exception {
            try (Client client = client(etcd.endpoints())) {
                KV kv = client.getKVClient();
                put(kv, "p", "1");
                etcd.member(0).pause();
                try {
                    assertThatThrownBy(() -> kv.get(bytes("p")).get(500, TimeUnit.MILLISECONDS))
                            .isInstanceOf(TimeoutException.class);
                    assertThat(etcd.leaderIndex()).isEmpty();
                } finally {
                    etcd.member(0).resume();
                }
                assertThat(get(kv, "p")).contains("1");
            }
        }
    }

    @Nested
    @DisplayName("three members")
    class ThreeMembers {

        @RegisterExtension
        static EtcdCluster etcd = EtcdCluster.builder().members(3).build();

        @Test
        @DisplayName("serve a put and a get through every member, and agree on one leader")
        void answers() throws Exception {
            try (Client client = client(etcd.endpoints())) {
                put(client.getKVClient(), "k3", "v3");
            }
            for (EtcdCluster.Member member : etcd.members()) {
                try (Client direct = client(List.of(member.endpoint()))) {
                    assertThat(get(direct.getKVClient(), "k3")).as("via %s", member).contains("v3");
                }
            }
            int leader = etcd.awaitLeader(Duration.ofSeconds(10));
            assertThat(etcd.members()).allSatisfy(member -> assertThat(member.status()).hasValueSatisfying(
                    status -> assertThat(status.leaderId()).isEqualTo(etcd.member(leader).status().orElseThrow().memberId())));
        }

        @Test
        @DisplayName("when the leader is killed the other two elect a new one and serve writes; restarted, it catches up")
        void leaderFailover() throws Exception {
            int oldLeader = etcd.awaitLeader(Duration.ofSeconds(10));
            etcd.member(oldLeader).kill();

            await().atMost(Duration.ofSeconds(15))
                    .until(() -> etcd.leaderIndex().isPresent() && etcd.leaderIndex().getAsInt() != oldLeader);
            List<String> survivors = etcd.members().stream().filter(m -> m.index() != oldLeader)
                    .map(EtcdCluster.Member::endpoint).collect(Collectors.toList());
            try (Client client = client(survivors)) {
                put(client.getKVClient(), "after-failover", "yes");
            }

            etcd.member(oldLeader).restart();
            try (Client direct = client(List.of(etcd.member(oldLeader).endpoint()))) {
                // serializable: answered from the restarted member's own store, so this shows it caught up
                GetOption local = GetOption.newBuilder().withSerializable(true).build();
                await().atMost(Duration.ofSeconds(10)).ignoreExceptions().untilAsserted(() -> assertThat(
                        direct.getKVClient().get(bytes("after-failover"), local).get(2, TimeUnit.SECONDS).getKvs())
                        .extracting(kv -> kv.getValue().toString(StandardCharsets.UTF_8)).containsExactly("yes"));
            }
        }

        @Test
        @DisplayName("with two members down there is no quorum: a write times out; healed, it succeeds")
        void quorumLoss() throws Exception {
            int leader = etcd.awaitLeader(Duration.ofSeconds(10));
            int keep = (leader + 1) % 3;
            try (Client client = client(List.of(etcd.member(keep).endpoint()))) {
                put(client.getKVClient(), "before", "1");
                etcd.members().stream().filter(m -> m.index() != keep).forEach(EtcdCluster.Member::kill);

                assertThatThrownBy(() -> client.getKVClient().put(bytes("lost"), bytes("1")).get(2, TimeUnit.SECONDS))
                        .isInstanceOfAny(TimeoutException.class, ExecutionException.class);

                etcd.heal();
                assertThat(etcd.members()).allMatch(EtcdCluster.Member::isRunning);
                await().atMost(Duration.ofSeconds(10)).ignoreExceptions()
                        .untilAsserted(() -> put(client.getKVClient(), "after-heal", "1"));
            }
        }
    }

    private static Client client(List<String> endpoints) {
        return Client.builder().endpoints(endpoints.toArray(String[]::new)).build();
    }

    private static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    private static void put(KV kv, String key, String value) throws Exception {
        kv.put(bytes(key), bytes(value)).get(REQUEST_SECONDS, TimeUnit.SECONDS);
    }

    private static Optional<String> get(KV kv, String key) throws Exception {
        List<KeyValue> kvs = kv.get(bytes(key)).get(REQUEST_SECONDS, TimeUnit.SECONDS).getKvs();
        return kvs.stream().findFirst().map(kv2 -> kv2.getValue().toString(StandardCharsets.UTF_8));
    }
}
