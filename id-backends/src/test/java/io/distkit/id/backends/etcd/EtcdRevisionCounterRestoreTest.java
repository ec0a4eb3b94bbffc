package io.distkit.id.backends.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdGenerator;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.IdStore;
import io.distkit.id.IdStores;
import io.distkit.testkit.Closer;
import io.distkit.testkit.id.IdChecks;
import io.distkit.testkit.server.EtcdCluster;
import io.distkit.testkit.server.Servers;
import io.etcd.jetcd.Client;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/failures.md, F23, for {@link EtcdRevisionCounter}: a cluster whose revision went back (restored from an
 * older snapshot; here its member's data directory is wiped, which is what such a restore looks like to a
 * client: the same endpoints, a lower revision) must not make the counter repeat ids. Also the watermark file
 * across clean and crashed restarts, a changed cluster id, and an unreachable endpoint.
 */
class EtcdRevisionCounterRestoreTest {

    private final Closer toClose = new Closer();
    @TempDir
    Path dir;

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    private EtcdCluster cluster() {
        EtcdCluster cluster = toClose.add(EtcdTests.cluster().build());
        cluster.start();
        return cluster;
    }

    /** The cluster's only member loses its data and starts afresh on the same ports: revision 1 again. */
    private static void wipe(EtcdCluster cluster) {
        cluster.member(0).kill();
        Servers.deleteRecursively(cluster.member(0).dataDir());
        cluster.member(0).start();
    }

