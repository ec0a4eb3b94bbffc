package io.distkit.id.backends.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdGenerator;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.IdStore;
import io.distkit.id.IdStores;
import io.distkit.id.backends.SegmentOutage;
import io.distkit.testkit.Closer;
import io.distkit.testkit.id.IdChecks;
import io.distkit.testkit.server.FaultProxy;
import io.distkit.testkit.server.RedisServer;
import io.distkit.testkit.server.RedisServer.Persistence;
import io.distkit.testkit.server.Servers;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The rewind guard against a Redis that lost writes (F19: a restart without persistence, F15: a failover to a
 * replica that lagged), each with its negative control, and the refusals and errors a user meets first.
 */
@Timeout(60)
class RedisIdFailureTest {

    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    private RedisServer server(Persistence persistence) {
        RedisServer server = toClose.add(RedisServer.builder().persistence(persistence).build());
        server.start();
        return server;
    }

    private RedisIdStore store(String uri, RewindGuard guard) {
        return toClose.add(RedisIdStore.builder(uri).rewindGuard(guard).commandTimeout(Duration.ofSeconds(2)).build());
    }

    private static long[] take(IdGenerator counter, int n) {
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) {
            ids[i] = counter.nextId();
        }
        return ids;
    }

    /** CONFIG GET calls the server has served (the guard's check reads each setting with one). */
    private static long configGets(RedisServer redis) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("cmdstat_config(?:\\|get)?:calls=(\\d+)")
                .matcher(String.valueOf(redis.call("INFO", "commandstats")));
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    /** Drops the store's connections and waits until the client has connected again. */
    private static void reconnect(RedisServer redis) {
        redis.call("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes");
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(10))
                .until(() -> String.valueOf(redis.call("CLIENT", "LIST", "TYPE", "normal")).lines()
                        .anyMatch(line -> !line.contains("cmd=client|list")));
    }


    @Nested
    @DisplayName("F19: the server restarted")
    class Restart {

        @Test
        @DisplayName("killed with SIGKILL and restarted with appendfsync always: the counter goes on above every id it gave")
        void syncedServerKilledAndRestartedContinuesAbove() {
            RedisServer redis = server(Persistence.AOF_ALWAYS);
            IdGenerator counter = store(redis.uri(), RewindGuard.REQUIRE_FSYNC_ALWAYS).counter("orders");
            long[] before = IdChecks.concat(take(counter, 500), counter.nextIds(1000));
            redis.kill();
            redis.restart();
            long[] after = take(counter, 50); // the same store: it reconnects and checks the new process first
            long[] fresh = take(store(redis.uri(), RewindGuard.REQUIRE_FSYNC_ALWAYS).counter("orders"), 50);
            Map<String, long[]> ids = new LinkedHashMap<>();
            ids.put("before", before);
            ids.put("after", after);
            ids.put("fresh", fresh);
            IdChecks.distinct(ids).and(IdChecks.noRewindAfterRestart(Map.of("before", before), "after", after[0]))
                    .and(IdChecks.strictlyIncreasing(Map.of("all", IdChecks.concat(before, after, fresh))))
                    .assertNoViolations();
        }

        @Test
        @DisplayName("negative control: without the guard, a server restarted without persistence hands the same ids out again, and the checker flags it")
        void unguardedServerWithoutPersistenceRepeats() {
            RedisServer redis = server(Persistence.NONE);
            IdGenerator counter = store(redis.uri(), RewindGuard.NONE).counter("orders");
            long[] before = take(counter, 200);
            redis.kill();
            redis.restart();
            long[] after = take(counter, 200);
            IdChecks.Result result = IdChecks.distinct(Map.of("before", before, "after", after))
                    .and(IdChecks.noRewindAfterRestart(Map.of("before", before), "after", after[0]));
            assertThat(result.count(IdChecks.Kind.DUPLICATE)).isEqualTo(200);
            assertThat(result.count(IdChecks.Kind.REWIND_AFTER_RESTART)).isEqualTo(1);
        }

        @Test
        @DisplayName("the guard refuses a server without appendfsync always, at once, saying what to set")
        void guardRefusesAServerThatDoesNotSyncEveryWrite() {
            for (Persistence persistence : new Persistence[] {Persistence.NONE, Persistence.AOF_EVERYSEC}) {
                RedisServer redis = server(persistence);
                assertThatThrownBy(() -> store(redis.uri(), RewindGuard.REQUIRE_FSYNC_ALWAYS))
                        .isInstanceOf(IdSourceUnavailableException.class)
                        .hasMessageContaining("appendfsync always").hasMessageContaining("RewindGuard.NONE")
                        .hasMessageContaining(redis.host() + ":" + redis.port());
            }
        }

        @Test
        @DisplayName("the guard refuses a server that may evict keys (an evicted counter starts again at 1)")
        void guardRefusesAServerThatMayEvictKeys() {
            RedisServer redis = toClose.add(RedisServer.builder().persistence(Persistence.AOF_ALWAYS)
                    .args("--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru").build());
            redis.start();
            assertThatThrownBy(() -> store(redis.uri(), RewindGuard.REQUIRE_FSYNC_ALWAYS))
                    .isInstanceOf(IdSourceUnavailableException.class).hasMessageContaining("may evict keys")
                    .hasMessageContaining("noeviction");
            redis.call("CONFIG", "SET", "maxmemory-policy", "noeviction");
            assertThat(store(redis.uri(), RewindGuard.REQUIRE_FSYNC_ALWAYS).counter("orders").nextId()).isEqualTo(1);
        }

        @Test
        @DisplayName("persistence switched off while running: the next reconnect checks again and the store refuses; no id is handed out")
        void persistenceTurnedOffIsSeenAtTheNextReconnect() {
            RedisServer redis = server(Persistence.AOF_ALWAYS);
            IdGenerator counter = store(redis.uri(), RewindGuard.REQUIRE_FSYNC_ALWAYS).counter("orders");
            counter.nextId();
            redis.call("CONFIG", "SET", "appendfsync", "everysec");
            redis.call("CLIENT", "KILL", "TYPE", "normal"); // our connection drops; Lettuce reconnects
            assertThatThrownBy(counter::nextId).isInstanceOf(IdSourceUnavailableException.class)
                    .hasMessageContaining("appendfsync everysec");
            redis.call("CONFIG", "SET", "appendfsync", "always");
            assertThatThrownBy(counter::nextId).as("a refusal sticks: this client saw a rewind risk")
                    .isInstanceOf(IdSourceUnavailableException.class);
        }

        @Test
        @DisplayName("the data gone behind the guard's back (a wiped AOF, a restored backup): a range below one seen before is an error, never an id")
        void counterThatWentBackIsAnErrorNotAnId() {
            RedisServer redis = server(Persistence.AOF_ALWAYS);
            IdGenerator counter = store(redis.uri(), RewindGuard.REQUIRE_FSYNC_ALWAYS).counter("orders");
            long[] before = take(counter, 100);
            redis.call("FLUSHALL");
            assertThatThrownBy(counter::nextId).isInstanceOf(IdSourceUnavailableException.class)
                    .hasMessageContaining("went back").hasMessageContaining("[1, 2)")
                    .hasMessageContaining("up to " + before[99]);
            redis.call("SET", RedisIdStore.DEFAULT_KEY_PREFIX + "segment:orders", Long.toString(before[99] + 10));
            assertThat(counter.nextId()).as("raised above by hand: usable again").isEqualTo(before[99] + 11);
        }
    }

    @Nested
    @DisplayName("F22: the allocator's server stopped mid-run")
    class Outage {

        @Test
        @DisplayName("ids from the buffers, then a clean IdSourceUnavailableException within maxWait; after the restart (fsync always) ids resume above, none repeats")
        void serverStoppedMidRun() {
            RedisServer redis = server(Persistence.AOF_ALWAYS);
            RedisIdStore store = store(redis.uri(), RewindGuard.REQUIRE_FSYNC_ALWAYS);
            SegmentOutage.run("Redis", store.segmentAllocator(), toClose, redis::kill, redis::restart);
        }
    }

    @Nested
    @DisplayName("F15: a failover to a replica")
    class Failover {

        /**
         * A master and a replica, both syncing every write; the client reaches "the master" through a proxy on a
         * fixed port. The replica stops replicating (it lags), the client takes more ids from the master, then
         * the proxy is moved to the promoted replica, as a DNS or VIP failover would.
         */
        private long[][] failOver(RewindGuard guard, IdGenerator[] counter) {
            RedisServer master = server(Persistence.AOF_ALWAYS);
            RedisServer replica = toClose.add(RedisServer.builder().persistence(Persistence.AOF_ALWAYS)
                    .replicaOf(master).build());
            replica.start();
            int port = Servers.freePort();
            FaultProxy toMaster = FaultProxy.builder().target(master.host(), master.port()).listenPort(port).build();
            toMaster.start();
            counter[0] = store(toMaster.uri("redis"), guard).counter("orders");
            long[] synced = take(counter[0], 100);
            awaitReplicated(master, replica, synced[99]);
            replica.call("REPLICAOF", "NO", "ONE"); // promoted; what the master does from here on it misses
            long[] lagging = take(counter[0], 100);
            toMaster.close();
            FaultProxy toReplica = toClose.add(FaultProxy.builder().target(replica.host(), replica.port())
                    .listenPort(port).build());
            toReplica.start();
            return new long[][] {IdChecks.concat(synced, lagging)};
        }

        private void awaitReplicated(RedisServer master, RedisServer replica, long last) {
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> Long.toString(last)
                    .equals(String.valueOf(replica.call("GET", RedisIdStore.DEFAULT_KEY_PREFIX + "segment:orders"))));
        }

        @Test
        @DisplayName("with the guard: the promoted replica is refused (another process that was already running), no id repeats")
        void guardRefusesThePromotedReplica() {
            IdGenerator[] counter = new IdGenerator[1];
            long[] before = failOver(RewindGuard.REQUIRE_FSYNC_ALWAYS, counter)[0];
            assertThatThrownBy(counter[0]::nextId).isInstanceOf(IdSourceUnavailableException.class)
                    .hasMessageContaining("failover");
            assertThat(before).hasSize(200);
        }

        @Test
        @DisplayName("negative control: without the guard the client goes on with the replica's counter and repeats ids, flagged")
        void unguardedClientRepeatsAfterTheFailover() {
            IdGenerator[] counter = new IdGenerator[1];
            long[] before = failOver(RewindGuard.NONE, counter)[0];
            long[] after = take(counter[0], 100);
            assertThat(IdChecks.distinct(Map.of("before", before, "after", after)).count(IdChecks.Kind.DUPLICATE))
                    .isEqualTo(100);
        }
    }

    @Nested
    @DisplayName("bad input and unreachable servers")
    class BadInput {

        @Test
        @DisplayName("a replica is refused, guard or not")
        void replicaIsRefused() {
            RedisServer master = server(Persistence.AOF_ALWAYS);
            RedisServer replica = toClose.add(RedisServer.builder().persistence(Persistence.AOF_ALWAYS)
                    .replicaOf(master).build());
            replica.start();
            for (RewindGuard guard : RewindGuard.values()) {
                assertThatThrownBy(() -> store(replica.uri(), guard)).isInstanceOf(IdSourceUnavailableException.class)
                        .hasMessageContaining("is a replica");
            }
        }

        @Test
        @DisplayName("an unreachable server is an IdSourceUnavailableException within the command timeout")
        void unreachableServer() {
            long start = System.nanoTime();
            assertThatThrownBy(() -> RedisIdStore.builder("redis://127.0.0.1:" + Servers.freePort())
                    .commandTimeout(Duration.ofSeconds(1)).build())
                    .isInstanceOf(IdSourceUnavailableException.class).hasMessageContaining("cannot connect");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        }

        @Test
        @DisplayName("a server that stops answering: the call fails within the command timeout")
        void silentServer() {
            RedisServer redis = server(Persistence.AOF_ALWAYS);
            IdGenerator counter = store(redis.uri(), RewindGuard.REQUIRE_FSYNC_ALWAYS).counter("orders");
            counter.nextId();
            redis.pause();
            long start = System.nanoTime();
            try {
                assertThatThrownBy(counter::nextId).isInstanceOf(IdSourceUnavailableException.class)
                        .hasMessageContaining("no reply within the command timeout");
                assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(4));
            } finally {
                redis.resume();
            }
        }

        @Test
        @DisplayName("Lettuce's timeout= in the URI is the command timeout: a silent server fails the call within it, not within the 5 s default")
        void uriTimeoutIsTheCommandTimeout() {
            RedisServer redis = server(Persistence.AOF_ALWAYS);
            try (IdStore store = IdStores.connect(redis.uri() + "?timeout=1s")) {
                IdGenerator counter = store.counter("uri-timeout");
                counter.nextId();
                redis.pause();
                long start = System.nanoTime();
                try {
                    assertThatThrownBy(counter::nextId).isInstanceOf(IdSourceUnavailableException.class);
                    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(3500));
                } finally {
                    redis.resume();
                }
            }
        }

        @Test
        @DisplayName("after a reconnect the server is checked once, however many threads call at that moment")
        void oneCheckPerReconnect() throws Exception {
            RedisServer redis = server(Persistence.AOF_ALWAYS);
            IdGenerator counter = store(redis.uri(), RewindGuard.REQUIRE_FSYNC_ALWAYS).counter("one-check");
            counter.nextId();
            long before = configGets(redis);
            reconnect(redis);
            counter.nextId();
            long oneCheck = configGets(redis) - before;
            assertThat(oneCheck).as("a reconnect is followed by a check").isPositive();

            int threads = 16;
            reconnect(redis);
            long beforeMany = configGets(redis);
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
            try {
                java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
                List<java.util.concurrent.Future<Long>> calls = new java.util.ArrayList<>();
                for (int i = 0; i < threads; i++) {
                    calls.add(pool.submit(() -> {
                        go.await();
                        return counter.nextId();
                    }));
                }
                go.countDown();
                for (java.util.concurrent.Future<Long> call : calls) {
                    call.get(10, java.util.concurrent.TimeUnit.SECONDS);
                }
            } finally {
                pool.shutdownNow();
            }
            assertThat(configGets(redis) - beforeMany).as("%d threads after one reconnect: one check", threads)
                    .isEqualTo(oneCheck);
        }

        @Test
        @DisplayName("a key that is not an integer, a bad tag, a bad URI: clear errors; the key is left as it was")
        void badKeysTagsAndUris() {
            RedisServer redis = server(Persistence.AOF_ALWAYS);
            RedisIdStore store = store(redis.uri(), RewindGuard.REQUIRE_FSYNC_ALWAYS);
            redis.call("SET", RedisIdStore.DEFAULT_KEY_PREFIX + "segment:text", "hello");
            assertThatThrownBy(() -> store.counter("text").nextId()).isExactlyInstanceOf(IdGenerationException.class)
                    .hasMessageContaining("must hold an integer").hasMessageContaining("segment:text");
            assertThat(redis.call("GET", RedisIdStore.DEFAULT_KEY_PREFIX + "segment:text")).isEqualTo("hello");
            assertThatThrownBy(() -> store.counter(" ")).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> store.counter("x".repeat(129))).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> store.segmentAllocator().allocate("t", 0)).isInstanceOf(IllegalArgumentException.class);
            redis.call("SET", RedisIdStore.DEFAULT_KEY_PREFIX + "segment:full", Long.toString(Long.MAX_VALUE - 5));
            assertThatThrownBy(() -> store.counter("full").nextIds(10)).isInstanceOf(IdGenerationException.class)
                    .hasMessageContaining("full");
            assertThatThrownBy(() -> RedisIdStore.builder("http://localhost:6379")).isInstanceOf(IllegalArgumentException.class);
            store.close();
            assertThatThrownBy(() -> store.counter("x")).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        }

        @Test
        @DisplayName("an error about the server's state (out of memory, read-only once demoted) is an IdSourceUnavailableException saying so, not a key problem")
        void serverStateErrorsAreUnavailable() {
            RedisServer redis = server(Persistence.AOF_ALWAYS);
            IdGenerator counter = store(redis.uri(), RewindGuard.REQUIRE_FSYNC_ALWAYS).counter("state");
            long first = counter.nextId();

            redis.call("CONFIG", "SET", "maxmemory", "1"); // noeviction: every write is refused with OOM
            assertThatThrownBy(counter::nextId).isExactlyInstanceOf(IdSourceUnavailableException.class)
                    .hasMessageContaining("OOM").hasMessageNotContaining("must hold an integer");
            redis.call("CONFIG", "SET", "maxmemory", "0");
            assertThat(counter.nextId()).as("goes on once the server accepts writes again").isGreaterThan(first);

            RedisServer other = server(Persistence.AOF_ALWAYS);
            redis.call("REPLICAOF", other.host(), Integer.toString(other.port())); // demoted under the open connection
            assertThatThrownBy(counter::nextId).isExactlyInstanceOf(IdSourceUnavailableException.class)
                    .hasMessageContaining("READONLY").hasMessageNotContaining("must hold an integer");
        }

        @Test
        @DisplayName("IdStores.connect opens a Redis store from its URI; nextIds(1000) is one range")
        void connectsThroughTheFactory() {
            RedisServer redis = server(Persistence.AOF_ALWAYS);
            try (IdStore store = IdStores.connect(redis.uri())) {
                assertThat(store).isInstanceOf(RedisIdStore.class);
                assertThat(store.describe()).contains(redis.host() + ":" + redis.port());
                long[] ids = store.counter("batch").nextIds(1000);
                assertThat(ids[0]).isEqualTo(1);
                assertThat(ids[999]).isEqualTo(1000);
                assertThat(redis.call("GET", RedisIdStore.DEFAULT_KEY_PREFIX + "segment:batch")).isEqualTo("1000");
            }
            assertThatThrownBy(() -> IdStores.connect("nosuch://x")).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("redis");
        }
    }
}
