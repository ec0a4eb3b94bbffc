package io.distkit.lock.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.Closer;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.CuratorWatcher;
import org.apache.curator.retry.RetryOneTime;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.data.Stat;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What a hand-off costs ZooKeeper as the queue grows: 2, 8 and 64 waiters (in up to 4 clients, each its own
 * session) queue on one lock, and from a release until the next waiter holds and the server is quiet again
 * the server's own counters are read with the {@code srvr} command: packets received (requests, pings
 * included) and packets sent (a reply per request, plus every watch notification), so that sent minus
 * received counts the watch events delivered (one per session and change: a session's watchers of one node share
 * it). A waiter watches only the node just before its own, so a release wakes one waiter, and a hand-off must
 * cost the same whether 2 or 64 wait.
 *
 * <p>The negative control runs the same measurement on a herd recipe written here (every waiter watches the
 * whole directory and lists it again on every change): its cost per hand-off grows with the queue, and the
 * bound the real recipe is held to flags it.
 *
 * <p>Sessions are two minutes (a client pings after 40 s of silence) and leases 60 s (a waiter's safety
 * retry, once per lease, and the holder's renewal are not due within the measured windows); one member, so
 * that its counters see every request.
 */
@Timeout(120)
class ZooKeeperHandOffCostTest {

    private static final Duration SESSION = Duration.ofSeconds(120);
    private static final LockOptions QUIET = LockOptions.builder().leaseTime(Duration.ofSeconds(60))
            .renewInterval(Duration.ofSeconds(30)).build();
    /** Hand-offs measured per queue length, while the queue is at its longest. */
    private static final int MEASURED = 2;
    /** Per hand-off: room for a ping that falls into a measured window. */
    private static final double SLACK = 1.5;
    private static final Pattern RECEIVED = Pattern.compile("(?m)^Received: (\\d+)");
    private static final Pattern SENT = Pattern.compile("(?m)^Sent: (\\d+)");
    /** The {@code srvr} commands this class sent. */
    private static final AtomicLong PROBES = new AtomicLong();

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperLockContractSupport.ensemble(1);

    private final Closer closer = new Closer();

    @AfterEach
    void close() throws Exception {
        closer.close();
    }

    @Test
    @DisplayName("a hand-off costs ZooKeeper the same requests and watch events with 2, 8 or 64 waiters: one waiter wakes per release")
    void handOffCostDoesNotGrowWithTheQueue() throws Exception {
        Map<Integer, Cost> costs = new TreeMap<>();
        for (int waiters : List.of(2, 8, 64)) {
            costs.put(waiters, measure(waiters, this::distkitQueue));
        }
        costs.forEach((waiters, cost) -> System.out.println("ZooKeeper per hand-off, distkit, " + waiters + " waiters: "
                + cost));

        Cost two = costs.get(2);
        assertThat(two.requests()).as("the release (one delete) and the woken waiter's listing").isGreaterThanOrEqualTo(2);
        assertThat(two.events()).as("the woken waiter's notification").isGreaterThanOrEqualTo(1);
        for (int waiters : List.of(8, 64)) {
            assertFlat(costs.get(waiters), two, waiters);
        }
    }

    @Test
    @DisplayName("negative control: a herd recipe (every waiter watches the directory) costs a request and an event per waiter, and the bound flags it")
    void herdRecipeCostGrowsWithTheQueueAndTheBoundFlagsIt() throws Exception {
        Map<Integer, Cost> costs = new TreeMap<>();
        for (int waiters : List.of(2, 64)) {
            costs.put(waiters, measure(waiters, this::herdQueue));
        }
        costs.forEach((waiters, cost) -> System.out.println("ZooKeeper per hand-off, herd recipe, " + waiters + " waiters: "
                + cost));
        Cost two = costs.get(2);
        Cost many = costs.get(64);
        assertThat(many.requests()).as("a listing per waiter woken").isGreaterThan(two.requests() + 32);
        // the server notifies each session once per change, however many of its waiters watch: 4 sessions here
        assertThat(many.events()).as("a notification per waiting session").isGreaterThan(two.events());
        assertThat(catchFlat(many, two)).as("the bound of the real recipe flags the herd").isNotNull();
    }

    private static void assertFlat(Cost cost, Cost two, int waiters) {
        assertThat(cost.requests()).as("requests per hand-off with %d waiters against 2 (%s vs %s)", waiters, cost, two)
                .isLessThanOrEqualTo(two.requests() + SLACK);
        assertThat(cost.events()).as("watch events per hand-off with %d waiters against 2 (%s vs %s)", waiters, cost, two)
                .isLessThanOrEqualTo(two.events() + SLACK);
    }

    private static AssertionError catchFlat(Cost cost, Cost two) {
        try {
            assertFlat(cost, two, 64);
            return null;
        } catch (AssertionError e) {
            System.out.println("negative control flagged: " + e.getMessage());
            return e;
        }
    }

    /** Packets per hand-off over {@link #MEASURED} hand-offs. */
    private record Cost(long received, long sent) {
        double requests() {
            return received / (double) MEASURED;
        }

        /** Packets sent beyond one reply per request: watch notifications. */
        double events() {
            return (sent - received) / (double) MEASURED;
        }

        @Override
        public String toString() {
            return requests() + " requests, " + events() + " watch events";
        }
    }

    /** One place in a queue: completes with its grant, whose release hands the lock on. */
    private record Grant(long token, Runnable release) {}

    /** Queues a holder and then {@code waiters} contenders on one fresh lock; element 0 holds. */
    @FunctionalInterface
    private interface QueueFactory {
        List<CompletableFuture<Grant>> queue(String name, int waiters) throws Exception;
    }

    private Cost measure(int waiters, QueueFactory factory) throws Exception {
        String name = "handoff-" + waiters + "-" + UUID.randomUUID();
        List<CompletableFuture<Grant>> all = factory.queue(name, waiters);
        String directory = ZooKeeperLockClient.lockDirectory(ZooKeeperLockClient.DEFAULT_BASE_PATH, name);
        CuratorFramework admin = curator();
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> admin.checkExists().forPath(directory) != null
                && admin.getChildren().forPath(directory).size() == waiters + 1);
        Grant current = all.get(0).get();
        List<CompletableFuture<Grant>> queue = all.subList(1, all.size());
        long[] before = quiet();

        Set<CompletableFuture<Grant>> served = new HashSet<>();
        long[] last = before;
        for (int handOff = 0; handOff < MEASURED; handOff++) {
            long previous = current.token();
            current.release().run();
            current = next(queue, served);
            assertThat(current.token()).isGreaterThan(previous);
            last = quiet();
            assertThat(queue.stream().filter(CompletableFuture::isDone).count()).as("waiters woken to the lock")
                    .isEqualTo(served.size());
        }
        Cost cost = new Cost(last[0] - before[0], last[1] - before[1]);
        while (served.size() < waiters) { // the rest, unmeasured
            current.release().run();
            current = next(queue, served);
        }
        current.release().run();
        return cost;
    }

    /** Waits until exactly one more waiter holds the lock (a second one would be a failure) and returns it. */
    private static Grant next(List<CompletableFuture<Grant>> queue, Set<CompletableFuture<Grant>> served) {
        AtomicReference<CompletableFuture<Grant>> done = new AtomicReference<>();
        Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(2)).until(() -> {
            queue.stream().filter(f -> f.isDone() && !served.contains(f)).findFirst().ifPresent(done::set);
            return done.get() != null;
        });
        served.add(done.get());
        assertThat(queue.stream().filter(f -> f.isDone() && !served.contains(f)).count()).as("a second waiter got the lock")
                .isZero();
        return done.get().join();
    }

    // ---- the two recipes ----------------------------------------------------------------------------

    private List<CompletableFuture<Grant>> distkitQueue(String name, int waiters) throws Exception {
        LockClient holderClient = client();
        List<LockClient> waiterClients = new ArrayList<>();
        for (int c = 0; c < Math.min(waiters, 4); c++) {
            waiterClients.add(client());
        }
        List<CompletableFuture<Grant>> queue = new ArrayList<>();
        queue.add(CompletableFuture.completedFuture(grant(holderClient.lock(name).acquire())));
        for (int i = 0; i < waiters; i++) {
            queue.add(waiterClients.get(i % waiterClients.size()).lock(name).acquireAsync(Duration.ofSeconds(60))
                    .thenApply(ZooKeeperHandOffCostTest::grant));
        }
        return queue;
    }

    private static Grant grant(LockHandle handle) {
        return new Grant(handle.fencingToken(), handle::release);
    }

    /**
     * The herd: each contender creates an ephemeral sequential node and lists the directory with a watch on
     * it; it holds the lock when its node is the lowest, and lists again on every change of the directory.
     */
    private List<CompletableFuture<Grant>> herdQueue(String name, int waiters) throws Exception {
        String directory = ZooKeeperLockClient.lockDirectory(ZooKeeperLockClient.DEFAULT_BASE_PATH, name);
        List<CuratorFramework> clients = new ArrayList<>();
        for (int c = 0; c < Math.min(waiters, 4) + 1; c++) {
            clients.add(curator());
        }
        ExecutorService checks = Executors.newFixedThreadPool(4);
        closer.add(checks::shutdownNow);
        List<CompletableFuture<Grant>> queue = new ArrayList<>();
        for (int i = 0; i <= waiters; i++) {
            CuratorFramework client = i == 0 ? clients.get(0) : clients.get(1 + (i - 1) % (clients.size() - 1));
            Stat stat = new Stat();
            String path = client.create().storingStatIn(stat).creatingParentsIfNeeded()
                    .withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(directory + "/lock-");
            Grant grant = new Grant(stat.getCzxid(), () -> {
                try {
                    client.delete().forPath(path);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            CompletableFuture<Grant> granted = new CompletableFuture<>();
            String own = path.substring(directory.length() + 1);
            Runnable[] check = new Runnable[1];
            CuratorWatcher watcher = event -> checks.execute(check[0]);
            check[0] = () -> {
                try {
                    if (granted.isDone()) {
                        return;
                    }
                    List<String> children = client.getChildren().usingWatcher(watcher).forPath(directory);
                    if (children.stream().min(Comparator.naturalOrder()).orElseThrow().equals(own)) {
                        granted.complete(grant);
                    }
                } catch (Exception e) {
                    granted.completeExceptionally(e);
                }
            };
            check[0].run();
            queue.add(granted);
        }
        return queue;
    }

    // ---- clients and counters -------------------------------------------------------------------------

    private LockClient client() {
        return closer.add(ZooKeeperLockClient.builder(zk.connectString()).sessionTimeout(SESSION).defaultOptions(QUIET)
                .build());
    }

    private CuratorFramework curator() throws InterruptedException {
        CuratorFramework curator = CuratorFrameworkFactory.builder().connectString(zk.connectString())
                .sessionTimeoutMs((int) SESSION.toMillis()).retryPolicy(new RetryOneTime(100)).build();
        curator.start();
        closer.add(curator::close);
        assertThat(curator.blockUntilConnected(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        return curator;
    }

    /** Waits (at most 10 s) until the member's packet counters stay put for 300 ms; returns them. */
    private static long[] quiet() {
        AtomicReference<long[]> last = new AtomicReference<>(counters());
        AtomicReference<Long> since = new AtomicReference<>(System.nanoTime());
        Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(25)).until(() -> {
            long[] now = counters();
            if (now[0] != last.get()[0] || now[1] != last.get()[1]) {
                last.set(now);
                since.set(System.nanoTime());
            }
            return System.nanoTime() - since.get() >= Duration.ofMillis(300).toNanos();
        });
        return last.get();
    }

    /**
     * Packets received and sent by the member since it started, from its {@code srvr} answer; the server
     * counts each {@code srvr} command as a packet received, and each answer as one sent, so this class's own probes are taken off.
     */
    private static long[] counters() {
        long probe = PROBES.incrementAndGet();
        String[] hostPort = zk.connectString(0).split(":");
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(hostPort[0], Integer.parseInt(hostPort[1])), 2_000);
            socket.setSoTimeout(2_000);
            OutputStream out = socket.getOutputStream();
            out.write("srvr".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return new long[] {number(RECEIVED, answer) - probe, number(SENT, answer) - probe};
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static long number(Pattern pattern, String answer) {
        Matcher matcher = pattern.matcher(answer);
        if (!matcher.find()) {
            throw new IllegalStateException("no " + pattern + " in the srvr answer: " + answer);
        }
        return Long.parseLong(matcher.group(1));
    }
}
