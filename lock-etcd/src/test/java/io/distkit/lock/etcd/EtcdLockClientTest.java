package io.distkit.lock.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockClients;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.lock.ReadWriteLockClient;
import io.distkit.testkit.Closer;
import io.distkit.testkit.server.EtcdCluster;
import io.distkit.testkit.server.FaultProxy;
import io.distkit.testkit.server.Servers;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.LeaseOption;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The etcd client's own rules: input checks, bounded failures, the key layout, tokens and wake-ups. */
class EtcdLockClientTest {

    @RegisterExtension
    static EtcdCluster etcd = EtcdCluster.builder().build();

    private static Client admin;
    private final Closer closer = new Closer();

    @BeforeAll
    static void connectAdmin() {
        admin = Client.builder().endpoints(etcd.endpoints().toArray(String[]::new)).build();
    }

    @AfterAll
    static void closeAdmin() {
        if (admin != null) {
            admin.close();
        }
    }

    @AfterEach
    void closeClients() throws Exception {
        closer.close();
    }

    private LockClient client() {
        return closer.add(EtcdLockClient.builder(etcd.endpoints().toArray(String[]::new)).build());
    }

    private static String uniqueName(String prefix) {
        return prefix + "-" + UUID.randomUUID();
    }

    /** The keys under a lock's prefix, lowest create revision first. */
    private static List<KeyValue> keysOf(String keyPrefix, String name) throws Exception {
        return admin.getKVClient().get(ByteSequence.from(EtcdLockClient.lockPrefix(keyPrefix, name), StandardCharsets.UTF_8),
                        GetOption.builder().isPrefix(true).withSortField(GetOption.SortTarget.CREATE)
                                .withSortOrder(GetOption.SortOrder.ASCEND).build())
                .get(10, TimeUnit.SECONDS).getKvs();
    }

    // ---- bad input ----------------------------------------------------------------------------------

    @Test
    void leaseTimesThatAreNotWholeSecondsOrBelowTheMinimumAreRefused() {
        LockClient client = client();
        for (Duration bad : List.of(Duration.ofMillis(2500), Duration.ofSeconds(1), Duration.ofMillis(1999))) {
            LockOptions options = LockOptions.builder().leaseTime(bad).build();
            assertThatThrownBy(() -> client.lock("n", options)).as(bad.toString())
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("leaseTime");
            assertThatThrownBy(() -> EtcdLockClient.builder("127.0.0.1:2379").defaultOptions(options))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("leaseTime");
        }
        assertThatThrownBy(() -> client.lock("n", LockOptions.builder().leaseTime(Duration.ofSeconds(1)).build()))
                .hasMessageContaining("at least 2 s");
        assertThatThrownBy(() -> client.lock("n", LockOptions.builder().leaseTime(Duration.ofMillis(2500)).build()))
                .hasMessageContaining("whole seconds");
        assertThat(client.lock("n", LockOptions.builder().leaseTime(Duration.ofSeconds(2)).build()).name()).isEqualTo("n");
    }

