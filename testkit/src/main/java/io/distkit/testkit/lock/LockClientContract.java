package io.distkit.testkit.lock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockException;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockLostException;
import io.distkit.lock.LockOptions;
import io.distkit.lock.LockTimeoutException;
import io.distkit.testkit.history.CheckResult;
import io.distkit.testkit.history.LostUpdateWorkload;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The semantics every lock backend must have, as one JUnit 5 class a backend test extends:
 *
 * <pre>{@code
 * class RedisLockContractTest extends LockClientContract {
 *     @RegisterExtension static RedisServer redis = RedisServer.builder().build();
 *     protected LockClient newClient(LockOptions defaults) { return RedisLockClient.builder()...build(); }
 *     protected void deleteLockState(String name) { ... DEL the lock key ... }
 * }
 * }</pre>
 *
 * <p>Every client a test makes is a separate connection to the same backend, as two processes
 * would be; the contract closes them after each test. Every test uses lock names of its own, so a
 * backend server may be shared by the whole class. Liveness is asserted with slack (a backend may
 * be slow), safety strictly. Each test fails on at least one plausible broken backend, and the
 * negative controls in testkit's own tests prove it for the in-memory reference.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
public abstract class LockClientContract {

    private final List<LockClient> clients = new ArrayList<>();
    private final ExecutorService threads = Executors.newCachedThreadPool(task -> {
        Thread thread = new Thread(task, "contract-worker");
        thread.setDaemon(true);
        return thread;
    });

    /** A new client of the backend under test, with these default options; closed by the contract. */
    protected abstract LockClient newClient(LockOptions defaults);

    /**
     * Removes the lock's state from the backend behind its holder's back, as an operator, a
     * failover or an expired session would.
     */
    protected abstract void deleteLockState(String lockName);

    /**
     * The short lease the expiry tests use. Override where the server has a minimum (etcd's leases
     * are whole seconds).
     */
    protected Duration shortLease() {
        return Duration.ofSeconds(1);
    }

    /** How long a liveness assertion may take on top of the time the protocol needs. */
    protected Duration slack() {
        return Duration.ofSeconds(5);
    }

    @AfterEach
    void closeClients() {
        threads.shutdownNow();
        clients.forEach(LockClient::close);
    }

    protected final LockClient client() {
        return client(LockOptions.defaults());
    }

    protected final LockClient client(LockOptions defaults) {
        LockClient client = newClient(defaults);
        clients.add(client);
        return client;
    }

    /** A name no other test uses, so a shared server carries no state between tests. */
    protected static String uniqueName(String prefix) {
        return prefix + "-" + UUID.randomUUID();
    }

    private LockOptions shortLeaseOptions(boolean autoRenew) {
        return LockOptions.builder().leaseTime(shortLease()).autoRenew(autoRenew).build();
    }

    private static LockHandle held(Optional<LockHandle> handle) {
        assertThat(handle).as("lock acquired").isPresent();
        return handle.orElseThrow();
    }

    // ---- exclusion and waiting -------------------------------------------------------------------

    @Test
    @DisplayName("a held lock cannot be taken by another client")
    void heldLockExcludesOtherClients() throws Exception {
        String name = uniqueName("exclusive");
        LockHandle handle = client().lock(name).acquire();
        DistributedLock other = client().lock(name);

        assertThat(other.tryAcquire()).isEmpty();
        assertThat(other.tryAcquire(Duration.ofMillis(200))).isEmpty();
        assertThat(handle.isHeld()).isTrue();
    }

    @Test
    @DisplayName("tryAcquire without a wait returns at once, with a wait returns after the wait")
    void tryAcquireHonoursItsWait() throws Exception {
        String name = uniqueName("wait");
        client().lock(name).acquire();
        DistributedLock other = client().lock(name);

        long start = System.nanoTime();
        assertThat(other.tryAcquire()).isEmpty();
        assertThat(elapsed(start)).isLessThan(slack());

        Duration wait = Duration.ofMillis(500);
        start = System.nanoTime();
        assertThat(other.tryAcquire(wait)).isEmpty();
        assertThat(elapsed(start)).isGreaterThanOrEqualTo(wait).isLessThan(wait.plus(slack()));
    }

    @Test
    @DisplayName("a released lock can be taken at once")
    void releasedLockCanBeTakenAtOnce() throws Exception {
        String name = uniqueName("released");
        client().lock(name).acquire().release();

        assertThat(client().lock(name).tryAcquire()).isPresent();
    }

