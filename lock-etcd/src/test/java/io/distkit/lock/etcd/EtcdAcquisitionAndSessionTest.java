package io.distkit.lock.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.lock.LockTimeoutException;
import io.distkit.lock.spi.Acquisition;
import io.distkit.lock.spi.Attempt;
import io.distkit.lock.spi.LockMode;
import io.distkit.lock.spi.LockRequest;
import io.distkit.testkit.Closer;
import io.distkit.testkit.server.EtcdCluster;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.options.GetOption;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
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

/** Grants given back, sessions (shared or not, ended, kept alive), keys left behind, and where stages complete. */
class EtcdAcquisitionAndSessionTest {

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

    private static String uniqueName(String prefix) {
        return prefix + "-" + UUID.randomUUID();
    }

    private static List<KeyValue> keysOf(String keyPrefix, String name) throws Exception {
        return admin.getKVClient().get(ByteSequence.from(EtcdLockClient.lockPrefix(keyPrefix, name), StandardCharsets.UTF_8),
                        GetOption.builder().isPrefix(true).withSortField(GetOption.SortTarget.CREATE)
                                .withSortOrder(GetOption.SortOrder.ASCEND).build())
                .get(10, TimeUnit.SECONDS).getKvs();
    }

    private static List<KeyValue> keysOf(String name) throws Exception {
        return keysOf(EtcdLockClient.DEFAULT_KEY_PREFIX, name);
    }

    private LockClient client(LockOptions defaults) {
        return closer.add(EtcdLockClient.builder(etcd.endpoints().toArray(String[]::new)).defaultOptions(defaults).build());
    }

    private LockClient client(InterceptedEtcd etcdClient, LockOptions defaults, Duration commandTimeout) {
        return closer.add(EtcdLockClient.builder(etcdClient.client).defaultOptions(defaults)
                .commandTimeout(commandTimeout).build());
    }

    private InterceptedEtcd intercepted() {
        return closer.add(new InterceptedEtcd(etcd.endpoints()));
    }

    private static LockOptions lease(int seconds) {
        return LockOptions.builder().leaseTime(Duration.ofSeconds(seconds)).build();
    }

    // ---- finding 1: a grant given back is never granted again -------------------------------------------

    @Test
    void anAttemptAfterAGrantWasGivenBackNeverGrantsThatCreateRevisionAgain() throws Exception {
        EtcdLockBackend backend = new EtcdLockBackend(admin, false, EtcdLockClient.DEFAULT_KEY_PREFIX,
                new EtcdCalls(Duration.ofSeconds(5), "etcd (test)"));
        try {
            String name = uniqueName("regrant");
            Acquisition<EtcdLease> acquisition = backend.newAcquisition(new LockRequest(name, LockMode.EXCLUSIVE,
                    Duration.ofSeconds(30), "owner-" + UUID.randomUUID(), true, false, true));
            Attempt<EtcdLease> first = acquisition.attempt().toCompletableFuture().get(10, TimeUnit.SECONDS);
            assertThat(first).isInstanceOf(Attempt.Acquired.class);
            Attempt.Acquired<EtcdLease> given = (Attempt.Acquired<EtcdLease>) first;

            // the engine found the grant late, gave it back, and asks again; its release may still be on its way
            Attempt<EtcdLease> second = acquisition.attempt().toCompletableFuture().get(10, TimeUnit.SECONDS);
            assertThat(second).isInstanceOf(Attempt.Acquired.class);
            long token = ((Attempt.Acquired<EtcdLease>) second).fencingToken();
            assertThat(token).as("a new key, not the one given back").isGreaterThan(given.fencingToken());

            // the delayed release of the first grant is applied now: it must not free the second
            assertThat(backend.release(given.lease()).toCompletableFuture().get(10, TimeUnit.SECONDS)).isFalse();
            assertThat(keysOf(name)).extracting(KeyValue::getCreateRevision).containsExactly(token);
            acquisition.finish(true).toCompletableFuture().get(10, TimeUnit.SECONDS);
        } finally {
            backend.close();
        }
    }

