package io.distkit.lock.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.lock.DistributedReadWriteLock;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockClients;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.lock.ReadWriteLockClient;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.imps.CuratorFrameworkState;
import org.apache.curator.retry.RetryOneTime;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The ZooKeeper client's own behaviour beyond the contract: arguments, tokens, nodes, watches, sessions. */
@Timeout(120)
class ZooKeeperLockClientTest {

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperLockContractSupport.ensemble(1);

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private CuratorFramework admin;

    @AfterEach
    void closeAll() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private <T extends AutoCloseable> T closing(T closeable) {
        closeables.add(closeable);
        return closeable;
    }

    private ReadWriteLockClient client(LockOptions defaults) {
        return closing(ZooKeeperLockClient.builder(zk.connectString()).sessionTimeout(Duration.ofSeconds(60))
                .defaultOptions(defaults).build());
    }

    private ReadWriteLockClient client() {
        return client(LockOptions.defaults());
    }

    private CuratorFramework curator(Duration sessionTimeout) {
        CuratorFramework curator = CuratorFrameworkFactory.newClient(zk.connectString(),
                (int) sessionTimeout.toMillis(), 5_000, new RetryOneTime(100));
        curator.start();
        closeables.add(curator::close);
        return curator;
    }

    private CuratorFramework admin() {
        if (admin == null) {
            admin = curator(Duration.ofSeconds(30));
        }
        return admin;
    }

    private static String name(String prefix) {
        return prefix + "-" + UUID.randomUUID();
    }

    private static String directory(String name) {
        return ZooKeeperLockClient.lockDirectory(ZooKeeperLockClient.DEFAULT_BASE_PATH, name);
    }

    private List<String> children(String directory) throws Exception {
        return admin().checkExists().forPath(directory) == null ? List.of() : admin().getChildren().forPath(directory);
    }

    // ---- arguments --------------------------------------------------------------------------------

