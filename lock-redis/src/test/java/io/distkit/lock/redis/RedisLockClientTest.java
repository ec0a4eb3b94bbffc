package io.distkit.lock.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockClients;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.lock.redis.internal.LockKeys;
import io.distkit.lock.redis.internal.Script;
import io.distkit.testkit.Closer;
import io.distkit.testkit.server.RedisServer;
import io.lettuce.core.RedisClient;
import io.lettuce.core.cluster.RedisClusterClient;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The Redis client beyond the contract: builder rules, URI factory, connection failures, cleanup, scripts, wake-ups. */
class RedisLockClientTest {

    @RegisterExtension
    static RedisServer redis = RedisServer.builder().build();

    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    /** A prefix of its own per test: commands and keys of one test are told apart from the rest. */
    private static String freshPrefix() {
        return "test:" + UUID.randomUUID() + ":";
    }

    private LockClient client(String prefix) {
        return toClose.add(RedisLockClient.builder(redis.uri()).keyPrefix(prefix).build());
    }

    // ---- builder -------------------------------------------------------------------------------------

    @Test
    @DisplayName("the builder refuses bad arguments at once, naming the argument and the rule")
    void builderValidatesItsArguments() {
        RedisLockClient.Builder builder = RedisLockClient.builder(redis.uri());
        assertThatThrownBy(() -> builder.keyPrefix(null)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("keyPrefix");
        assertThatThrownBy(() -> builder.keyPrefix(" ")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("keyPrefix").hasMessageContaining("blank");
        assertThatThrownBy(() -> builder.keyPrefix("locks{x}:")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("keyPrefix").hasMessageContaining("'{'");
        assertThatThrownBy(() -> builder.keyPrefix("p".repeat(201))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at most 200");
        assertThatThrownBy(() -> builder.defaultOptions(null)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("defaultOptions");
        assertThatThrownBy(() -> builder.waitForReplicas(0, Duration.ofMillis(100)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 1 replica, was 0");
        assertThatThrownBy(() -> builder.waitForReplicas(-1, Duration.ofMillis(100)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("was -1");
        assertThatThrownBy(() -> builder.waitForReplicas(1, Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("timeout must be positive");
        assertThatThrownBy(() -> builder.waitForReplicas(1, Duration.ofMillis(-5)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("timeout must be positive");
        assertThatThrownBy(() -> builder.waitForReplicas(1, null)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("timeout");
        assertThatThrownBy(() -> builder.commandTimeout(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("commandTimeout must be positive");
        assertThatThrownBy(() -> RedisLockClient.builder((RedisClient) null)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("redisClient");
        assertThatThrownBy(() -> RedisLockClient.builder((RedisClusterClient) null))
                .isInstanceOf(NullPointerException.class).hasMessageContaining("clusterClient");
        assertThatThrownBy(() -> RedisLockClient.builder((String) null)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("uri");
    }

    @Test
    @DisplayName("malformed URIs are refused with the reason and the accepted forms; the password is never shown")
    void malformedUrisAreRefused() {
        assertThatThrownBy(() -> RedisLockClient.builder("http://localhost:6379"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("scheme must be one of")
                .hasMessageContaining("redis://host:port");
        assertThatThrownBy(() -> RedisLockClient.builder("redis://")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("malformed redis URI 'redis://'");
        assertThatThrownBy(() -> RedisLockClient.builder("redis:///0")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no host");
        assertThatThrownBy(() -> RedisLockClient.builder("redis://localhost:99999"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("port must be a number from 1 to 65535");
        assertThatThrownBy(() -> RedisLockClient.builder("redis://:secret@localhost:port"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'port'")
                .hasMessageNotContaining("secret");
        assertThatThrownBy(() -> RedisLockClient.builder("redis://h1:1,,h2:2"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("empty entry");
        assertThatThrownBy(() -> RedisLockClient.builder("redis://localhost/notadb"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("database number");
        assertThatThrownBy(() -> RedisLockClient.builder("redis-sentinel://localhost:26379"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must name the master");
        assertThatThrownBy(() -> LockClients.connect("redis://localhost:0"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("port");
    }

    @Test
    @DisplayName("options that conflict with waitForReplicas are refused before any connection is made")
    void replicaTimeoutMustFitTheLease() {
        assertThatThrownBy(() -> RedisLockClient.builder("redis://127.0.0.1:" + unusedPort())
                .defaultOptions(LockOptions.builder().leaseTime(Duration.ofSeconds(1)).build())
                .waitForReplicas(1, Duration.ofMillis(600)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("half the leaseTime");
        LockClient client = toClose.add(RedisLockClient.builder(redis.uri()).waitForReplicas(1, Duration.ofMillis(300))
                .build());
        assertThatThrownBy(() -> client.lock("x", LockOptions.builder().leaseTime(Duration.ofMillis(500)).build()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("half the leaseTime");
    }

    // ---- connecting ----------------------------------------------------------------------------------

    @Test
    @DisplayName("LockClients.connect finds the Redis backend for redis:// URIs")
    void connectsByUri() throws Exception {
        LockClient client = toClose.add(LockClients.connect("redis://127.0.0.1:" + redis.port()));
        assertThat(client.toString()).contains("redis 127.0.0.1:" + redis.port());
        String name = "by-uri-" + UUID.randomUUID();
        LockHandle handle = client.lock(name).tryAcquire().orElseThrow();
        assertThat(redis.call("EXISTS", RedisLockClient.lockKey(RedisLockClient.DEFAULT_KEY_PREFIX, name))).isEqualTo(1L);
        handle.release();
        assertThat(redis.call("EXISTS", RedisLockClient.lockKey(RedisLockClient.DEFAULT_KEY_PREFIX, name))).isEqualTo(0L);
    }

    @Test
    @DisplayName("a Lettuce RedisClient supplied by the caller is used, and not shut down by close()")
    void suppliedClientIsNotShutDown() throws Exception {
        RedisClient lettuce = RedisClient.create(redis.uri());
        try {
            String prefix = freshPrefix();
            LockClient client = RedisLockClient.builder(lettuce).keyPrefix(prefix).build();
            assertThat(client.toString()).contains("redis 127.0.0.1:" + redis.port());
            LockClient other = RedisLockClient.builder(lettuce).keyPrefix(prefix).build();
            LockHandle held = other.lock("supplied").acquire();
            CompletableFuture<LockHandle> waiting = client.lock("supplied").acquireAsync(Duration.ofSeconds(10));
            // the waiter subscribes through a pub/sub connection of the supplied client
            await().atMost(Duration.ofSeconds(5)).until(() -> numsub(prefix + "{supplied}:released") == 1);
            held.release();
            waiting.get(5, TimeUnit.SECONDS).release();
            client.close();
            other.close();
            try (var connection = lettuce.connect()) {
                assertThat(connection.sync().ping()).isEqualTo("PONG");
            }
        } finally {
            lettuce.shutdown();
        }
    }

    @Test
    @DisplayName("an unreachable Redis gives LockBackendException naming the endpoint and what to check, in bounded time")
    void unreachableRedisFailsClearly() {
        int port = unusedPort();
        long start = System.nanoTime();
        assertThatThrownBy(() -> RedisLockClient.builder("redis://127.0.0.1:" + port)
                .commandTimeout(Duration.ofSeconds(2)).build())
                .isInstanceOf(LockBackendException.class)
                .hasMessageContaining("127.0.0.1:" + port)
                .hasMessageContaining("check that Redis is running");
        assertThatThrownBy(() -> LockClients.connect("redis://127.0.0.1:" + port))
                .isInstanceOf(LockBackendException.class).hasMessageContaining("127.0.0.1:" + port);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    @DisplayName("a server that is gone after build fails acquire with LockBackendException naming the lock and endpoint")
    void serverGoneAfterBuildFailsClearly() throws Exception {
        try (RedisServer doomed = RedisServer.builder().build()) {
            doomed.start();
            LockClient client = toClose.add(RedisLockClient.builder(doomed.uri()).commandTimeout(Duration.ofSeconds(1))
                    .build());
            doomed.kill();
            long start = System.nanoTime();
            assertThatThrownBy(() -> client.lock("gone").tryAcquire())
                    .isInstanceOf(LockBackendException.class)
                    .hasMessageContaining("lock 'gone'")
                    .hasMessageContaining("acquire")
                    .hasMessageContaining("127.0.0.1:" + doomed.port());
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        }
    }

    // ---- cleanup -------------------------------------------------------------------------------------

    @Test
    @DisplayName("after close() no lock key of the client remains; only fence counters stay")
    void closeLeavesOnlyFences() throws Exception {
        String prefix = freshPrefix();
        LockClient client = RedisLockClient.builder(redis.uri()).keyPrefix(prefix).build();
        LockClient blocker = client(prefix);
        LockHandle blocking = blocker.lock("blocked").acquire();
        client.lock("a").acquire();
        client.lock("b").acquire();
        client.lock("b").acquire(); // reentrant
        client.lock("c", LockOptions.builder().autoRenew(false).build()).acquire();
        assertThat(client.lock("blocked").tryAcquire(Duration.ofMillis(200))).isEmpty();
        CompletableFuture<LockHandle> waiting = client.lock("blocked").acquireAsync(Duration.ofSeconds(30));
        await().atMost(Duration.ofSeconds(5)).until(() -> numsub(prefix + "{blocked}:released") == 1);

        client.close();

        assertThat(waiting).isCompletedExceptionally();
        assertThat(keys(prefix)).containsExactlyInAnyOrder(prefix + "{a}:fence", prefix + "{b}:fence",
                prefix + "{c}:fence", prefix + "{blocked}:fence", prefix + "{blocked}");
        await().atMost(Duration.ofSeconds(5)).until(() -> numsub(prefix + "{blocked}:released") == 0);
        blocking.release();
        assertThat(keys(prefix)).allMatch(key -> key.endsWith(":fence"));
    }

    // ---- scripts -------------------------------------------------------------------------------------

    @Test
    @DisplayName("scripts survive SCRIPT FLUSH: EVALSHA gets NOSCRIPT once, EVAL runs and reloads the script")
    void scriptsSurviveScriptFlush() throws Exception {
        String prefix = freshPrefix();
        LockClient client = client(prefix);
        client.lock("warm").acquire().release(); // both scripts cached
        redis.call("SCRIPT", "FLUSH");
        long evalBefore = calls("eval");

        LockHandle handle = client.lock("after-flush",
                LockOptions.builder().leaseTime(Duration.ofMillis(600)).build()).acquire();
        assertThat(calls("eval") - evalBefore).as("EVAL after NOSCRIPT on acquire").isEqualTo(1);
        await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(5)).until(handle::isHeld); // renewals
        assertThat(calls("eval") - evalBefore).as("EVAL after NOSCRIPT on renew").isEqualTo(2);
        handle.release();
        assertThat(calls("eval") - evalBefore).as("EVAL after NOSCRIPT on release").isEqualTo(3);
        assertThat(keys(prefix)).containsExactlyInAnyOrder(prefix + "{warm}:fence", prefix + "{after-flush}:fence");

        long evalshaBefore = calls("evalsha");
        client.lock("cached-again").acquire().release();
        assertThat(calls("eval") - evalBefore).as("no EVAL once the scripts are back").isEqualTo(3);
        assertThat(calls("evalsha") - evalshaBefore).isEqualTo(2);
    }

    @Test
    @DisplayName("the scripts: acquire is idempotent per owner value, tokens grow past a lost fence, others' locks are untouched")
    void scriptsKeepTheirInvariants() throws Exception {
        String prefix = freshPrefix();
        LockKeys keys = LockKeys.of(prefix, "scripted");
        String acquire = script("acquire.lua");
        String release = script("release.lua");
        String renew = script("renew.lua");

        List<?> first = (List<?>) redis.call("EVAL", acquire, "2", keys.lock(), keys.fence(), "owner-1", "10000");
        assertThat(first.get(0)).isEqualTo(1L);
        long token = (Long) first.get(1);
        assertThat(token).as("seeded from the server clock in microseconds")
                .isGreaterThan((System.currentTimeMillis() - 60_000) * 1000);
        Object again = redis.call("EVAL", acquire, "2", keys.lock(), keys.fence(), "owner-1", "10000");
        assertThat(again).as("a re-sent acquire of the same acquisition").isEqualTo(List.of(1L, token));
        List<?> other = (List<?>) redis.call("EVAL", acquire, "2", keys.lock(), keys.fence(), "owner-2", "10000");
        assertThat(other.get(0)).isEqualTo(0L);
        assertThat((Long) other.get(1)).as("the holder's PTTL").isBetween(1L, 10_000L);

        assertThat(redis.call("EVAL", release, "2", keys.lock(), keys.channel(), "owner-2")).isEqualTo(0L);
        assertThat(redis.call("EVAL", renew, "1", keys.lock(), "owner-2", "50000")).isEqualTo(List.of(0L));
        assertThat((Long) redis.call("PTTL", keys.lock())).as("a stranger's renew left the TTL").isLessThanOrEqualTo(10_000L);
        assertThat(redis.call("EVAL", renew, "1", keys.lock(), "owner-1", "50000")).isEqualTo(List.of(1L));
        assertThat((Long) redis.call("PTTL", keys.lock())).isGreaterThan(10_000L);
        assertThat(redis.call("GET", keys.lock())).isEqualTo("owner-1");
        assertThat(redis.call("EVAL", release, "2", keys.lock(), keys.channel(), "owner-1")).isEqualTo(1L);
        assertThat(redis.call("EXISTS", keys.lock())).isEqualTo(0L);

        redis.call("DEL", keys.fence()); // a restarted server without persistence
        List<?> afterLoss = (List<?>) redis.call("EVAL", acquire, "2", keys.lock(), keys.fence(), "owner-3", "10000");
        assertThat((Long) afterLoss.get(1)).as("still above every earlier token").isGreaterThan(token);
    }

    private static String script(String name) throws IOException {
        try (var in = Script.class.getResourceAsStream(name)) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    @Test
    @DisplayName("renewal is batched: one script call per pass renews every lock the client holds")
    void renewalIsBatched() throws Exception {
        String prefix = freshPrefix();
        LockClient client = client(prefix);
        LockOptions shortLease = LockOptions.builder().leaseTime(Duration.ofMillis(900)).build();
        List<LockHandle> handles = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            handles.add(client.lock("batch-" + i, shortLease).acquire());
        }
        long before = calls("evalsha");
        Thread.sleep(2_000); // about six renewal passes of 300 ms
        long renewCalls = calls("evalsha") - before;

        assertThat(handles).allMatch(LockHandle::isHeld);
        assertThat(renewCalls).as("renew calls in 2 s for 20 locks (one each would be ~130)").isBetween(3L, 12L);
    }

    // ---- waking ----------------------------------------------------------------------------------------

    @Test
    @DisplayName("each release wakes exactly one of four local waiters: one subscription, one attempt per hand-off")
    void oneReleaseWakesOneLocalWaiter() throws Exception {
        String prefix = freshPrefix();
        String channel = prefix + "{handoff}:released";
        LockOptions longLease = LockOptions.builder().leaseTime(Duration.ofSeconds(60)).reentrant(false).build();
        LockClient holder = RedisLockClient.builder(redis.uri()).keyPrefix(prefix).defaultOptions(longLease).build();
        toClose.add(holder);
        LockClient waiters = RedisLockClient.builder(redis.uri()).keyPrefix(prefix).defaultOptions(longLease).build();
        toClose.add(waiters);

        long start = calls("evalsha");
        LockHandle current = holder.lock("handoff").acquire();
        List<CompletableFuture<LockHandle>> waiting = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            waiting.add(waiters.lock("handoff").acquireAsync(Duration.ofSeconds(50)));
        }
        // each waiter: one attempt without subscribing, then one once subscribed; then silence
        await().atMost(Duration.ofSeconds(5)).until(() -> calls("evalsha") - start == 1 + 4 * 2);
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5))
                .until(() -> calls("evalsha") - start == 1 + 4 * 2);
        assertThat(numsub(channel)).as("one subscription for four waiters").isEqualTo(1);

        for (int handoff = 1; handoff <= 4; handoff++) {
            long before = calls("evalsha");
            current.release();
            int expectedDone = handoff;
            await().atMost(Duration.ofSeconds(5)).until(() -> done(waiting) == expectedDone);
            await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5)).until(() -> done(waiting) == expectedDone);
            assertThat(calls("evalsha") - before).as("hand-off %d: the release and one woken attempt", handoff)
                    .isEqualTo(2);
            current = waiting.stream().filter(f -> f.isDone() && f.join().isHeld()).findFirst().orElseThrow().join();
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> numsub(channel) == 0); // no local waiter left
        current.release();
    }

    // ---- waitForReplicas -------------------------------------------------------------------------------

    @Test
    @DisplayName("waitForReplicas: with a replica the lock is taken; without one the acquire fails, naming n, acks and timeout, and leaves no lock")
    void waitForReplicas() throws Exception {
        // disk-based sync: after a diskless one the master streams writes only from the replica's first
        // REPLCONF ACK (up to a second later), and WAIT rightly reports 0 until then
        try (RedisServer master = RedisServer.builder().args("--repl-diskless-sync", "no").build()) {
            master.start();
            LockClient alone = toClose.add(RedisLockClient.builder(master.uri())
                    .waitForReplicas(1, Duration.ofMillis(200)).build());
            assertThatThrownBy(() -> alone.lock("replicated").tryAcquire())
                    .isInstanceOf(LockBackendException.class)
                    .hasMessageContaining("lock 'replicated'")
                    .hasMessageContaining("only 0 of 1 replicas")
                    .hasMessageContaining("PT0.2S");
            await().atMost(Duration.ofSeconds(5)).until(() -> master.call("EXISTS",
                    RedisLockClient.lockKey(RedisLockClient.DEFAULT_KEY_PREFIX, "replicated")).equals(0L));

            try (RedisServer replica = RedisServer.builder().replicaOf(master).build()) {
                replica.start();
                await().atMost(Duration.ofSeconds(10))
                        .until(() -> String.valueOf(master.call("INFO", "replication")).contains("state=online"));
                Optional<LockHandle> handle = alone.lock("replicated").tryAcquire();
                assertThat(handle).isPresent();
                String key = RedisLockClient.lockKey(RedisLockClient.DEFAULT_KEY_PREFIX, "replicated");
                assertThat(replica.call("EXISTS", key)).as("on the replica when acquire returns").isEqualTo(1L);
                handle.get().release();
            }
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------------

    private static int done(List<CompletableFuture<LockHandle>> futures) {
        return (int) futures.stream().filter(CompletableFuture::isDone).count();
    }

    private static List<String> keys(String prefix) {
        List<String> keys = new ArrayList<>();
        for (Object key : (List<?>) redis.call("KEYS", prefix + "*")) {
            keys.add((String) key);
        }
        return keys;
    }

    private static long numsub(String channel) {
        return (Long) ((List<?>) redis.call("PUBSUB", "NUMSUB", channel)).get(1);
    }

    /** Calls of one command so far, from {@code INFO commandstats} (no MONITOR). */
    private static long calls(String command) {
        String stats = (String) redis.call("INFO", "commandstats");
        for (String line : stats.split("\r\n")) {
            if (line.startsWith("cmdstat_" + command + ":calls=")) { // calls=N,usec=...,failed_calls=M
                return Long.parseLong(line.substring(("cmdstat_" + command + ":calls=").length(), line.indexOf(',')));
            }
        }
        return 0;
    }

    private static int unusedPort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
