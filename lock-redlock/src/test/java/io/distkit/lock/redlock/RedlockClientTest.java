package io.distkit.lock.redlock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockClients;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.server.RedisServer;
import io.distkit.testkit.server.RedisServer.Persistence;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The client's own rules on three masters that sync before every reply (so the default restart safeguard
 * counts their votes at once), a fourth plain master (no persistence, just started: the safeguard keeps its
 * votes out) and a replica: the fencing write-back, what the builder refuses, the URI and the young-node
 * message.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RedlockClientTest {

    @RegisterExtension
    static RedisServer a = RedlockContractSupport.node();
    @RegisterExtension
    static RedisServer b = RedlockContractSupport.node();
    @RegisterExtension
    static RedisServer c = RedlockContractSupport.node();
    @RegisterExtension
    static RedisServer plain = RedisServer.builder().persistence(Persistence.NONE).build();
    @RegisterExtension
    static RedisServer replica = RedisServer.builder().replicaOf(plain).build();

    private static List<String> uris(RedisServer... servers) {
        return Stream.of(servers).map(RedisServer::uri).toList();
    }

    private static String fenceKey(String name) {
        return RedlockClient.lockKey(RedlockClient.DEFAULT_KEY_PREFIX, name) + ":fence";
    }

    private static long fence(RedisServer server, String name) {
        Object value = server.call("GET", fenceKey(name));
        return value == null ? 0 : Long.parseLong((String) value);
    }

    @Test
    @DisplayName("a granting node whose fence is ahead of the proposal: the larger token is written back to the"
            + " quorum, so a later quorum without that node still draws a larger token")
    void aFenceAheadIsWrittenBackToTheQuorum() throws Exception {
        String name = "fence-ahead-" + System.nanoTime();
        long ahead = 9_000_000_000_000_000L; // far above any clock in microseconds
        a.call("SET", fenceKey(name), Long.toString(ahead));
        try (LockClient first = RedlockClient.builder(uris(a, b, c)).build()) {
            c.kill(); // the quorum is a and b: a answers ahead + 1, b the proposal
            LockHandle handle = first.lock(name).acquire();
            long token = handle.fencingToken();
            handle.release();
            assertThat(token).isEqualTo(ahead + 1);
            assertThat(fence(b, name)).as("b's fence after the write-back").isEqualTo(token);

            c.restart();
            try (LockClient second = RedlockClient.builder(uris(a, b, c)).build()) {
                a.kill(); // the quorum is b and c now: only the write-back to b carries the token over
                long next = second.lock(name).acquire().fencingToken();
                assertThat(next).isGreaterThan(token);
            }
        } finally {
            for (RedisServer server : List.of(a, c)) {
                if (!server.isRunning()) {
                    server.restart();
                }
            }
        }
    }

    @Test
    @DisplayName("the uncontended path: every granting node took the proposed token, and it exceeds the last one")
    void theProposedTokenLandsOnEveryGrantingNode() throws Exception {
        String name = "proposed-" + System.nanoTime();
        try (LockClient client = RedlockClient.builder(uris(a, b, c)).build()) {
            long previous = 0;
            for (int i = 0; i < 5; i++) {
                LockHandle handle = client.lock(name).acquire();
                long token = handle.fencingToken();
                assertThat(token).isGreaterThan(previous);
                assertThat(Stream.of(a, b, c).filter(s -> fence(s, name) == token).count()).isGreaterThanOrEqualTo(2);
                handle.release();
                previous = token;
            }
        }
    }

    @Test
    @DisplayName("fewer than 3 nodes, an even number, the same node twice, the same server under two names, a"
            + " replica: refused with a message saying why")
    void unusableNodeSetsAreRefused() {
        assertThatThrownBy(() -> RedlockClient.builder(uris(a, b)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("odd number").hasMessageContaining("at least 3");
        assertThatThrownBy(() -> RedlockClient.builder(uris(a, b, c, plain)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("even number");
        assertThatThrownBy(() -> RedlockClient.builder(List.of(a.uri(), b.uri(), a.uri())).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("named twice");
        String sameServer = "redis://localhost:" + a.port();
        assertThatThrownBy(() -> RedlockClient.builder(List.of(a.uri(), b.uri(), sameServer)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("same Redis server")
                .hasMessageContaining("run_id");
        assertThatThrownBy(() -> RedlockClient.builder(uris(a, b, replica)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("replica");
    }

    @Test
    @DisplayName("a node that may evict keys when full (maxmemory with a policy other than noeviction) is refused")
    void aNodeThatMayEvictLockKeysIsRefused() throws Exception {
        try (RedisServer evicting = RedisServer.builder().persistence(Persistence.AOF_ALWAYS)
                .args("--maxmemory", "100mb", "--maxmemory-policy", "volatile-lru").build()) {
            evicting.start();
            assertThatThrownBy(() -> RedlockClient.builder(uris(a, b, evicting)).build())
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(evicting.port() + "")
                    .hasMessageContaining("volatile-lru").hasMessageContaining("noeviction");
            evicting.call("CONFIG", "SET", "maxmemory-policy", "noeviction");
            try (LockClient client = RedlockClient.builder(uris(a, b, evicting)).build()) {
                assertThat(client.lock("evicting").tryAcquire()).isPresent();
            }
        }
    }

    @Test
    @DisplayName("a lease below 10 node timeouts or above maxLeaseTime is refused, naming both values")
    void leasesOutsideTheRulesAreRefused() {
        assertThatThrownBy(() -> RedlockClient.builder(uris(a, b, c)).nodeTimeout(Duration.ofMillis(200))
                .defaultOptions(LockOptions.builder().leaseTime(Duration.ofSeconds(1)).build()).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("PT1S").hasMessageContaining("PT0.2S");
        try (LockClient client = RedlockClient.builder(uris(a, b, c)).maxLeaseTime(Duration.ofSeconds(10))
                .defaultOptions(LockOptions.builder().leaseTime(Duration.ofSeconds(10)).build()).build()) {
            assertThatThrownBy(() -> client.lock("long", LockOptions.builder().leaseTime(Duration.ofSeconds(11)).build()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxLeaseTime");
        }
    }

    @Test
    @DisplayName("REQUIRE_FSYNC_ALWAYS refuses a node without appendfsync always")
    void requireFsyncAlwaysRefusesAPlainNode() {
        RedlockClient.Builder builder = RedlockClient.builder(uris(a, b, plain))
                .restartSafeguard(RestartSafeguard.REQUIRE_FSYNC_ALWAYS);
        assertThatThrownBy(builder::build).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(plain.port() + "").hasMessageContaining("appendfsync always");
    }

    @Test
    @DisplayName("a young node without fsync does not vote: with two of them out of three, tryAcquire says which"
            + " nodes and when their votes count; with one, the others still form a quorum")
    void youngNodesDoNotVoteAndTheMessageSaysWhen() throws Exception {
        try (RedisServer young = RedisServer.builder().persistence(Persistence.NONE).build()) {
            young.start();
            try (LockClient twoYoung = RedlockClient.builder(uris(a, plain, young)).build()) {
                assertThatThrownBy(() -> twoYoung.lock("young").tryAcquire())
                        .isInstanceOf(LockBackendException.class)
                        .hasMessageContaining("no quorum of 2 of 3")
                        .hasMessageContaining(plain.port() + "").hasMessageContaining(young.port() + "")
                        .hasMessageContaining("maxLeaseTime");
            }
            try (LockClient oneYoung = RedlockClient.builder(uris(a, b, young)).build()) {
                assertThat(oneYoung.lock("young").tryAcquire()).isPresent();
            }
            // with the safeguard off, the same nodes vote at once
            try (LockClient unsafe = RedlockClient.builder(uris(a, plain, young))
                    .restartSafeguard(RestartSafeguard.NONE).build()) {
                assertThat(unsafe.lock("young-unsafe").tryAcquire()).isPresent();
            }
        }
    }

    @Test
    @DisplayName("redlock:// URIs through LockClients.connect, with query parameters; malformed ones name the problem")
    void uris() throws Exception {
        String hosts = Stream.of(a, b, c).map(s -> s.host() + ":" + s.port()).collect(Collectors.joining(","));
        try (LockClient client = LockClients.connect(URI.create("redlock://" + hosts + "?maxLeaseTime=2m&nodeTimeout=50ms"))) {
            LockHandle handle = client.lock("by-uri", LockOptions.builder().leaseTime(Duration.ofMinutes(2)).build())
                    .tryAcquire().orElseThrow();
            handle.release();
        }
        assertThatThrownBy(() -> RedlockClient.builder("redlock://" + hosts + "?maxLease=2m"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unknown parameter 'maxLease'");
        assertThatThrownBy(() -> RedlockClient.builder("redlock://" + hosts + "/x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("database number");
        assertThatThrownBy(() -> RedlockClient.builder("redlock://user:secret@" + hosts + "?nodeTimeout=soon"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a duration")
                .hasMessageNotContaining("secret");
        assertThatThrownBy(() -> RedlockClient.builder(List.of("redis-sentinel://x:26379#m", a.uri(), b.uri())))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("redis:// or rediss://");
    }
}