    @Test
    @DisplayName("a waiter is woken by the release, long before the holder's lease would run out")
    void waiterIsWokenByRelease() throws Exception {
        String name = uniqueName("handoff");
        LockHandle first = client(LockOptions.builder().leaseTime(Duration.ofSeconds(60)).build()).lock(name).acquire();
        CompletableFuture<LockHandle> waiter = client().lock(name).acquireAsync(Duration.ofSeconds(50));
        assertThat(waiter).isNotDone();

        long released = System.nanoTime();
        first.release();
        LockHandle second = waiter.get(slack().toMillis(), TimeUnit.MILLISECONDS);

        assertThat(elapsed(released)).isLessThan(slack());
        assertThat(second.fencingToken()).isGreaterThan(first.fencingToken());
    }

    @Test
    @DisplayName("locks of different names do not block each other")
    void independentNamesDoNotBlockEachOther() throws Exception {
        String name = uniqueName("independent");
        client().lock(name + "-a").acquire();

        assertThat(client().lock(name + "-b").tryAcquire()).isPresent();
        assertThat(client().lock(name + "-a ").tryAcquire()).as("a name differing by a space").isPresent();
    }

    // ---- reentrancy ------------------------------------------------------------------------------

    @Test
    @DisplayName("a reentrant acquire returns the same token and needs as many releases")
    void reentrantAcquireNeedsMatchingReleases() throws Exception {
        String name = uniqueName("reentrant");
        DistributedLock lock = client().lock(name);
        LockHandle outer = lock.acquire();
        LockHandle inner = held(lock.tryAcquire());
        DistributedLock other = client().lock(name);

        assertThat(inner.fencingToken()).isEqualTo(outer.fencingToken());
        inner.release();
        assertThat(inner.isHeld()).isFalse();
        assertThat(outer.isHeld()).isTrue();
        assertThat(other.tryAcquire()).as("still held after the inner release").isEmpty();

        outer.release();
        assertThat(other.tryAcquire(slack())).as("free after the outer release").isPresent();
    }

    @Test
    @DisplayName("with reentrancy off, the holding thread blocks on its own lock")
    void nonReentrantLockBlocksItsHolder() throws Exception {
        DistributedLock lock = client().lock(uniqueName("non-reentrant"),
                LockOptions.builder().reentrant(false).build());
        lock.acquire();

        assertThat(lock.tryAcquire()).isEmpty();
        assertThat(lock.tryAcquire(Duration.ofMillis(200))).isEmpty();
    }

    // ---- release ---------------------------------------------------------------------------------

    @Test
    @DisplayName("release is idempotent")
    void releaseIsIdempotent() throws Exception {
        LockHandle handle = client().lock(uniqueName("idempotent")).acquire();
        handle.release();
        handle.release();
        handle.close();

        assertThat(handle.isHeld()).isFalse();
    }

    @Test
    @DisplayName("a handle may be released from another thread")
    void releaseFromAnotherThread() throws Exception {
        String name = uniqueName("other-thread");
        LockHandle handle = client().lock(name).acquire();

        threads.submit(handle::release).get(slack().toMillis(), TimeUnit.MILLISECONDS);

        assertThat(handle.isHeld()).isFalse();
        assertThat(client().lock(name).tryAcquire()).isPresent();
    }

    @Test
    @DisplayName("a stale holder's release does not touch the new holder's lock")
    void releaseIsOwnerOnly() throws Exception {
        String name = uniqueName("owner-only");
        LockHandle stale = client(shortLeaseOptions(false)).lock(name).acquire();
        LockHandle current = held(client().lock(name).tryAcquire(shortLease().plus(slack())));

        assertThatThrownBy(stale::release).isInstanceOf(LockLostException.class);
        assertThat(current.isHeld()).isTrue();
        assertThat(client().lock(name).tryAcquire()).as("the new holder still holds it").isEmpty();
    }

    @Test
    @DisplayName("a holder that lost its lock unawares cannot release the new holder's lock")
    void unawareStaleHolderCannotReleaseNewHolder() throws Exception {
        String name = uniqueName("unaware");
        LockHandle stale = client(LockOptions.builder().leaseTime(Duration.ofSeconds(60)).build()).lock(name).acquire();
        deleteLockState(name); // the backend forgot it; the holder learns only at its next renewal, 20 s away
        LockHandle current = held(client().lock(name).tryAcquire(slack()));

        assertThatThrownBy(stale::release).isInstanceOf(LockLostException.class);
        assertThat(current.isHeld()).isTrue();
        assertThat(client().lock(name).tryAcquire()).as("the new holder still holds it").isEmpty();
        assertThat(current.fencingToken()).isGreaterThan(stale.fencingToken());
    }