    /**
     * Calls {@code counter} until it refuses with a message holding {@code expected} (the client may first have to
     * reconnect, which is another refusal); fails if it ever returns an id. Returns the refusal.
     */
    private static IdSourceUnavailableException awaitRefusal(IdGenerator counter, String expected) {
        AtomicReference<IdSourceUnavailableException> refusal = new AtomicReference<>();
        AtomicReference<Long> returned = new AtomicReference<>();
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() -> {
            try {
                returned.set(counter.nextId());
                return true;
            } catch (IdSourceUnavailableException e) {
                refusal.set(e);
                return e.getMessage().contains(expected);
            }
        });
        assertThat(returned.get()).as("an id from a cluster that went back").isNull();
        return refusal.get();
    }

    @Test
    @DisplayName("F23: a cluster whose revision went back is refused by the running counter and by a new one on its watermark file; without the file a new counter repeats ids, and the checker flags them")
    void clusterThatWentBackIsRefused() throws Exception {
        EtcdCluster etcd = cluster();
        Path file = dir.resolve("orders.watermark");
        EtcdRevisionCounter counter = toClose.add(EtcdRevisionCounter.builder(EtcdTests.endpoints(etcd)).name("orders")
                .watermarkFile(file).watermarkChunk(10).build());
        long[] before = IdChecks.concat(LongStream.range(0, 30).map(i -> counter.nextId()).toArray(), counter.nextIds(20));
        IdChecks.distinctAndIncreasing(Map.of("before the restore", before)).assertNoViolations();

        wipe(etcd);

        IdSourceUnavailableException running = awaitRefusal(counter, "went back");
        assertThat(running.getMessage()).contains("older snapshot").contains("orders").contains("--bump-revision");
        assertThatThrownBy(() -> counter.nextIds(5)).isInstanceOf(IdSourceUnavailableException.class)
                .hasMessageContaining("went back");

        counter.close(); // the process restarts: a new counter on the same file
        EtcdRevisionCounter restarted = toClose.add(EtcdRevisionCounter.builder(EtcdTests.endpoints(etcd))
                .name("orders").watermarkFile(file).watermarkChunk(10).build());
        IdSourceUnavailableException fromFile = awaitRefusal(restarted, "went back");
        assertThat(fromFile.getMessage()).contains(file.toAbsolutePath().toString());

        // negative control: the same counter without its watermark hands out the ids of before again
        EtcdRevisionCounter forgetful = toClose.add(EtcdRevisionCounter.builder(EtcdTests.endpoints(etcd))
                .name("orders").build());
        long[] after = LongStream.range(0, 60).map(i -> forgetful.nextId()).toArray();
        Map<String, long[]> ids = new LinkedHashMap<>();
        ids.put("before the restore", before);
        ids.put("a counter without the watermark, after the restore", after);
        IdChecks.Result result = IdChecks.distinct(ids);
        System.out.printf("F23: %d ids up to %d before the restore; without the watermark a new counter started at %d"
                + " (%s)%n", before.length, before[before.length - 1], after[0], result);
        assertThat(result.count(IdChecks.Kind.DUPLICATE)).as("%s", result).isPositive();
    }

    @Test
    @DisplayName("F23 through IdStores: the counters of a store opened with ?watermarks= refuse a cluster that went back after the process restarted; a store without repeats ids")
    void storeWithWatermarkDirectory() throws Exception {
        EtcdCluster etcd = cluster();
        Path watermarks = Files.createDirectory(dir.resolve("water marks"));
        String uri = "etcd://127.0.0.1:" + etcd.member(0).clientPort() + "/shop?watermarks="
                + watermarks.toAbsolutePath().toString().replace(" ", "%20");
        long[] before;
        try (IdStore store = IdStores.connect(uri)) {
            assertThat(store.describe()).contains("watermarks in");
            IdGenerator orders = store.counter("orders/eu");
            assertThat(store.counter("orders/eu")).as("one counter per name").isSameAs(orders);
            before = IdChecks.concat(LongStream.range(0, 20).map(i -> orders.nextId()).toArray(), orders.nextIds(30));
        }
        assertThat(Files.list(watermarks).map(p -> p.getFileName().toString()).toList())
                .containsExactlyInAnyOrder("shop%2Fcounter%2Forders%2Feu.watermark", "shop%2Fcounter%2Forders%2Feu.watermark.lock");

        wipe(etcd);

        try (IdStore store = IdStores.connect(uri)) {
            awaitRefusal(store.counter("orders/eu"), "went back");
        }
        try (IdStore forgetful = IdStores.connect("etcd://127.0.0.1:" + etcd.member(0).clientPort() + "/shop")) {
            IdGenerator orders = forgetful.counter("orders/eu");
            long[] after = LongStream.range(0, 60).map(i -> orders.nextId()).toArray();
            IdChecks.Result result = IdChecks.distinct(Map.of("before", before, "a store without watermarks", after));
            assertThat(result.count(IdChecks.Kind.DUPLICATE)).as("%s", result).isPositive();
        }
    }

    @Test
    @DisplayName("the watermark file is written once per chunk; after a crash a new counter skips past its ceiling, after a clean close it continues right above")
    void watermarkFileAcrossRestarts() throws Exception {
        EtcdCluster etcd = cluster();
        Path file = dir.resolve("crash.watermark");
        Client crashing = EtcdTests.client(etcd);
        EtcdRevisionCounter first = EtcdRevisionCounter.builder(crashing).name("crash").watermarkFile(file)
                .watermarkChunk(200).build();
        long[] firstLife = LongStream.range(0, 20).map(i -> first.nextId()).toArray();
        assertThat(Files.readString(file)).as("written ahead once, by the first id")
                .contains("reached " + firstLife[0]).contains("ceiling " + (firstLife[0] + 200));
        crashing.close(); // the process dies: no close(), the file keeps its ceiling
        first.dieForTest(); // and its lock on the file goes with it

        EtcdRevisionCounter second = EtcdRevisionCounter.builder(EtcdTests.endpoints(etcd)).name("crash")
                .watermarkFile(file).watermarkChunk(200).build();
        long[] secondLife = LongStream.range(0, 20).map(i -> second.nextId()).toArray();
        assertThat(secondLife[0]).as("above every id the crashed counter may have handed out")
                .isGreaterThan(firstLife[0] + 200);
        IdChecks.noRewindAfterRestart(Map.of("crashed", firstLife), "after the crash", secondLife[0]).assertNoViolations();
        second.close();
        assertThat(Files.readString(file)).as("the exact watermark on close")
                .contains("reached " + secondLife[19]).contains("ceiling " + secondLife[19]);

        EtcdRevisionCounter third = toClose.add(EtcdRevisionCounter.builder(EtcdTests.endpoints(etcd)).name("crash")
                .watermarkFile(file).build());
        long next = third.nextId();
        assertThat(next).as("right above, nothing skipped (no other writer on this cluster)")
                .isEqualTo(secondLife[19] + 1);
    }

    @Test
    @DisplayName("one counter a watermark file: a second one on the same file is refused with what to do, until the first closes")
    void aWatermarkFileHasOneCounter() throws Exception {
        EtcdCluster etcd = cluster();
        Path file = dir.resolve("shared.watermark");
        EtcdRevisionCounter first = EtcdRevisionCounter.builder(EtcdTests.endpoints(etcd)).name("a").watermarkFile(file)
                .build();
        long id = first.nextId();
        assertThatThrownBy(() -> EtcdRevisionCounter.builder(EtcdTests.endpoints(etcd)).name("b").watermarkFile(file).build())
                .isExactlyInstanceOf(IdGenerationException.class).hasMessageContaining("is in use by another etcd revision counter")
                .hasMessageContaining("give each counter a file of its own");
        first.close();
        EtcdRevisionCounter next = toClose.add(EtcdRevisionCounter.builder(EtcdTests.endpoints(etcd)).name("a")
                .watermarkFile(file).build());
        assertThat(next.nextId()).isGreaterThan(id);
    }

    @Test
    @DisplayName("a reply from another etcd cluster is refused even when its revision is above the watermark")
    void changedClusterIdIsRefused() throws Exception {
        EtcdCluster a = cluster();
        EtcdCluster b = cluster();
        try (Client bClient = EtcdTests.client(b)) { // b's revision far above anything the counter will see on a
            CompletableFuture<?>[] puts = LongStream.range(0, 500)
                    .mapToObj(i -> bClient.getKVClient().put(EtcdCalls.bytes("filler/" + i), EtcdCalls.bytes("x")))
                    .toArray(CompletableFuture[]::new);
            CompletableFuture.allOf(puts).get(30, TimeUnit.SECONDS);
        }
        b.member(0).kill();
        Client both = toClose.add(Client.builder().endpoints(a.endpoints().get(0), b.endpoints().get(0)).build());
        EtcdRevisionCounter counter = toClose.add(EtcdRevisionCounter.builder(both).name("moved").build());
        long[] onA = LongStream.range(0, 10).map(i -> counter.nextId()).toArray();
        assertThat(onA[9]).isLessThan(100);

        a.member(0).kill();
        b.member(0).start(); // the endpoints now lead to another cluster, whose revision is above the watermark

        IdSourceUnavailableException refusal = awaitRefusal(counter, "answered as etcd cluster");
        assertThat(refusal.getMessage()).contains("started on cluster").doesNotContain("went back");
        assertThat(counter.watermark()).isEqualTo(onA[9]);
    }

    @Test
    @DisplayName("an unreachable endpoint is an IdSourceUnavailableException within the command timeout, naming the key")
    void unreachableEndpoint() {
        try (EtcdRevisionCounter counter = EtcdRevisionCounter.builder("http://127.0.0.1:" + Servers.freePort())
                .name("nowhere").commandTimeout(Duration.ofSeconds(1)).build()) {
            long start = System.nanoTime();
            assertThatThrownBy(counter::nextId).isInstanceOf(IdSourceUnavailableException.class)
                    .hasMessageContaining("distkit/id/counter/nowhere").hasMessageContaining("127.0.0.1")
                    .satisfies(e -> System.out.println("unreachable counter: " + e.getMessage()));
            assertThatThrownBy(() -> counter.nextIds(1000)).isInstanceOf(IdSourceUnavailableException.class);
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).as("two calls, each bounded")
                    .isLessThan(5_000);
        }
    }

    @Test
    @DisplayName("bad input: names, prefixes, timeouts, chunks, endpoints and a watermark file that is not one are refused with what was wrong")
    void badInput() throws Exception {
        assertThatThrownBy(() -> EtcdRevisionCounter.builder("http://127.0.0.1:2379").name(" "))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("blank");
        assertThatThrownBy(() -> EtcdRevisionCounter.builder("http://127.0.0.1:2379").name("x".repeat(129)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("128");
        assertThatThrownBy(() -> EtcdRevisionCounter.builder("http://127.0.0.1:2379").commandTimeout(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("commandTimeout");
        assertThatThrownBy(() -> EtcdRevisionCounter.builder("http://127.0.0.1:2379").watermarkChunk(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("watermarkChunk");
        assertThatThrownBy(() -> EtcdRevisionCounter.builder()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least one");
        assertThatThrownBy(() -> EtcdRevisionCounter.builder("ftp://127.0.0.1:2379"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("http or https");
        Path notOurs = Files.writeString(dir.resolve("notes.txt"), "shopping list\n");
        assertThatThrownBy(() -> EtcdRevisionCounter.builder("http://127.0.0.1:2379").watermarkFile(notOurs).build())
                .isInstanceOf(io.distkit.id.IdGenerationException.class).hasMessageContaining("not one this counter");
    }
}
