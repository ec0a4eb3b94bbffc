package io.distkit.lock.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.Closer;
import io.distkit.testkit.history.CheckResult;
import io.distkit.testkit.history.Checkers;
import io.distkit.testkit.history.History;
import io.distkit.testkit.history.LockRecorder;
import io.distkit.testkit.history.LockRecorder.Held;
import io.distkit.testkit.history.Op;
import io.distkit.testkit.server.EtcdCluster;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.lock.LockResponse;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.LeaseOption;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * F25: etcd 3.4's lock RPC ({@code v3lock}, jetcd's {@code Lock} client) waits for the keys before the
 * waiter's own to be deleted and then answers success without looking whether the waiter's own key still
 * exists (etcd issue 11456, fixed in 3.5 by a re-check). A waiter whose lease expired while it waited has
 * lost its key; a client that queued after that is now the rightful holder; when the holder before both
 * releases, both are told they hold the lock.
 *
 * <p>The same schedule is run twice on the installed etcd (Debian's 3.4): once with the lock RPC, the
 * negative control, which the holder-interval checker must catch (two holders at once, one of them on a
 * key that is gone), and once with distkit's client, which must never be told it holds the lock on a key
 * that is gone: its waiter re-checks its key when it wakes and queues again behind the later client.
 * distkit keeps a waiting acquisition's lease alive, so there the waiter's lease is ended by revoking it
 * (what its expiry does: the lease and its key go), not by waiting for it to run out.
 */
@Timeout(60)
class EtcdNaiveRecipeFailureTest {

    /** The waiter's lease: etcd's minimum with the fixture's 1 s election timeout. Never kept alive. */
    private static final long WAITER_TTL_SECONDS = 2;
    private static final long LONG_TTL_SECONDS = 30;

    @RegisterExtension
    static EtcdCluster etcd = EtcdCluster.builder().build();

    private final Closer closer = new Closer();
    private Client admin;

    @AfterEach
    void close() throws Exception {
        closer.close();
    }

    private Client jetcd() {
        return closer.add(Client.builder().endpoints(etcd.endpoints().toArray(String[]::new)).build());
    }

    @Test
    @DisplayName("F25 negative control: etcd 3.4's lock RPC grants a waiter whose lease expired while another client holds the lock")
    void etcdsLockServiceGrantsAWaiterWhoseLeaseExpired() throws Exception {
        admin = jetcd();
        Client holder = jetcd();
        Client waiter = jetcd();
        Client contender = jetcd();
        String lockName = "naive-" + UUID.randomUUID();
        ByteSequence name = bytes(lockName);
        History history = new History();

        long holderLease = holder.getLeaseClient().grant(LONG_TTL_SECONDS).get(10, TimeUnit.SECONDS).getID();
        long contenderLease = contender.getLeaseClient().grant(LONG_TTL_SECONDS).get(10, TimeUnit.SECONDS).getID();
        long waiterLease = waiter.getLeaseClient().grant(WAITER_TTL_SECONDS).get(10, TimeUnit.SECONDS).getID();

        History.Pending holderCall = history.invoke("holder", Op.Type.ACQUIRE, lockName);
        LockResponse held = holder.getLockClient().lock(name, holderLease).get(10, TimeUnit.SECONDS);
        holderCall.ok(held.getHeader().getRevision());

        History.Pending waiterCall = history.invoke("waiter", Op.Type.ACQUIRE, lockName);
        CompletableFuture<LockResponse> waiting = waiter.getLockClient().lock(name, waiterLease);
        await().atMost(Duration.ofSeconds(5)).until(() -> naiveKeys(lockName).size() == 2);
        KeyValue waiterKey = naiveKeys(lockName).get(1);
        assertThat(waiterKey.getLease()).isEqualTo(waiterLease);

        // the waiter's lease runs out while it waits: etcd deletes its key
        await().atMost(Duration.ofSeconds(WAITER_TTL_SECONDS + 8)).pollInterval(Duration.ofMillis(100))
                .until(() -> admin.getLeaseClient().timeToLive(waiterLease, LeaseOption.DEFAULT)
                        .get(10, TimeUnit.SECONDS).getTTL() == -1);
        assertThat(naiveKeys(lockName)).extracting(KeyValue::getCreateRevision).containsExactly(held.getHeader().getRevision());
        assertThat(waiting).as("still waiting for the holder").isNotDone();

        // a client queues behind the holder; it is next by right
        History.Pending contenderCall = history.invoke("contender", Op.Type.ACQUIRE, lockName);
        CompletableFuture<LockResponse> contending = contender.getLockClient().lock(name, contenderLease);
        await().atMost(Duration.ofSeconds(5)).until(() -> naiveKeys(lockName).size() == 2);

        History.Pending release = history.invoke("holder", Op.Type.RELEASE, lockName, held.getHeader().getRevision(), Op.NONE);
        holder.getLockClient().unlock(held.getKey()).get(10, TimeUnit.SECONDS);
        release.ok();

        LockResponse contenderGrant = contending.get(10, TimeUnit.SECONDS);
        contenderCall.ok(contenderGrant.getHeader().getRevision());
        LockResponse waiterGrant = waiting.get(10, TimeUnit.SECONDS);
        waiterCall.ok(waiterGrant.getHeader().getRevision() + 1); // a token of its own: only the intervals matter here

        List<KeyValue> keys = naiveKeys(lockName);
        System.out.println("F25 negative control: lock RPC told the waiter it holds " + waiterGrant.getKey().toString(StandardCharsets.UTF_8)
                + " while the contender holds " + contenderGrant.getKey().toString(StandardCharsets.UTF_8) + "; keys left: "
                + keys.stream().map(kv -> kv.getKey().toString(StandardCharsets.UTF_8)).toList());
        assertThat(keys).as("the waiter's key is gone, the contender's is there")
                .extracting(kv -> kv.getKey().toString(StandardCharsets.UTF_8))
                .containsExactly(contenderGrant.getKey().toString(StandardCharsets.UTF_8))
                .doesNotContain(waiterGrant.getKey().toString(StandardCharsets.UTF_8));
        CheckResult check = Checkers.holderIntervals(history);
        assertThat(check.violations()).as("the checker sees two holders at once").isNotEmpty();
        System.out.println("F25 negative control flagged: " + check.violations().get(0));
    }

    @Test
    @DisplayName("F25: distkit's waiter whose lease expired while waiting is never told it holds the lock; it queues again behind the contender")
    void distkitsWaiterWhoseLeaseExpiredIsNeverToldItHoldsTheLock() throws Exception {
        admin = jetcd();
        String name = "f25-" + UUID.randomUUID();
        LockClient holderClient = closer.add(EtcdLockClient.builder(etcd.endpoints().toArray(String[]::new))
                .defaultOptions(LockOptions.builder().leaseTime(Duration.ofSeconds(LONG_TTL_SECONDS)).build()).build());
        LockClient waiterClient = closer.add(EtcdLockClient.builder(etcd.endpoints().toArray(String[]::new))
                .defaultOptions(LockOptions.builder().leaseTime(Duration.ofSeconds(LONG_TTL_SECONDS)).build()).build());
        LockClient contenderClient = closer.add(EtcdLockClient.builder(etcd.endpoints().toArray(String[]::new))
                .defaultOptions(LockOptions.builder().leaseTime(Duration.ofSeconds(LONG_TTL_SECONDS)).build()).build());
        LockRecorder recorder = new LockRecorder();

        Held holder = recorder.acquire("holder", holderClient.lock(name), Duration.ZERO);
        CompletableFuture<Optional<Held>> waiter = LockRecorder.async("waiter",
                () -> recorder.tryAcquire("waiter", waiterClient.lock(name), Duration.ofSeconds(40)));
        await().atMost(Duration.ofSeconds(5)).until(() -> distkitKeys(name).size() == 2);
        KeyValue waiterKey = distkitKeys(name).get(1);

        // a waiting acquisition keeps its lease alive, so its expiry is brought about from outside, as a
        // keep-alive lost past the TTL would: the lease ends and etcd deletes the waiter's key
        admin.getLeaseClient().revoke(waiterKey.getLease()).get(10, TimeUnit.SECONDS);
        assertThat(distkitKeys(name)).extracting(KeyValue::getCreateRevision).doesNotContain(waiterKey.getCreateRevision());
        assertThat(waiter).isNotDone();

        CompletableFuture<Optional<Held>> contender = LockRecorder.async("contender",
                () -> recorder.tryAcquire("contender", contenderClient.lock(name), Duration.ofSeconds(40)));
        await().atMost(Duration.ofSeconds(5)).until(() -> distkitKeys(name).stream()
                .anyMatch(kv -> kv.getCreateRevision() > waiterKey.getCreateRevision() && kv.getLease() != waiterKey.getLease()));

        holder.release();
        Held contenderHeld = LockRecorder.await(contender, Duration.ofSeconds(10)).orElseThrow();
        assertThat(keyExists(name, contenderHeld.token)).isTrue();
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(3))
                .until(() -> !waiter.isDone() && contenderHeld.handle.isHeld());

        contenderHeld.release();
        Held waiterHeld = LockRecorder.await(waiter, Duration.ofSeconds(10)).orElseThrow();
        assertThat(keyExists(name, waiterHeld.token)).as("granted on a key that exists, put again after the first vanished")
                .isTrue();
        assertThat(waiterHeld.token).isNotEqualTo(waiterKey.getCreateRevision()).isGreaterThan(contenderHeld.token);
        waiterHeld.release();

        Checkers.holderIntervals(recorder.history).assertValid();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }

    private boolean keyExists(String name, long createRevision) throws Exception {
        return distkitKeys(name).stream().anyMatch(kv -> kv.getCreateRevision() == createRevision);
    }

    /** The keys of a lock of etcd's lock service ({@code <name>/<lease hex>}), oldest first. */
    private List<KeyValue> naiveKeys(String lockName) throws Exception {
        return keys(lockName + "/");
    }

    private List<KeyValue> distkitKeys(String name) throws Exception {
        return keys(EtcdLockClient.lockPrefix(EtcdLockClient.DEFAULT_KEY_PREFIX, name));
    }

    private List<KeyValue> keys(String prefix) throws Exception {
        return admin.getKVClient().get(bytes(prefix), GetOption.builder().isPrefix(true)
                        .withSortField(GetOption.SortTarget.CREATE).withSortOrder(GetOption.SortOrder.ASCEND).build())
                .get(10, TimeUnit.SECONDS).getKvs();
    }

    private static ByteSequence bytes(String text) {
        return ByteSequence.from(text, StandardCharsets.UTF_8);
    }
}
