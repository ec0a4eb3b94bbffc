package io.distkit.lock.etcd;

import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.Closer;
import io.distkit.testkit.server.EtcdCluster;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.options.GetOption;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What a hand-off costs etcd as the queue grows: 2, 8 and 64 waiters (in up to 4 clients) queue on one
 * lock, and the requests etcd receives from a release until the next waiter holds and everything is quiet
 * again are counted from the member's {@code /metrics} ({@link EtcdCluster.Member#requestCounts()}: gRPC
 * messages received by method, and raft proposals). A waiter watches only its predecessor's key, so a
 * release wakes one waiter, and a hand-off must cost the same whether 2 or 64 wait; a herd (every waiter
 * woken, each asking again) would add a transaction per waiter.
 *
 * <p>Leases are 30 s, renewed every 15 s: a session's keep-alive is not due within the measured windows,
 * and a woken waiter finds its session's lease restarted recently enough not to restart it again. The
 * cluster is this class's own single member, so its counters see every request.
 */
@Timeout(120)
class EtcdHandOffCostTest {

    private static final LockOptions QUIET = LockOptions.builder().leaseTime(Duration.ofSeconds(30))
            .renewInterval(Duration.ofSeconds(15)).build();
    /** Hand-offs measured per queue length, while the queue is at its longest. */
    private static final int MEASURED = 2;

    @RegisterExtension
    static EtcdCluster etcd = EtcdCluster.builder().build();

    private final Closer closer = new Closer();

    @AfterEach
    void close() throws Exception {
        closer.close();
    }

    @Test
    @DisplayName("a hand-off costs etcd the same requests with 2, 8 or 64 waiters: one waiter wakes per release")
    void handOffCostDoesNotGrowWithTheQueue() throws Exception {
        Map<Integer, Cost> costs = new java.util.TreeMap<>();
        for (int waiters : List.of(2, 8, 64)) {
            costs.put(waiters, measure(waiters));
        }
        costs.forEach((waiters, cost) -> System.out.println("etcd per hand-off, " + waiters + " waiters: "
                + cost.requests() + " gRPC requests and " + cost.perHandOff("raft") + " raft proposals; by counter, over "
                + MEASURED + " hand-offs: " + cost.counts));

        Cost two = costs.get(2);
        assertThat(two.perHandOff("KV.Txn")).as("the release and the woken waiter's attempt").isGreaterThanOrEqualTo(2);
        for (int waiters : List.of(8, 64)) {
            Cost cost = costs.get(waiters);
            assertThat(cost.requests()).as("gRPC requests per hand-off with %d waiters against 2 (%s vs %s)", waiters,
                    cost.counts, two.counts).isLessThanOrEqualTo(two.requests() + 1);
            assertThat(cost.perHandOff("KV.Txn")).as("transactions per hand-off with %d waiters: one waiter woken", waiters)
                    .isLessThanOrEqualTo(two.perHandOff("KV.Txn"));
            assertThat(cost.perHandOff("raft")).as("writes per hand-off with %d waiters", waiters)
                    .isLessThanOrEqualTo(two.perHandOff("raft"));
        }
    }

    /** The requests of {@link #MEASURED} hand-offs, summed by counter. */
    private record Cost(SortedMap<String, Long> counts) {
        /** gRPC messages received per hand-off, every service (raft proposals are the writes among them). */
        double requests() {
            return counts.entrySet().stream().filter(e -> !e.getKey().equals("raft")).mapToLong(Map.Entry::getValue).sum()
                    / (double) MEASURED;
        }

        double perHandOff(String counter) {
            return counts.getOrDefault(counter, 0L) / (double) MEASURED;
        }
    }

    private Cost measure(int waiters) throws Exception {
        String name = "handoff-" + waiters + "-" + UUID.randomUUID();
        LockClient holderClient = client();
        List<LockClient> waiterClients = new ArrayList<>();
        for (int c = 0; c < Math.min(waiters, 4); c++) {
            waiterClients.add(client());
        }
        LockHandle current = holderClient.lock(name).acquire();
        List<CompletableFuture<LockHandle>> queue = new ArrayList<>();
        for (int i = 0; i < waiters; i++) {
            queue.add(waiterClients.get(i % waiterClients.size()).lock(name).acquireAsync(Duration.ofSeconds(60)));
        }
        Client admin = closer.add(Client.builder().endpoints(etcd.endpoints().toArray(String[]::new)).build());
        ByteSequence prefix = ByteSequence.from(EtcdLockClient.lockPrefix(EtcdLockClient.DEFAULT_KEY_PREFIX, name),
                StandardCharsets.UTF_8);
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> admin.getKVClient()
                .get(prefix, GetOption.builder().isPrefix(true).withCountOnly(true).build()).get(10, TimeUnit.SECONDS)
                .getCount() == waiters + 1);
        quiet();

        EtcdCluster.Member member = etcd.member(0);
        Set<CompletableFuture<LockHandle>> served = new HashSet<>();
        SortedMap<String, Long> before = member.requestCounts();
        for (int handOff = 0; handOff < MEASURED; handOff++) {
            long previous = current.fencingToken();
            current.release();
            current = next(queue, served);
            assertThat(current.fencingToken()).isGreaterThan(previous);
            quiet();
            assertThat(queue.stream().filter(CompletableFuture::isDone).count()).as("waiters woken to the lock")
                    .isEqualTo(served.size());
        }
        SortedMap<String, Long> counts = EtcdCluster.countsBetween(before, member.requestCounts());
        while (served.size() < waiters) { // the rest, unmeasured
            current.release();
            current = next(queue, served);
        }
        current.release();
        return new Cost(counts);
    }

    /** Waits until exactly one more waiter holds the lock (a second one would be a failure) and returns it. */
    private static LockHandle next(List<CompletableFuture<LockHandle>> queue, Set<CompletableFuture<LockHandle>> served) {
        AtomicReference<CompletableFuture<LockHandle>> done = new AtomicReference<>();
        Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(2)).until(() -> {
            queue.stream().filter(f -> f.isDone() && !served.contains(f)).findFirst().ifPresent(done::set);
            return done.get() != null;
        });
        served.add(done.get());
        assertThat(queue.stream().filter(f -> f.isDone() && !served.contains(f)).count()).as("a second waiter got the lock")
                .isZero();
        return done.get().join();
    }

    /** Waits (at most 10 s) until the member's request counters stay put for 300 ms. */
    private static void quiet() {
        EtcdCluster.Member member = etcd.member(0);
        AtomicReference<SortedMap<String, Long>> last = new AtomicReference<>(member.requestCounts());
        AtomicReference<Long> since = new AtomicReference<>(System.nanoTime());
        Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(25)).until(() -> {
            SortedMap<String, Long> now = member.requestCounts();
            if (!now.equals(last.get())) {
                last.set(now);
                since.set(System.nanoTime());
            }
            return System.nanoTime() - since.get() >= Duration.ofMillis(300).toNanos();
        });
    }

    private LockClient client() {
        return closer.add(EtcdLockClient.builder(etcd.endpoints().toArray(String[]::new)).defaultOptions(QUIET).build());
    }
}