    @Test
    void builderArgumentsAreChecked() {
        assertThatThrownBy(() -> EtcdLockClient.builder(new String[0])).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least one");
        assertThatThrownBy(() -> EtcdLockClient.builder("ftp://h:1")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("http or https");
        assertThatThrownBy(() -> EtcdLockClient.builder("http://host-without-port"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("port");
        assertThatThrownBy(() -> EtcdLockClient.builder((Client) null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> EtcdLockClient.builder("h:1").keyPrefix(" ")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("keyPrefix");
        assertThatThrownBy(() -> EtcdLockClient.builder("h:1").commandTimeout(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("commandTimeout");
    }

    @Test
    void malformedUrisAreRefusedWithTheReason() {
        assertThatThrownBy(() -> LockClients.connect(URI.create("etcd:///prefix")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no host");
        assertThatThrownBy(() -> LockClients.connect(URI.create("etcd://h1:2379,,h2:2379")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("empty host");
        assertThatThrownBy(() -> LockClients.connect(URI.create("etcd://h1:port")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a number");
        assertThatThrownBy(() -> LockClients.connect(URI.create("etcd://h1:70000")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("out of range");
        assertThatThrownBy(() -> LockClients.connect(URI.create("etcd://h1:2379?x=1")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("query");
        assertThatThrownBy(() -> LockClients.connect(URI.create("etcd://user@h1:2379")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("user:password");
        assertThatThrownBy(() -> LockClients.connect(URI.create("etcd:h1")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("//");
    }

    @Test
    void uriPartsReachTheBuilder() {
        // parsed, not connected: no call is made before the first lock is taken
        assertThat(EtcdLockClientProvider.parse(URI.create("etcds://u:p%40ss@h1:2379,h2/app/locks/"))).isNotNull();
    }

    // ---- failures are bounded -----------------------------------------------------------------------

    @Test
    void anUnreachableClusterFailsTheAcquireWithinTheCommandTimeout() {
        int closedPort = Servers.freePort();
        Duration timeout = Duration.ofSeconds(1);
        LockClient client = closer.add(EtcdLockClient.builder("http://127.0.0.1:" + closedPort)
                .commandTimeout(timeout).build());
        DistributedLock lock = client.lock(uniqueName("unreachable"));

        long start = System.nanoTime();
        assertThatThrownBy(lock::tryAcquire).isInstanceOf(LockBackendException.class)
                .hasMessageContaining("127.0.0.1:" + closedPort);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(timeout.plusSeconds(3));

        start = System.nanoTime();
        client.close();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("close is bounded too")
                .isLessThan(timeout.multipliedBy(2).plusSeconds(3));
    }

    @Test
    void aClusterThatAcceptsConnectionsButNeverAnswersFailsTheAcquireWithinTheCommandTimeout() throws Exception {
        URI member = URI.create(etcd.member(0).endpoint());
        FaultProxy proxy = closer.add(FaultProxy.builder().target(member.getHost(), member.getPort()).build());
        proxy.start();
        proxy.blackHole(); // connections are accepted and stay open; nothing ever comes back
        Duration timeout = Duration.ofSeconds(1);
        LockClient client = closer.add(EtcdLockClient.builder(proxy.uri("http")).commandTimeout(timeout).build());
        DistributedLock lock = client.lock(uniqueName("black-hole"));

        long start = System.nanoTime();
        assertThatThrownBy(lock::tryAcquire).isInstanceOf(LockBackendException.class)
                .hasMessageContaining("no reply").hasMessageContaining(String.valueOf(proxy.port()));
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(timeout.plusSeconds(2));

        CompletableFuture<LockHandle> waiting = client.lock(uniqueName("black-hole-wait")).acquireAsync(Duration.ofSeconds(30));
        assertThatThrownBy(() -> waiting.get(timeout.plusSeconds(2).toMillis(), TimeUnit.MILLISECONDS))
                .as("a waiting acquire fails too, long before its wait ends").hasCauseInstanceOf(LockBackendException.class);

        start = System.nanoTime();
        client.close();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("close is bounded too")
                .isLessThan(timeout.multipliedBy(2).plusSeconds(3));
    }

    // ---- keys and tokens ----------------------------------------------------------------------------

    @Test
    void theTokenIsTheKeysCreateRevisionAndGrows() throws Exception {
        String name = uniqueName("token");
        LockClient client = client();
        LockHandle first = client.lock(name).acquire();
        List<KeyValue> keys = keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name);
        assertThat(keys).hasSize(1);
        assertThat(keys.get(0).getCreateRevision()).isEqualTo(first.fencingToken());
        assertThat(keys.get(0).getLease()).isNotZero();
        first.release();
        assertThat(keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name)).as("released: the key is gone").isEmpty();

        LockHandle second = client().lock(name).acquire();
        assertThat(second.fencingToken()).isGreaterThan(first.fencingToken());
        assertThat(keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name).get(0).getCreateRevision())
                .isEqualTo(second.fencingToken());
    }

    @Test
    void keyNamesAreReusedSoALocksPrefixDoesNotGrowWithItsAcquisitions() throws Exception {
        String name = uniqueName("reuse");
        LockClient client = client();
        java.util.Set<ByteSequence> namesSeen = new java.util.HashSet<>();
        long previousToken = 0;
        for (int i = 0; i < 20; i++) {
            LockHandle handle = client.lock(name).acquire();
            List<KeyValue> keys = keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name);
            assertThat(keys).hasSize(1);
            namesSeen.add(keys.get(0).getKey());
            assertThat(handle.fencingToken()).isGreaterThan(previousToken);
            previousToken = handle.fencingToken();
            handle.release();
        }
        assertThat(namesSeen).as("one key name for 20 acquisitions one after the other").hasSize(1);

        // two at once (a holder and a waiter of one client) need two names, and reuse them afterwards
        LockHandle holder = client.lock(name).acquire();
        CompletableFuture<LockHandle> waiter = client.lock(name).acquireAsync(Duration.ofSeconds(10));
        await().atMost(Duration.ofSeconds(5)).until(() -> keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name).size() == 2);
        keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name).forEach(kv -> namesSeen.add(kv.getKey()));
        holder.release();
        waiter.get(5, TimeUnit.SECONDS).release();
        client.lock(name).acquire().release();
        assertThat(namesSeen).hasSize(2);
    }

    @Test
    void aTimedOutWaiterLeavesNoKeyBehind() throws Exception {
        String name = uniqueName("orphan");
        LockHandle holder = client().lock(name).acquire();
        DistributedLock other = client().lock(name);

        assertThat(other.tryAcquire(Duration.ofMillis(300))).isEmpty();
        assertThat(other.tryAcquire()).isEmpty();

        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name))
                .extracting(KeyValue::getCreateRevision).containsExactly(holder.fencingToken()));
        holder.release();
        assertThat(other.tryAcquire()).as("nobody queued ahead of it").isPresent();
    }

    @Test
    void aWaiterWakesWhenItsPredecessorIsDeletedNotByPolling() throws Exception {
        String name = uniqueName("wake");
        LockOptions longLease = LockOptions.builder().leaseTime(Duration.ofSeconds(60)).build();
        LockHandle first = closer.add(EtcdLockClient.builder(etcd.endpoints().toArray(String[]::new))
                .defaultOptions(longLease).build()).lock(name).acquire();
        LockClient waiting = closer.add(EtcdLockClient.builder(etcd.endpoints().toArray(String[]::new))
                .defaultOptions(longLease).build());
        CompletableFuture<LockHandle> second = waiting.lock(name).acquireAsync(Duration.ofSeconds(50));
        await().atMost(Duration.ofSeconds(5)).until(() -> keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name).size() == 2);
        InterceptedEtcd thirdEtcd = closer.add(new InterceptedEtcd(etcd.endpoints()));
        CompletableFuture<LockHandle> third = closer.add(EtcdLockClient.builder(thirdEtcd.client)
                .defaultOptions(longLease).build()).lock(name).acquireAsync(Duration.ofSeconds(50));
        await().atMost(Duration.ofSeconds(5)).until(() -> keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name).size() == 3);
        int thirdsTransactions = thirdEtcd.commits.get();

        long released = System.nanoTime();
        first.release();
        LockHandle next = second.get(5, TimeUnit.SECONDS);

        assertThat(Duration.ofNanos(System.nanoTime() - released)).isLessThan(Duration.ofSeconds(1));
        assertThat(next.fencingToken()).isGreaterThan(first.fencingToken());
        // one waiter per release: the third was not woken, so it sent nothing (its re-check is 20 s away)
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2))
                .until(() -> thirdEtcd.commits.get() == thirdsTransactions);
        assertThat(third).isNotDone();
        next.release();
        assertThat(third.get(5, TimeUnit.SECONDS).fencingToken()).isGreaterThan(next.fencingToken());
        assertThat(thirdEtcd.commits.get()).as("woken by the second release").isGreaterThan(thirdsTransactions);
    }

    @Test
    void readersQueuedBehindAWriterEnterTogetherAndALaterWriterWaitsForTheLastOfThem() throws Exception {
        String name = uniqueName("rw");
        LockOptions longLease = LockOptions.builder().leaseTime(Duration.ofSeconds(60)).build();
        ReadWriteLockClient writers = closer.add(
                EtcdLockClient.builder(etcd.endpoints().toArray(String[]::new)).defaultOptions(longLease).build());
        ReadWriteLockClient readers = closer.add(
                EtcdLockClient.builder(etcd.endpoints().toArray(String[]::new)).defaultOptions(longLease).build());
        LockHandle plain = client().lock(name).acquire(); // the plain lock of the name is another lock
        LockHandle writer = writers.readWriteLock(name).writeLock().acquire();
        List<CompletableFuture<LockHandle>> waitingReaders = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            waitingReaders.add(readers.readWriteLock(name).readLock().acquireAsync(Duration.ofSeconds(30)));
        }
        ByteSequence readWriteKeys = ByteSequence.from(EtcdLockClient.normalisePrefix(EtcdLockClient.DEFAULT_KEY_PREFIX)
                + EtcdLockBackend.encodeName(name) + "%rw/", StandardCharsets.UTF_8);
        await().atMost(Duration.ofSeconds(5)).until(() -> admin.getKVClient()
                .get(readWriteKeys, GetOption.builder().isPrefix(true).build()).get(5, TimeUnit.SECONDS).getCount() == 4);
        CompletableFuture<LockHandle> laterWriter = writers.readWriteLock(name).writeLock()
                .acquireAsync(Duration.ofSeconds(30));
        assertThat(waitingReaders).noneMatch(CompletableFuture::isDone);

        writer.release();
        List<LockHandle> reads = new ArrayList<>();
        for (CompletableFuture<LockHandle> reader : waitingReaders) {
            reads.add(reader.get(5, TimeUnit.SECONDS));
        }
        assertThat(reads).allMatch(LockHandle::isHeld)
                .allSatisfy(read -> assertThat(read.fencingToken()).isGreaterThan(writer.fencingToken()));
        for (int i = 0; i < reads.size(); i++) {
            assertThat(laterWriter).as("a writer waits while %d readers hold", reads.size() - i).isNotDone();
            reads.get(i).release();
        }
        LockHandle next = laterWriter.get(5, TimeUnit.SECONDS);
        assertThat(next.fencingToken()).isGreaterThan(reads.stream().mapToLong(LockHandle::fencingToken).max().orElseThrow());
        assertThat(plain.isHeld()).isTrue();
        assertThat(keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name)).as("the plain lock's keys")
                .extracting(KeyValue::getCreateRevision).containsExactly(plain.fencingToken());
    }

    @Test
    void aWaiterWhoseKeyVanishedIsNotToldItHoldsTheLockOnThatKey() throws Exception {
        String name = uniqueName("vanished");
        LockHandle first = client().lock(name).acquire();
        CompletableFuture<LockHandle> second = client().lock(name).acquireAsync(Duration.ofSeconds(30));
        await().atMost(Duration.ofSeconds(5)).until(() -> keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name).size() == 2);
        KeyValue waiterKey = keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name).get(1);
        admin.getKVClient().delete(waiterKey.getKey()).get(10, TimeUnit.SECONDS); // as its session's expiry would

        first.release();
        LockHandle handle = second.get(10, TimeUnit.SECONDS);

        List<KeyValue> keys = keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name);
        assertThat(handle.fencingToken()).as("granted on a key put again, not on the vanished one")
                .isNotEqualTo(waiterKey.getCreateRevision()).isGreaterThan(first.fencingToken());
        assertThat(keys).extracting(KeyValue::getCreateRevision).containsExactly(handle.fencingToken());
    }

    @Test
    void closingTheClientRevokesItsSession() throws Exception {
        String name = uniqueName("revoke");
        LockClient client = EtcdLockClient.builder(etcd.endpoints().toArray(String[]::new)).build();
        closer.add(client);
        client.lock(name).acquire();
        long lease = keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name).get(0).getLease();
        assertThat(admin.getLeaseClient().timeToLive(lease, LeaseOption.DEFAULT).get(10, TimeUnit.SECONDS).getTTL())
                .isPositive();

        client.close();

        assertThat(admin.getLeaseClient().timeToLive(lease, LeaseOption.DEFAULT).get(10, TimeUnit.SECONDS).getTTL())
                .as("revoked").isEqualTo(-1);
        assertThat(keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name)).isEmpty();
    }

    @Test
    void aSessionEndedBehindTheClientsBackLosesAllItsLocksAndIsNeverReused() throws Exception {
        String name = uniqueName("session");
        LockClient client = closer.add(EtcdLockClient.builder(etcd.endpoints().toArray(String[]::new))
                .defaultOptions(LockOptions.builder().leaseTime(Duration.ofSeconds(3)).build()).build());
        LockHandle a = client.lock(name + "-a").acquire();
        LockHandle b = client.lock(name + "-b").acquire();
        long lease = keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name + "-a").get(0).getLease();
        assertThat(keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name + "-b").get(0).getLease())
                .as("one session per client and lease time").isEqualTo(lease);