    @Test
    @DisplayName("release after the lease was lost throws LockLostException, once")
    void releaseAfterLossThrows() throws Exception {
        String name = uniqueName("lost-release");
        LockHandle handle = client(shortLeaseOptions(true)).lock(name).acquire();
        deleteLockState(name);
        await().atMost(shortLease().plus(slack())).until(() -> !handle.isHeld());

        assertThatThrownBy(handle::release).isInstanceOf(LockLostException.class).hasMessageContaining(name);
        handle.release();
    }

    // ---- leases ----------------------------------------------------------------------------------

    @Test
    @DisplayName("the lease of a holder that stopped renewing frees the lock, not before it runs out")
    void leaseExpiryFreesTheLock() throws Exception {
        String name = uniqueName("expiry");
        long acquired = System.nanoTime();
        LockHandle stale = client(shortLeaseOptions(false)).lock(name).acquire();

        LockHandle next = held(client().lock(name).tryAcquire(shortLease().plus(slack())));

        assertThat(elapsed(acquired)).as("taken over after the lease").isGreaterThanOrEqualTo(
                shortLease().minus(shortLease().dividedBy(10)));
        assertThat(next.fencingToken()).isGreaterThan(stale.fencingToken());
        assertThat(stale.isHeld()).isFalse();
    }

    @Test
    @DisplayName("auto-renewal keeps a lock well past its lease time")
    void autoRenewKeepsTheLock() throws Exception {
        String name = uniqueName("renewed");
        LockHandle handle = client(shortLeaseOptions(true)).lock(name).acquire();
        DistributedLock other = client().lock(name);

        await().during(shortLease().multipliedBy(3)).atMost(shortLease().multipliedBy(3).plus(slack()))
                .pollInterval(Duration.ofMillis(100))
                .until(() -> handle.isHeld() && other.tryAcquire().isEmpty());
    }

    @Test
    @DisplayName("the lease deadline lies ahead, within one lease, and advances with renewals")
    void leaseDeadlineAdvancesWithRenewals() throws Exception {
        LockHandle handle = client(shortLeaseOptions(true)).lock(uniqueName("deadline")).acquire();
        var first = handle.leaseDeadline();

        assertThat(first).isAfter(java.time.Instant.now())
                .isBeforeOrEqualTo(java.time.Instant.now().plus(shortLease()));
        await().atMost(shortLease().plus(slack())).until(() -> handle.leaseDeadline().isAfter(first));
    }