    // ---- finding 2a: locks that are not renewed do not share a renewed session --------------------------

    @Test
    void aLockThatIsNotRenewedRunsOutWhileTheClientsOtherLocksAreRenewed() throws Exception {
        String name = uniqueName("no-renew");
        LockClient client = client(lease(2));
        LockHandle renewed = client.lock(name + "-renewed").acquire();
        LockHandle once = client.lock(name + "-once", LockOptions.builder().leaseTime(Duration.ofSeconds(2))
                .autoRenew(false).build()).acquire();
        long renewedLease = keysOf(name + "-renewed").get(0).getLease();
        assertThat(keysOf(name + "-once").get(0).getLease()).as("not the renewed locks' session").isNotEqualTo(renewedLease);

        await().atMost(Duration.ofSeconds(2 + 5)).until(() -> keysOf(name + "-once").isEmpty());
        assertThat(renewed.isHeld()).isTrue();
        assertThat(keysOf(name + "-renewed")).hasSize(1);
        assertThat(once.isHeld()).isFalse();
    }

    // ---- finding 2b: keys of an acquisition that gave up are deleted even when the first delete fails ----

    @Test
    void aWaitingKeyWhoseDeleteFailedIsDeletedOnALaterRenewalPass() throws Exception {
        String name = uniqueName("abandoned");
        LockHandle holder = client(lease(30)).lock(name).acquire();
        InterceptedEtcd intercepted = intercepted();
        LockClient waiting = client(intercepted, lease(2), Duration.ofSeconds(2));
        LockHandle other = waiting.lock(name + "-other").acquire(); // keeps the session alive by its renewals
        CompletableFuture<LockHandle> waiter = waiting.lock(name).acquireAsync(Duration.ofSeconds(1));
        await().atMost(Duration.ofSeconds(5)).until(() -> keysOf(name).size() == 2);
        intercepted.failNextDelete.set(true);

        assertThatThrownBy(() -> waiter.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(LockTimeoutException.class);
        await().atMost(Duration.ofSeconds(5)).until(() -> !intercepted.failNextDelete.get());

        await().atMost(Duration.ofSeconds(6)).untilAsserted(() -> assertThat(keysOf(name))
                .extracting(KeyValue::getCreateRevision).containsExactly(holder.fencingToken()));
        assertThat(other.isHeld()).as("its session lives on").isTrue();
    }

    @Test
    void aPutThatLandsAfterItsAcquisitionGaveUpIsDeletedOnALaterRenewalPass() throws Exception {
        String name = uniqueName("late-put");
        InterceptedEtcd intercepted = intercepted();
        LockClient client = client(intercepted, lease(2), Duration.ofSeconds(1));
        LockHandle other = client.lock(name + "-other").acquire(); // keeps the session alive by its renewals
        CompletableFuture<Void> gate = new CompletableFuture<>();
        intercepted.holdNextPut.set(gate);
        int deletesBefore = intercepted.deletes.get();

        // the put gets no reply within the command timeout; the clean-up's delete finds nothing yet
        assertThatThrownBy(() -> client.lock(name).tryAcquire()).isInstanceOf(LockBackendException.class)
                .hasMessageContaining("no reply");
        // the clean-up's delete, then a renewal pass's retry of it: both find nothing, and the entry is kept
        await().atMost(Duration.ofSeconds(5)).until(() -> intercepted.deletes.get() >= deletesBefore + 2);
        gate.complete(null); // only now is the put sent: it lands after both, on a session that lives on
        assertThat(intercepted.heldPut.get(10, TimeUnit.SECONDS).isSucceeded()).as("the late put was applied").isTrue();

        await().atMost(Duration.ofSeconds(5)).until(() -> keysOf(name).isEmpty());
        assertThat(other.isHeld()).isTrue();
    }

    // ---- finding 3: a waiter whose session ended queues again ------------------------------------------

    @Test
    void aWaiterWhoseSessionEndedQueuesAgainAndGetsTheLock() throws Exception {
        String name = uniqueName("waiter-session");
        LockHandle holder = client(lease(30)).lock(name).acquire();
        InterceptedEtcd intercepted = intercepted();
        LockClient waiting = client(intercepted, lease(30), Duration.ofSeconds(5));
        CompletableFuture<LockHandle> waiter = waiting.lock(name).acquireAsync(Duration.ofSeconds(30));
        await().atMost(Duration.ofSeconds(5)).until(() -> keysOf(name).size() == 2);
        long lease = keysOf(name).get(1).getLease();
        // keep-alives go unanswered, so nothing tells the waiter that its session ended before its put does
        intercepted.keepAliveHook = realCall -> new CompletableFuture<>();
        admin.getLeaseClient().revoke(lease).get(10, TimeUnit.SECONDS);

        holder.release();

        LockHandle handle = waiter.get(10, TimeUnit.SECONDS);
        List<KeyValue> keys = keysOf(name);
        assertThat(keys).extracting(KeyValue::getCreateRevision).containsExactly(handle.fencingToken());
        assertThat(keys.get(0).getLease()).as("a new session").isNotEqualTo(lease);
    }

    // ---- finding 4: users' callbacks never run on jetcd's threads -------------------------------------

    @Test
    void anAsyncAcquireCompletesOnTheEnginesSchedulerNotOnJetcdsEventLoop() throws Exception {
        String name = uniqueName("threads");
        LockHandle holder = client(lease(30)).lock(name).acquire();
        CompletableFuture<String> thread = client(lease(30)).lock(name).acquireAsync(Duration.ofSeconds(30))
                .thenApply(handle -> Thread.currentThread().getName());
        await().atMost(Duration.ofSeconds(5)).until(() -> keysOf(name).size() == 2);

        holder.release();

        assertThat(thread.get(10, TimeUnit.SECONDS)).startsWith("distkit-lock-");
    }

    // ---- finding 5: at most one keep-alive stream per session ------------------------------------------

    @Test
    void unansweredKeepAlivesDoNotPileUpOneStreamPerRenewalPass() throws Exception {
        String name = uniqueName("streams");
        InterceptedEtcd intercepted = intercepted();
        LockClient client = client(intercepted, lease(2), Duration.ofMillis(700));
        LockHandle handle = client.lock(name).acquire();
        int before = intercepted.keepAlives.get();
        intercepted.keepAliveHook = realCall -> new CompletableFuture<>(); // never answered, never closed

        // renewals fail (each after 700 ms) and are retried before the deadline until the lock is lost; the
        // retry comes within twice the command timeout of the first keep-alive, so it must not open a stream
        await().atMost(Duration.ofSeconds(6)).until(() -> !handle.isHeld());

        assertThat(intercepted.keepAlives.get() - before).as("keep-alive streams opened").isEqualTo(1);
    }

    // ---- finding 6: a session found dead is reported at once -------------------------------------------

    @Test
    void aSessionFoundDeadByAnAcquireLosesItsLocksAtOnce() throws Exception {
        String name = uniqueName("report");
        LockClient client = client(lease(30)); // the next renewal is 10 s away
        LockHandle a = client.lock(name + "-a").acquire();
        LockHandle b = client.lock(name + "-b").acquire();
        long lease = keysOf(name + "-a").get(0).getLease();
        admin.getLeaseClient().revoke(lease).get(10, TimeUnit.SECONDS);

        Optional<LockHandle> c = client.lock(name + "-c").tryAcquire(); // finds the session gone

        assertThat(c).isPresent();
        await().atMost(Duration.ofSeconds(3)).until(() -> !a.isHeld() && !b.isHeld());
        assertThat(a.lostReason()).hasValueSatisfying(reason -> assertThat(reason).contains("ended"));
        assertThat(c.orElseThrow().isHeld()).isTrue();
    }

    // ---- finding 7: a keep-alive without an answer after a successful put is no failure -----------------

    @Test
    void aKeepAliveTimeoutAfterASuccessfulPutDoesNotFailTheAcquire() throws Exception {
        String name = uniqueName("keepalive-timeout");
        InterceptedEtcd intercepted = intercepted();
        LockClient client = client(intercepted, lease(3), Duration.ofSeconds(1));
        client.lock(name + "-first").acquire().release(); // grants the session; released: no renewal keeps it fresh
        // time passing, not synchronisation: a session older than a third of the lease is refreshed by an acquire
        Thread.sleep(1_100);
        java.util.concurrent.atomic.AtomicBoolean once = new java.util.concurrent.atomic.AtomicBoolean(true);
        intercepted.keepAliveHook = realCall -> {
            CompletableFuture<io.etcd.jetcd.lease.LeaseKeepAliveResponse> answer = realCall.get();
            if (!once.getAndSet(false)) {
                return answer;
            }
            // answered after the command timeout (1 s)
            CompletableFuture<io.etcd.jetcd.lease.LeaseKeepAliveResponse> late = new CompletableFuture<>();
            answer.whenComplete((response, failure) -> CompletableFuture.delayedExecutor(2, TimeUnit.SECONDS)
                    .execute(() -> late.complete(response)));
            return late;
        };

        LockHandle handle = client.lock(name).tryAcquire(Duration.ofSeconds(10)).orElseThrow();

        assertThat(once.get()).as("the slow keep-alive was sent").isFalse();
        assertThat(handle.isHeld()).isTrue();
        assertThat(keysOf(name)).extracting(KeyValue::getCreateRevision).containsExactly(handle.fencingToken());
    }

    @Test
    void anAcquireUnderARecentlyRestartedSessionSendsNoKeepAliveAndIsCountedFromThatRestart() throws Exception {
        String name = uniqueName("no-keepalive");
        InterceptedEtcd intercepted = intercepted();
        LockClient client = client(intercepted, lease(30), Duration.ofSeconds(5));
        LockHandle first = client.lock(name + "-first").acquire(); // grants the session
        java.util.concurrent.atomic.AtomicInteger keepAlives = new java.util.concurrent.atomic.AtomicInteger();
        intercepted.keepAliveHook = realCall -> {
            keepAlives.incrementAndGet();
            return realCall.get();
        };
        Thread.sleep(500); // time passing, not synchronisation: the session ages, well within a third of 30 s
        java.time.Instant asked = java.time.Instant.now();

        LockHandle second = client.lock(name).acquire();

        assertThat(keepAlives).as("keep-alives sent for an acquire under a 0.5 s old session").hasValue(0);
        assertThat(second.leaseDeadline()).as("counted from the session's grant, not from the acquire")
                .isBefore(asked.plus(Duration.ofSeconds(30)).minusMillis(400))
                .isBeforeOrEqualTo(first.leaseDeadline().plusMillis(50));
        second.release();
        first.release();
    }

    // ---- finding 8: key prefixes cannot alias ---------------------------------------------------------

    @Test
    void keyPrefixesWithoutATrailingSlashDoNotAlias() throws Exception {
        String prefix = "alias-" + UUID.randomUUID().toString().substring(0, 8) + "-lock";
        LockClient first = closer.add(EtcdLockClient.builder(etcd.endpoints().toArray(String[]::new)).keyPrefix(prefix).build());
        LockClient second = closer.add(EtcdLockClient.builder(etcd.endpoints().toArray(String[]::new))
                .keyPrefix(prefix + "s").build());

        Optional<LockHandle> a = first.lock("sx").tryAcquire();
        Optional<LockHandle> b = second.lock("x").tryAcquire();

        assertThat(a).isPresent();
        assertThat(b).as("another prefix, another lock").isPresent();
        assertThat(keysOf(prefix + "/", "sx")).hasSize(1);
        assertThat(keysOf(prefix + "s/", "x")).hasSize(1);
    }
}