    @Test
    @DisplayName("blank or malformed connect strings, base paths, timeouts and URIs are refused with a reason")
    void badArgumentsAreRefused() {
        assertThatThrownBy(() -> ZooKeeperLockClient.builder("  ")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("connectString must name at least one ZooKeeper server");
        assertThatThrownBy(() -> ZooKeeperLockClient.builder("host:abc")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("port 'abc'").hasMessageContaining("not a number");
        assertThatThrownBy(() -> ZooKeeperLockClient.builder("host:70000"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("out of range");
        assertThatThrownBy(() -> ZooKeeperLockClient.builder("a:1,,b:2")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("empty server");
        assertThatThrownBy(() -> ZooKeeperLockClient.builder("a:1/chroot/")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("chroot");

        ZooKeeperLockClient.Builder builder = ZooKeeperLockClient.builder("127.0.0.1:2181");
        for (String bad : List.of("relative", "/", "/trailing/", "/a//b", "/a/./b", "/zookeeper/locks", " ")) {
            assertThatThrownBy(() -> builder.basePath(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("basePath");
        }
        assertThatThrownBy(() -> builder.commandTimeout(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("commandTimeout must be positive");
        assertThatThrownBy(() -> builder.sessionTimeout(Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sessionTimeout must be positive");
        assertThatThrownBy(() -> ZooKeeperLockClient.builder(admin()).sessionTimeout(Duration.ofSeconds(5)))
                .isInstanceOf(IllegalStateException.class);

        for (String bad : List.of("zookeeper:host:2181", "zookeeper:///chroot", "zookeeper://h:2181?x=1",
                "zookeeper://user@h:2181", "zookeeper://h:2181,,h2:2181", "zookeeper://h:port")) {
            assertThatThrownBy(() -> ZooKeeperLockClientProvider.parse(URI.create(bad))).as(bad)
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("zookeeper");
        }
    }

    @Test
    @DisplayName("an unreachable ensemble fails build() within the command timeout, saying what to check")
    void unreachableEnsembleFailsWithinTheCommandTimeout() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort(); // closed again: nothing listens there
        }
        long started = System.nanoTime();
        assertThatThrownBy(() -> ZooKeeperLockClient.builder("127.0.0.1:" + port)
                        .commandTimeout(Duration.ofMillis(700)).build())
                .isInstanceOf(LockBackendException.class)
                .hasMessageContaining("could not connect").hasMessageContaining("127.0.0.1:" + port);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isBetween(Duration.ofMillis(600), Duration.ofSeconds(3));
    }

    @Test
    @DisplayName("a leaseTime above the negotiated session timeout is refused; without options the lease is two thirds of it")
    void leaseTimeIsBoundedBySessionTimeout() throws Exception {
        ZooKeeperLockClient.Builder shortSessions = ZooKeeperLockClient.builder(zk.connectString())
                .sessionTimeout(Duration.ofSeconds(2))
                .defaultOptions(LockOptions.builder().leaseTime(Duration.ofSeconds(5)).build());
        assertThatThrownBy(shortSessions::build).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("leaseTime PT5S").hasMessageContaining("session timeout of PT2S")
                .hasMessageContaining("at most PT2S");

        LockClient defaults = closing(ZooKeeperLockClient.builder(zk.connectString())
                .sessionTimeout(Duration.ofSeconds(2)).build());
        // below the session timeout: the leader may expire the session a little sooner than a renewal's send time
        // plus the session timeout, and the local deadline must come first
        assertThat(defaults.defaultOptions().leaseTime()).isEqualTo(Duration.ofMillis(1333));
        assertThatThrownBy(() -> defaults.lock("x", LockOptions.builder().leaseTime(Duration.ofSeconds(3)).build()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("session timeout");
        LockHandle handle = defaults.lock(name("session-lease")).acquire();
        assertThat(handle.leaseDeadline()).isBefore(Instant.now().plusMillis(1334));
        handle.release();
    }

    // ---- tokens and nodes -------------------------------------------------------------------------

    @Test
    @DisplayName("the fencing token is the czxid of the holder's node, which holds the owner value, and grows")
    void tokenIsTheNodesCzxid() throws Exception {
        String name = name("czxid");
        ReadWriteLockClient client = client();
        long previous = 0;
        for (int i = 0; i < 3; i++) {
            LockHandle handle = client.lock(name).acquire();
            List<String> nodes = children(directory(name));
            assertThat(nodes).hasSize(1);
            Stat stat = new Stat();
            byte[] data = admin().getData().storingStatIn(stat).forPath(directory(name) + "/" + nodes.get(0));
            assertThat(handle.fencingToken()).isEqualTo(stat.getCzxid()).isGreaterThan(previous);
            assertThat(stat.getEphemeralOwner()).as("ephemeral").isNotZero();
            assertThat(new String(data, StandardCharsets.UTF_8)).isNotBlank();
            assertThat(nodes.get(0)).startsWith("_c_").contains("-lock-");
            previous = handle.fencingToken();
            handle.release();
            assertThat(children(directory(name))).as("released: node deleted").isEmpty();
        }
    }

    @Test
    @DisplayName("a waiter that times out or is cancelled deletes its node")
    void timedOutWaiterLeavesNoNode() throws Exception {
        String name = name("timeout");
        LockHandle holder = client().lock(name).acquire();
        ReadWriteLockClient other = client();

        assertThat(other.lock(name).tryAcquire(Duration.ofMillis(300))).isEmpty();
        await().atMost(Duration.ofSeconds(5)).until(() -> children(directory(name)).size() == 1);
        CompletableFuture<LockHandle> cancelled = other.lock(name).acquireAsync(Duration.ofSeconds(30));
        await().atMost(Duration.ofSeconds(5)).until(() -> children(directory(name)).size() == 2);
        cancelled.cancel(true);
        await().atMost(Duration.ofSeconds(5)).until(() -> children(directory(name)).size() == 1);
        assertThat(holder.isHeld()).isTrue();
        holder.release();
        assertThat(children(directory(name))).isEmpty();
    }

    @Test
    @DisplayName("a waiter that outlives its lease time behind a renewed holder keeps waiting quietly, not in a loop")
    void aWaiterBehindAHolderThatOutlivesTheLeaseDoesNotSpin() throws Exception {
        String name = name("quiet-waiter");
        LockOptions shortLease = LockOptions.builder().leaseTime(Duration.ofSeconds(2)).build();
        LockHandle holder = client(shortLease).lock(name).acquire();
        CompletableFuture<LockHandle> waiter = client(shortLease).lock(name).acquireAsync(Duration.ofSeconds(30));
        await().atMost(Duration.ofSeconds(5)).until(() -> children(directory(name)).size() == 2);
        long before = zk.requestsReceived(0);

        // time passing, not synchronisation: three lease times, each ending in the waiter's timed retry, which
        // removes its unfired watch; before the fix that removal woke it at once, again and again
        Thread.sleep(6_000);

        long requests = zk.requestsReceived(0) - before;
        // the holder's renewals (one per 2/3 s), the waiter's retries (one per lease), pings: a few dozen
        assertThat(requests).as("requests in 6 s while one holder renews and one waiter waits").isLessThan(100);
        assertThat(waiter).isNotDone();
        holder.release();
        assertThat(waiter.get(5, TimeUnit.SECONDS).fencingToken()).isGreaterThan(holder.fencingToken());
    }

    @Test
    @DisplayName("a waiter wakes when its predecessor's node is deleted, by its watch, not by polling")
    void waiterWakesOnPredecessorDelete() throws Exception {
        String name = name("watch");
        LockOptions long60 = LockOptions.builder().leaseTime(Duration.ofSeconds(60)).build();
        LockHandle holder = client(long60).lock(name).acquire();
        CompletableFuture<LockHandle> waiter = client(long60).lock(name).acquireAsync(Duration.ofSeconds(50));
        await().atMost(Duration.ofSeconds(5)).until(() -> children(directory(name)).size() == 2);

        // the holder does not release (it would learn of the deletion only at its renewal, 20 s away): the
        // engine's own retry without a notification comes once per 60 s lease, so only the watch wakes it in time
        String holderNode = children(directory(name)).stream().min((a, b) -> a.substring(a.length() - 10)
                .compareTo(b.substring(b.length() - 10))).orElseThrow();
        long deleted = System.nanoTime();
        admin().delete().forPath(directory(name) + "/" + holderNode);
        LockHandle next = waiter.get(3, TimeUnit.SECONDS);
        assertThat(Duration.ofNanos(System.nanoTime() - deleted)).isLessThan(Duration.ofSeconds(3));
        assertThat(next.fencingToken()).isGreaterThan(holder.fencingToken());
    }

    @Test
    @DisplayName("three waiters are served in order, each woken by the release before it")
    void waitersAreServedInQueueOrder() throws Exception {
        String name = name("queue");
        LockHandle holder = client().lock(name).acquire();
        List<CompletableFuture<LockHandle>> waiters = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            waiters.add(client().lock(name).acquireAsync(Duration.ofSeconds(30)));
            int expected = i + 2;
            await().atMost(Duration.ofSeconds(5)).until(() -> children(directory(name)).size() == expected);
        }
        holder.release();
        long previous = holder.fencingToken();
        for (CompletableFuture<LockHandle> waiter : waiters) {
            LockHandle handle = waiter.get(5, TimeUnit.SECONDS);
            assertThat(waiters.stream().filter(w -> w != waiter && w.isDone()).count())
                    .as("only earlier waiters are done").isEqualTo(waiters.indexOf(waiter));
            assertThat(handle.fencingToken()).as("queued earlier, created earlier").isGreaterThan(previous);
            previous = handle.fencingToken();
            handle.release();
        }
    }

    @Test
    @DisplayName("names ZooKeeper refuses as path elements, and names with '/' or '%', are locks of their own")
    void awkwardNamesAreEncoded() throws Exception {
        ReadWriteLockClient client = client();
        List<String> names = List.of(".", "..", "%2E", "a/b", "a%2Fb", "\uD83D\uDD12", "\uE000");
        List<LockHandle> handles = new ArrayList<>();
        for (String n : names) {
            handles.add(client.lock(n).tryAcquire().orElseThrow(() -> new AssertionError("not acquired: " + n)));
        }
        ReadWriteLockClient other = client();
        for (String n : names) {
            assertThat(other.lock(n).tryAcquire()).as(n).isEmpty();
        }
        for (LockHandle handle : handles) {
            handle.release();
        }
    }

    // ---- sessions ---------------------------------------------------------------------------------

    @Test
    @DisplayName("an expired session makes its held locks lost at once and lets a waiter in")
    void sessionExpiryLosesHeldLocks() throws Exception {
        String name = name("expiry");
        CuratorFramework own = curator(Duration.ofSeconds(60));
        ReadWriteLockClient holderClient = closing(ZooKeeperLockClient.builder(own).build());
        LockHandle held = holderClient.lock(name).acquire();
        LockHandle other = holderClient.lock(name("expiry-other")).acquire();
        CountDownLatch lost = new CountDownLatch(2);
        held.onLost(lost::countDown);
        other.onLost(lost::countDown);
        CompletableFuture<LockHandle> waiter = client().lock(name).acquireAsync(Duration.ofSeconds(30));
        await().atMost(Duration.ofSeconds(5)).until(() -> children(directory(name)).size() == 2);

        zk.expireSession(own.getZookeeperClient().getZooKeeper());

        // the lease is two thirds of the 60 s session, no renewal is due for seconds: only the session event
        // can tell this soon
        assertThat(lost.await(5, TimeUnit.SECONDS)).as("both locks of the session lost").isTrue();
        assertThat(held.isHeld()).isFalse();
        assertThat(held.lostReason()).hasValueSatisfying(reason -> assertThat(reason).contains("session"));
        LockHandle next = waiter.get(5, TimeUnit.SECONDS);
        assertThat(next.fencingToken()).isGreaterThan(held.fencingToken());

        // the client carries on in its new session, and the Curator client it was given stays open
        LockHandle again = holderClient.lock(name("after-expiry")).acquire();
        again.release();
        holderClient.close();
        assertThat(own.getState()).isEqualTo(CuratorFrameworkState.STARTED);
    }

    @Test
    @DisplayName("zookeeper:// URIs connect through LockClients, the path being the chroot")
    void providerConnectsWithChroot() throws Exception {
        String chroot = "app-" + UUID.randomUUID();
        LockClient client = closing(LockClients.connect(URI.create("zookeeper://" + zk.connectString() + "/" + chroot)));
        String name = name("uri");
        LockHandle handle = client.lock(name).acquire();
        assertThat(children("/" + chroot + directory(name))).hasSize(1);
        handle.release();
        Optional<LockHandle> again = client.lock(name).tryAcquire();
        assertThat(again).isPresent();
        again.get().release();
    }

    // ---- read-write rules of one thread -----------------------------------------------------------

    @Test
    @DisplayName("a thread holding the write lock reads at once (downgrade); asking for write while reading is refused")
    void downgradeIsAllowedAndUpgradeRefused() throws Exception {
        ReadWriteLockClient client = client();
        DistributedReadWriteLock rw = client.readWriteLock(name("rw-rules"));
        LockHandle write = rw.writeLock().acquire();
        Optional<LockHandle> read = rw.readLock().tryAcquire(Duration.ofSeconds(2));
        assertThat(read).as("read under the thread's own write lock").isPresent();
        write.release();
        assertThat(read.get().isHeld()).isTrue();
        assertThat(client().readWriteLock(rw.name()).writeLock().tryAcquire()).as("still exclusive").isEmpty();
        read.get().release();

        LockHandle reading = rw.readLock().acquire();
        long started = System.nanoTime();
        assertThatThrownBy(() -> rw.writeLock().tryAcquire(Duration.ofSeconds(5)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("holds its read lock");
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(2));
        reading.release();
        Optional<LockHandle> writeNow = rw.writeLock().tryAcquire(Duration.ofSeconds(5));
        assertThat(writeNow).isPresent();
        writeNow.get().release();
    }

    // ---- base path and chroot ---------------------------------------------------------------------

    @Test
    @DisplayName("a base path on an ephemeral node is refused at build(), naming the node")
    void basePathOnEphemeralNodeIsRefused() throws Exception {
        String ephemeral = "/eph-" + UUID.randomUUID();
        admin().create().withMode(CreateMode.EPHEMERAL).forPath(ephemeral);

        for (String basePath : List.of(ephemeral, ephemeral + "/locks")) {
            assertThatThrownBy(() -> ZooKeeperLockClient.builder(zk.connectString()).basePath(basePath).build())
                    .as(basePath).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("the node " + ephemeral).hasMessageContaining("an ephemeral node")
                    .hasMessageContaining("choose a basePath on persistent nodes");
        }
        // ZooKeeper reports container and TTL nodes with ephemeralOwner 0, like persistent ones: they pass
        String persistent = "/ok-" + UUID.randomUUID();
        admin().create().forPath(persistent);
        closing(ZooKeeperLockClient.builder(zk.connectString()).basePath(persistent + "/locks").build()).close();
    }

    @Test
    @DisplayName("a chroot on an ephemeral node is refused at build() within the command timeout")
    void chrootOnEphemeralNodeIsRefusedInBoundedTime() throws Exception {
        String chroot = "/eph-" + UUID.randomUUID();
        admin().create().withMode(CreateMode.EPHEMERAL).forPath(chroot);
        long started = System.nanoTime();
        assertThatThrownBy(() -> ZooKeeperLockClient.builder(zk.connectString() + chroot + "/app")
                        .commandTimeout(Duration.ofSeconds(2)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("the node " + chroot)
                .hasMessageContaining("the chroot " + chroot + "/app").hasMessageContaining("choose a chroot");
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
    }
}