    @Test
    @DisplayName("onLost fires once when the lock is removed from the backend")
    void onLostFiresWhenBackendStateIsRemoved() throws Exception {
        String name = uniqueName("on-lost");
        LockHandle handle = client(shortLeaseOptions(true)).lock(name).acquire();
        AtomicInteger fired = new AtomicInteger();
        CountDownLatch lost = new CountDownLatch(1);
        handle.onLost(() -> {
            fired.incrementAndGet();
            lost.countDown();
        });

        deleteLockState(name);

        assertThat(lost.await(shortLease().plus(slack()).toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        assertThat(handle.isHeld()).isFalse();
        AtomicInteger late = new AtomicInteger();
        handle.onLost(late::incrementAndGet);
        await().atMost(slack()).until(() -> late.get() == 1);
        await().during(shortLease()).atMost(shortLease().plus(slack())).until(() -> fired.get() == 1);
    }

    @Test
    @DisplayName("onLost does not fire for a normal release")
    void onLostIsSilentOnRelease() throws Exception {
        LockHandle handle = client(shortLeaseOptions(true)).lock(uniqueName("quiet")).acquire();
        AtomicInteger fired = new AtomicInteger();
        handle.onLost(fired::incrementAndGet);
        handle.release();

        await().during(shortLease()).atMost(shortLease().plus(slack())).until(() -> fired.get() == 0);
    }

    // ---- fencing ---------------------------------------------------------------------------------

    @Test
    @DisplayName("fencing tokens strictly increase across holders, also after a lease ran out")
    void fencingTokensStrictlyIncrease() throws Exception {
        String name = uniqueName("fencing");
        List<LockClient> both = List.of(client(), client());
        long previous = Long.MIN_VALUE;
        for (int i = 0; i < 10; i++) {
            LockHandle handle = both.get(i % 2).lock(name).acquire();
            assertThat(handle.fencingToken()).isGreaterThan(previous);
            previous = handle.fencingToken();
            handle.release();
        }
        client(shortLeaseOptions(false)).lock(name).acquire(); // abandoned: expires
        LockHandle afterExpiry = held(client().lock(name).tryAcquire(shortLease().plus(slack())));
        assertThat(afterExpiry.fencingToken()).isGreaterThan(previous);
    }

    // ---- interruption, async, close ----------------------------------------------------------------

    @Test
    @DisplayName("an interrupted waiter gives up and leaves nothing behind")
    void interruptDuringWait() throws Exception {
        String name = uniqueName("interrupt");
        LockHandle holder = client().lock(name).acquire();
        DistributedLock waiting = client().lock(name);
        CountDownLatch started = new CountDownLatch(1);
        AtomicReference<Thread> waiter = new AtomicReference<>();
        Future<Throwable> outcome = threads.submit(() -> {
            waiter.set(Thread.currentThread());
            started.countDown();
            try {
                waiting.acquire();
                return null;
            } catch (Throwable t) {
                return t;
            }
        });
        assertThat(started.await(slack().toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        await().atMost(slack()).until(() -> waiter.get().getState() != Thread.State.RUNNABLE);

        waiter.get().interrupt();

        assertThat(outcome.get(slack().toMillis(), TimeUnit.MILLISECONDS)).isInstanceOf(InterruptedException.class);
        holder.release();
        assertThat(client().lock(name).tryAcquire(slack())).as("nobody was left holding or queued").isPresent();
    }

    @Test
    @DisplayName("acquireAsync completes with the lock, or with LockTimeoutException when the wait runs out")
    void asyncAcquireAndTimeout() throws Exception {
        String name = uniqueName("async");
        LockHandle holder = client().lock(name).acquire();
        DistributedLock other = client().lock(name);

        CompletableFuture<LockHandle> timesOut = other.acquireAsync(Duration.ofMillis(300));
        assertThatThrownBy(() -> timesOut.get(slack().toMillis(), TimeUnit.MILLISECONDS))
                .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(LockTimeoutException.class);

        CompletableFuture<LockHandle> succeeds = other.acquireAsync(slack());
        holder.release();
        LockHandle handle = succeeds.get(slack().toMillis(), TimeUnit.MILLISECONDS);
        assertThat(handle.isHeld()).isTrue();
        assertThat(handle.fencingToken()).isGreaterThan(holder.fencingToken());
    }

    @Test
    @DisplayName("an acquireAsync callback that blocks stalls neither the backend's replies nor other locks of its client")
    void blockingAsyncCallbackStallsNothing() throws Exception {
        LockClient client = client();
        String name = uniqueName("blocking-callback");
        // held elsewhere first, so the acquire completes on a library thread, not on this one when the callback
        // is attached (a future already complete would run the callback here, which proves nothing)
        LockHandle holder = client().lock(name).acquire();
        CountDownLatch inCallback = new CountDownLatch(1);
        CountDownLatch letGo = new CountDownLatch(1);
        CompletableFuture<Void> blocked = client.lock(name).acquireAsync(slack())
                .thenAccept(handle -> {
                    inCallback.countDown();
                    try {
                        letGo.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    handle.release();
                });
        holder.release();
        try {
            assertThat(inCallback.await(slack().toMillis(), TimeUnit.MILLISECONDS)).as("callback ran").isTrue();
            for (int i = 0; i < 3; i++) {
                LockHandle other = held(client.lock(uniqueName("other")).tryAcquire(slack()));
                other.release();
            }
        } finally {
            letGo.countDown();
        }
        blocked.get(slack().toMillis(), TimeUnit.MILLISECONDS);
    }

    @Test
    @DisplayName("closing a client releases its locks and fails its waiters")
    void closeReleasesEverything() throws Exception {
        String name = uniqueName("close");
        LockClient closing = client();
        LockHandle a = closing.lock(name + "-a").acquire();
        LockHandle b = closing.lock(name + "-b").acquire();
        LockHandle blocker = client().lock(name + "-c").acquire();
        CompletableFuture<LockHandle> waiting = closing.lock(name + "-c").acquireAsync(Duration.ofSeconds(60));

        closing.close();
        closing.close();

        assertThat(a.isHeld()).isFalse();
        assertThat(b.isHeld()).isFalse();
        assertThat(client().lock(name + "-a").tryAcquire()).isPresent();
        assertThat(client().lock(name + "-b").tryAcquire()).isPresent();
        assertThatThrownBy(() -> waiting.get(slack().toMillis(), TimeUnit.MILLISECONDS))
                .hasCauseInstanceOf(LockException.class);
        assertThatThrownBy(() -> closing.lock(name)).isInstanceOf(IllegalStateException.class);
        assertThat(blocker.isHeld()).isTrue();
    }

    // ---- bad input -------------------------------------------------------------------------------

    @Test
    @DisplayName("bad names and waits are refused with a message naming the rule")
    void badArgumentsAreRefused() {
        LockClient client = client();
        assertThatThrownBy(() -> client.lock(null)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("name");
        assertThatThrownBy(() -> client.lock(" ")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("blank");
        assertThatThrownBy(() -> client.lock("x".repeat(LockOptions.MAX_NAME_LENGTH + 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at most 200");
        assertThat(client.lock("x".repeat(LockOptions.MAX_NAME_LENGTH)).name()).hasSize(200);
        assertThatThrownBy(() -> client.lock("n").tryAcquire(Duration.ofMillis(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("wait");
        assertThatThrownBy(() -> client.lock("n", null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    @DisplayName("names that look alike, nest or carry separators never share a lock")
    void namesNeverCollide() throws Exception {
        String base = uniqueName("names");
        List<String> names = List.of(base, base + "/x", base + ":x", base + "{x}", base + "%2F",
                base + "..", base.toUpperCase(), base + "é", base + "*");
        LockClient holder = client();
        for (String name : names) {
            assertThat(holder.lock(name).tryAcquire()).as("first acquire of %s", name).isPresent();
        }
        assertThat(client().lock(base + "?").tryAcquire()).isPresent();
    }

    /**
     * Pairs a store could fold into one row or key (a case-insensitive or PAD SPACE collation, Unicode
     * normalisation, a connection charset without 4-byte characters, a column too short) are distinct
     * locks; names that no store keeps exactly (an unpaired surrogate, NUL) are refused by every client.
     */
    @Test
    @DisplayName("awkward but legal names stay distinct locks, illegal ones are refused when the lock is made")
    void awkwardNamesStayDistinctAndIllegalOnesAreRefused() throws Exception {
        String base = uniqueName("awkward");
        String longest = base + "n".repeat(LockOptions.MAX_NAME_LENGTH - base.length() - 1);
        List<String> names = List.of(base + "A", base + "a", base + "x", base + "x ", base + "\u00E9",
                base + "e\u0301", base + "\uD83D\uDE00", base + "\uD83D\uDE01", base + "?", longest + "1", longest + "2");
        LockClient holder = client();
        for (String name : names) { // held one after the other: two names on one lock would block here
            assertThat(holder.lock(name).tryAcquire()).as("first acquire of %s", escaped(name)).isPresent();
        }
        DistributedLock[] others = names.stream().map(client()::lock).toArray(DistributedLock[]::new);
        for (DistributedLock other : others) {
            assertThat(other.tryAcquire()).as("%s is held", escaped(other.name())).isEmpty();
        }

        for (String illegal : List.of(base + "\u0000", base + "\uD83D", base + "\uDE00x")) {
            assertThatThrownBy(() -> holder.lock(illegal)).as(escaped(illegal))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("lock name must")
                    .hasMessageContaining("at index " + base.length());
        }
    }

    /** A name as Java source would write it, for assertion messages: non-ASCII characters escaped. */
    private static String escaped(String name) {
        StringBuilder out = new StringBuilder();
        name.chars().forEach(c -> out.append(c >= 0x20 && c < 0x7F ? String.valueOf((char) c)
                : String.format(java.util.Locale.ROOT, "\\u%04X", c)));
        return out.toString();
    }

    // ---- fuzz --------------------------------------------------------------------------------------

    /** Threads per client in the fuzz test. */
    protected int fuzzThreadsPerClient() {
        return 4;
    }

    /** Acknowledged increments the fuzz test runs to. */
    protected int fuzzIncrements() {
        return 400;
    }

    @Test
    @DisplayName("fuzz: threads of two clients increment a plain counter and a fenced register under the lock;"
            + " totals are exact and every checker passes")
    void fuzzExactCounter() throws Exception {
        String name = uniqueName("fuzz");
        LockOptions nonReentrant = LockOptions.builder().reentrant(false).build();
        LostUpdateWorkload.Result result = LostUpdateWorkload
                .builder(List.of(client(nonReentrant).lock(name), client(nonReentrant).lock(name)))
                .threadsPerClient(fuzzThreadsPerClient())
                .increments(fuzzIncrements())
                .duration(Duration.ofSeconds(60))
                .build()
                .run();

        assertThat(result.errors()).isEmpty();
        assertThat(result.acknowledged()).as("increments acknowledged").isGreaterThanOrEqualTo(fuzzIncrements());
        assertThat(result.plainCounter()).as("plain counter, only the lock protects it")
                .isEqualTo(result.criticalSections());
        CheckResult.assertAllValid(result.checkAll());
    }

    private static Duration elapsed(long startNanos) {
        return Duration.ofNanos(System.nanoTime() - startNanos);
    }
}