        admin.getLeaseClient().revoke(lease).get(10, TimeUnit.SECONDS);

        await().atMost(Duration.ofSeconds(3 + 5)).until(() -> !a.isHeld() && !b.isHeld());
        LockHandle again = client.lock(name + "-a").tryAcquire().orElseThrow();
        assertThat(keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name + "-a").get(0).getLease())
                .as("a new session").isNotEqualTo(lease);
        assertThat(again.fencingToken()).isGreaterThan(a.fencingToken());
    }

    @Test
    void anAcquireThatFindsItsSessionGoneGrantsANewOneAtOnce() throws Exception {
        String name = uniqueName("gone");
        LockClient client = client(); // 30 s leases: no renewal notices the revoke before the next acquire
        LockHandle first = client.lock(name + "-a").acquire();
        long lease = keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name + "-a").get(0).getLease();
        admin.getLeaseClient().revoke(lease).get(10, TimeUnit.SECONDS);

        LockHandle second = client.lock(name + "-b").tryAcquire().orElseThrow();

        List<KeyValue> keys = keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name + "-b");
        assertThat(keys).extracting(KeyValue::getCreateRevision).containsExactly(second.fencingToken());
        assertThat(keys.get(0).getLease()).isNotEqualTo(lease);
        assertThat(second.fencingToken()).isGreaterThan(first.fencingToken());
    }

    @Test
    void renewalSendsOneKeepAlivePerSessionNotPerLock() throws Exception {
        Client real = closer.add(Client.builder().endpoints(etcd.endpoints().toArray(String[]::new)).build());
        java.util.concurrent.atomic.AtomicInteger keepAlives = new java.util.concurrent.atomic.AtomicInteger();
        io.etcd.jetcd.Lease countingLease = proxy(io.etcd.jetcd.Lease.class, real.getLeaseClient(), method -> {
            if (method.getName().equals("keepAliveOnce")) {
                keepAlives.incrementAndGet();
            }
        });
        Client counting = (Client) java.lang.reflect.Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {Client.class}, (p, method, args) -> method.getName().equals("getLeaseClient")
                        ? countingLease : invoke(method, real, args));
        LockClient client = closer.add(EtcdLockClient.builder(counting)
                .defaultOptions(LockOptions.builder().leaseTime(Duration.ofSeconds(2)).build()).build());
        String name = uniqueName("batch");
        List<LockHandle> held = new java.util.ArrayList<>();
        for (int i = 0; i < 5; i++) {
            held.add(client.lock(name + "-" + i).acquire());
        }
        int before = keepAlives.get();

        // about four renewal passes (every 2 s / 3): five locks renewed one by one would send some twenty
        await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(4))
                .until(() -> held.stream().allMatch(LockHandle::isHeld));

        assertThat(keepAlives.get() - before).isBetween(2, 9);
    }

    private static <T> T proxy(Class<T> type, T target, java.util.function.Consumer<java.lang.reflect.Method> seen) {
        return type.cast(java.lang.reflect.Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type},
                (p, method, args) -> {
                    seen.accept(method);
                    return invoke(method, target, args);
                }));
    }

    private static Object invoke(java.lang.reflect.Method method, Object target, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause();
        }
    }

    // ---- connect by URI -----------------------------------------------------------------------------

    @Test
    void connectsByUriWithAKeyPrefix() throws Exception {
        String hostPort = URI.create(etcd.endpoints().get(0)).getAuthority();
        String name = uniqueName("uri");
        LockClient client = closer.add(LockClients.connect(URI.create("etcd://" + hostPort + "/my-app/locks/")));

        Optional<LockHandle> handle = client.lock(name).tryAcquire();

        assertThat(handle).isPresent();
        assertThat(keysOf("my-app/locks/", name)).extracting(KeyValue::getCreateRevision)
                .containsExactly(handle.orElseThrow().fencingToken());
        assertThat(keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name)).isEmpty();
    }
}
