package io.distkit.benchmarks;

import io.distkit.lock.etcd.EtcdLockClient;
import io.distkit.testkit.server.EtcdCluster;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.lease.LeaseKeepAliveResponse;
import io.etcd.jetcd.lock.LockResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.support.CloseableClient;
import io.etcd.jetcd.support.Observers;
import io.etcd.jetcd.watch.WatchEvent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.runner.IterationType;

/**
 * The etcd lock backend against jetcd's lock service (etcd's built-in {@code v3lockpb.Lock}) and against
 * the two-round-trip limit, on a private single-member etcd cluster ({@code etcd} on the PATH or in
 * {@code DISTKIT_ETCD_BIN}) that each trial starts for itself (issue 15). {@code storage} says where its data
 * goes: {@code MEMORY} (default; {@code /dev/shm}, so that the figures compare clients rather than this
 * machine's disk syncs, which on a VM swing by tens of percent between runs) or {@code DISK} (the system temp
 * directory, every write fsynced to disk, as in production).
 *
 * <pre>
 * scripts/bench.sh EtcdLockBenchmark -f 3 -wi 5 -i 5 -w 3 -r 3
 * scripts/bench.sh EtcdLockBenchmark -p storage=DISK -f 3 -wi 5 -i 5 -w 3 -r 3
 * scripts/bench.sh EtcdLockBenchmark.acquireRelease -f 3 -wi 3 -i 5 -w 2 -r 3 -prof gc
 * scripts/bench.sh EtcdLockBenchmark.handoff -p settleMicros=10000,150000 -f 1 -wi 3 -i 5 -w 2 -r 3
 * </pre>
 *
 * <p>The targets: on {@code acquireRelease}, {@code DISTKIT} at least 1.2 times as fast as {@code JETCD_LOCK}
 * (its score at most {@code JETCD_LOCK}'s / 1.2) and at least 0.9 times as fast as {@code BARE_TXN} (its
 * score at most {@code BARE_TXN}'s / 0.9); on {@code handoff}, a hand-off latency of {@code DISTKIT} no
 * higher than {@code JETCD_LOCK}'s. As with the Redis suite, take ratios from several forks: a 2-core VM
 * moves single-fork figures by 15 %. Warm up for 15 s or more: {@code DISTKIT}'s path (engine, backend,
 * jetcd) is still being compiled after 5 s, when the bare loop is already flat.
 *
 * <p><b>acquireRelease</b>: one thread, one lock name, no contention; average time of one acquire plus
 * its release, every implementation on a 30 s lease.
 * <ul>
 *   <li>{@code DISTKIT} = {@code lock.acquire()} / {@code handle.release()} on a client built by
 *       {@code EtcdLockClient.builder(endpoints).build()} (default options: 30 s lease, auto-renew,
 *       reentrant): one session lease per client, an acquire in one transaction (put the acquisition's
 *       key, read the lowest), a release in one owner-checked delete transaction.
 *   <li>{@code JETCD_LOCK} = {@code client.getLockClient().lock(name, leaseId)} / {@code unlock(key)}, the
 *       lease granted once per client before the trial and kept alive by
 *       {@code client.getLeaseClient().keepAlive(leaseId, observer)}: its fairest setting, no grant per
 *       lock. etcd runs the lock server-side (a session on the given lease, then a mutex: put-if-absent
 *       transaction, wait for the keys before its own to go), {@code unlock} is a delete of the key.
 *   <li>{@code BARE_TXN} = the two-round-trip limit: one put-if-absent transaction (the key's create
 *       revision is 0, then put the owner value with the lease, granted once and kept alive as for
 *       {@code JETCD_LOCK}) and one delete, a transaction that deletes the key only if it still holds this
 *       owner's value (the owner-checked release every safe lock pays; the same round trip as a plain
 *       delete), jetcd futures awaited on one client. No fencing token, no queue, no renewal.
 * </ul>
 *
 * <p><b>handoff</b>: the latency of passing a held lock to a waiter, as in {@link RedisLockBenchmark}. Two
 * clients of the same implementation (two processes, in effect) and two threads: the benchmark thread holds
 * the lock, and a partner thread is blocked in its acquire call. The timed region is exactly one hand-off:
 * from the holder calling release until the partner's acquire has returned (seen by the benchmark thread
 * through a volatile write and an unpark, a thread wake-up that every implementation pays alike).
 * Everything that arranges the next hand-off is untimed, in a {@code Level.Invocation} set-up: the partner
 * releases, the benchmark thread re-acquires, the partner calls acquire again and is given {@code
 * settleMicros} (default 10 ms) to queue up and go to sleep: {@code DISTKIT} puts its key and watches its
 * predecessor's, {@code JETCD_LOCK}'s server-side mutex puts its key and watches, {@code BARE_TXN} finds
 * the key taken. The set-up fails the run if the partner got the lock before the release. The default is
 * longer than the Redis suite's 2 ms because a waiter here first makes an fsynced write (its queue key);
 * compare implementations at the same {@code settleMicros}. {@code BARE_TXN} here is the floor of a
 * notified hand-off: a waiter with one watch on the key (from before its first acquire, deletes only) that
 * retries the put-if-absent transaction on each delete event: the event's delivery plus one round trip.
 *
 * <p>Reading the hand-off figures. etcd's lock service waits with a watch from the revision it last read
 * ({@code concurrency.waitDelete}: {@code WithRev(header revision)}), not the next one; etcd puts such a watch
 * in its unsynced group, which it catches up every 100 ms, so a release within about 100 ms of the waiter
 * queueing up likely reaches {@code JETCD_LOCK}'s waiter only at the next catch-up (a 1 s smoke run at
 * 10 ms: median 82 ms against 7 ms for {@code DISTKIT}). A waiter that has waited longer is told at once.
 * For the target, compare at a settle time past that too: {@code -p settleMicros=10000,150000}.
 *
 * <p>At the end of each trial the requests the etcd member received during the measurement iterations are
 * printed per operation (its {@code grpc_server_msg_received_total} by method: a stream counts each message,
 * such as each keep-alive or watch request; the member's status probes left out), with {@code raft} the
 * consensus proposals committed (writes, lease grants and revocations, including those etcd's lock service
 * makes internally, which gRPC does not see): the round trips and the fsynced writes each implementation
 * pays, which explain most of the differences. For {@code handoff}, one op is a whole cycle: two acquires
 * and two releases.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
@Fork(1)
public class EtcdLockBenchmark {

    /** The lease every implementation asks for, in seconds (etcd leases are whole seconds). */
    static final long LEASE_SECONDS = 30;
    /** The longest a single etcd call other than a waiting acquire may take here. */
    static final Duration CALL_TIMEOUT = Duration.ofSeconds(10);


    /** The implementations compared, behind one facade. */
    public enum Impl {
        DISTKIT {
            @Override
            Locker open(EtcdCluster etcd, String name, boolean wakeWaiters) {
                return Locker.distkit(EtcdLockClient.builder(endpoints(etcd)).build(), name);
            }
        },
        JETCD_LOCK {
            @Override
            Locker open(EtcdCluster etcd, String name, boolean wakeWaiters) {
                return new JetcdLockLocker(etcd, name);
            }
        },
        BARE_TXN {
            @Override
            Locker open(EtcdCluster etcd, String name, boolean wakeWaiters) {
                return new BareTxnLocker(etcd, name, wakeWaiters);
            }
        };

        /**
         * A new client (a jetcd client and connection of its own) for lock {@code name}. {@code wakeWaiters}:
         * releases must wake waiters of other clients; only the bare implementation needs telling (its
         * waiter then watches the key).
         */
        abstract Locker open(EtcdCluster etcd, String name, boolean wakeWaiters);
    }

    static String[] endpoints(EtcdCluster etcd) {
        return etcd.endpoints().toArray(String[]::new);
    }

    static ByteSequence bytes(String text) {
        return ByteSequence.from(text, StandardCharsets.UTF_8);
    }

    /** The result of {@code future}, waiting at most {@link #CALL_TIMEOUT}. */
    static <T> T await(CompletableFuture<T> future) {
        try {
            return future.get(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            future.cancel(true);
            throw new IllegalStateException("interrupted while waiting for etcd", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("etcd call failed: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            future.cancel(true);
            throw new IllegalStateException("etcd call took longer than " + CALL_TIMEOUT, e);
        }
    }

    /**
     * A jetcd client with one lease of {@link #LEASE_SECONDS}, granted when the locker opens and kept alive
     * by jetcd's keep-alive stream until it closes: what the jetcd-based implementations share.
     */
    abstract static class LeasedClient implements Locker {
        final Client client;
        final long leaseId;
        private final CloseableClient keepAlive;

        LeasedClient(EtcdCluster etcd) {
            client = Client.builder().endpoints(endpoints(etcd)).build();
            try {
                leaseId = await(client.getLeaseClient().grant(LEASE_SECONDS)).getID();
                keepAlive = client.getLeaseClient().keepAlive(leaseId, Observers.<LeaseKeepAliveResponse>builder()
                        .onNext(response -> {})
                        .onError(e -> System.out.println("\nlease " + Long.toHexString(leaseId)
                                + ": keep-alive failed: " + e))
                        .build());
            } catch (RuntimeException e) {
                client.close();
                throw e;
            }
        }

        @Override
        public void close() {
            try {
                keepAlive.close();
                await(client.getLeaseClient().revoke(leaseId)); // its keys go with it
            } finally {
                client.close();
            }
        }
    }

    /** jetcd's lock service: {@code lock(name, leaseId)} returns the key that {@code unlock(key)} deletes. */
    static final class JetcdLockLocker extends LeasedClient {
        private final ByteSequence name;

        JetcdLockLocker(EtcdCluster etcd, String name) {
            super(etcd);
            this.name = bytes("jetcd-lock/" + name);
        }

        @Override
        public Object acquire() throws InterruptedException {
            CompletableFuture<LockResponse> locked = client.getLockClient().lock(name, leaseId);
            try {
                return locked.get().getKey(); // blocks as long as the lock is held elsewhere
            } catch (InterruptedException e) {
                locked.cancel(true);
                throw e;
            } catch (ExecutionException e) {
                throw new IllegalStateException("jetcd lock failed: " + e.getCause(), e.getCause());
            }
        }

        @Override
        public void release(Object held) {
            await(client.getLockClient().unlock((ByteSequence) held));
        }
    }

    /**
     * The limit: a put-if-absent transaction to acquire, a value-checked delete transaction to release,
     * one jetcd client. With {@code wakeWaiters}, a watch on the key (deletes only), started before the
     * first acquire from the revision then current, lets a waiter retry on each delete.
     */
    static final class BareTxnLocker extends LeasedClient {
        private final KV kv;
        private final String keyText;
        private final ByteSequence key;
        private final PutOption withLease;
        private final String ownerPrefix = UUID.randomUUID() + ":";
        private long sequence;
        private final Semaphore wakeUps = new Semaphore(0);
        private final Watch.@Nullable Watcher watcher;

        BareTxnLocker(EtcdCluster etcd, String name, boolean wakeWaiters) {
            super(etcd);
            kv = client.getKVClient();
            keyText = "bare/lock/" + name;
            key = bytes(keyText);
            withLease = PutOption.builder().withLeaseId(leaseId).build();
            if (wakeWaiters) {
                // from the revision read now: no delete after it can be missed, however long the watch takes to start
                long revision;
                try {
                    revision = await(kv.get(key)).getHeader().getRevision();
                } catch (RuntimeException e) {
                    super.close();
                    throw e;
                }
                watcher = client.getWatchClient().watch(key,
                        WatchOption.builder().withRevision(revision + 1).withNoPut(true).build(),
                        Watch.listener(response -> {
                            for (WatchEvent event : response.getEvents()) {
                                if (event.getEventType() == WatchEvent.EventType.DELETE) {
                                    wakeUps.release();
                                }
                            }
                        }, error -> {
                            System.out.println("\n" + keyText + ": watch failed: " + error);
                            wakeUps.release();
                        }));
            } else {
                watcher = null;
            }
        }

        @Override
        public Object acquire() throws InterruptedException {
            while (true) {
                wakeUps.drainPermits(); // a delete after this point leaves a permit for the wait below
                ByteSequence owner = bytes(ownerPrefix + ++sequence);
                TxnResponse put = await(kv.txn()
                        .If(new Cmp(key, Cmp.Op.EQUAL, CmpTarget.createRevision(0)))
                        .Then(Op.put(key, owner, withLease))
                        .commit());
                if (put.isSucceeded()) {
                    return owner;
                }
                if (watcher == null) {
                    throw new IllegalStateException("lock " + keyText + " was held at an uncontended acquire");
                }
                wakeUps.tryAcquire(LEASE_SECONDS, TimeUnit.SECONDS); // a crashed holder's key goes with its lease
            }
        }

        @Override
        public void release(Object held) {
            TxnResponse deleted = await(kv.txn()
                    .If(new Cmp(key, Cmp.Op.EQUAL, CmpTarget.value((ByteSequence) held)))
                    .Then(Op.delete(key, DeleteOption.DEFAULT))
                    .commit());
            if (!deleted.isSucceeded()) {
                throw new IllegalStateException("lock " + keyText + " was not held by "
                        + ((ByteSequence) held).toString(StandardCharsets.UTF_8) + " at release");
            }
        }

        @Override
        public void close() {
            try {
                if (watcher != null) {
                    watcher.close();
                }
            } finally {
                super.close();
            }
        }
    }

    @Param({"DISTKIT", "JETCD_LOCK", "BARE_TXN"})
    public Impl impl;

    private EtcdCluster etcd;
    private final List<Locker> lockers = new ArrayList<>();
    /** Operations in the measurement iterations, for the requests-per-operation line; one thread writes it. */
    private long measuredOps;
    private boolean measuring;
    /** The member's counters when the measurement began; null where not read (or the read failed). */
    private @Nullable Map<String, Long> countersBefore;

    /** Where etcd keeps its data; see the class comment. */
    public enum Storage { MEMORY, DISK }

    @Param({"MEMORY"})
    public Storage storage;

    @Setup(Level.Trial)
    public void startServer() {
        EtcdCluster.Builder cluster = EtcdCluster.builder().members(1);
        Path memory = Path.of("/dev/shm");
        if (storage == Storage.MEMORY) {
            if (!Files.isDirectory(memory)) {
                throw new IllegalStateException("storage=MEMORY needs /dev/shm; run with -p storage=DISK");
            }
            cluster.dataIn(memory);
        }
        etcd = cluster.build();
        etcd.start();
    }

    /** A client of this trial's implementation; closed before the cluster stops. */
    Locker open(String name, boolean wakeWaiters) {
        Locker locker = impl.open(etcd, name, wakeWaiters);
        lockers.add(locker);
        return locker;
    }

    /** From the first measurement iteration on, the member's requests are counted. */
    @Setup(Level.Iteration)
    public void countFromMeasurement(IterationParams iteration) {
        if (iteration.getType() == IterationType.MEASUREMENT && !measuring) {
            measuring = true;
            measuredOps = 0;
            countersBefore = counters();
        }
    }

    @TearDown(Level.Trial)
    public void stopServer() {
        try {
            if (measuring && measuredOps > 0 && countersBefore != null) {
                Map<String, Long> countersAfter = counters();
                if (countersAfter != null) {
                    System.out.println(requestsPerOp(countersBefore, countersAfter, measuredOps));
                }
            }
            for (Locker locker : lockers) {
                locker.close();
            }
        } finally {
            lockers.clear();
            etcd.close();
        }
    }

    /**
     * The member's received gRPC messages by {@code Service.Method} and {@code raft}, its committed proposals
     * ({@link EtcdCluster.Member#requestCounts()}); null, with a message, if {@code /metrics} cannot be read.
     */
    private @Nullable Map<String, Long> counters() {
        try {
            return etcd.member(0).requestCounts();
        } catch (RuntimeException e) {
            System.out.println("\n" + e.getMessage() + ": no request count for this trial");
            return null;
        }
    }

    private String requestsPerOp(Map<String, Long> before, Map<String, Long> after, long ops) {
        StringBuilder line = new StringBuilder(System.lineSeparator()).append("etcd requests per op (").append(impl)
                .append(", ").append(ops).append(" ops, gRPC messages received; raft = proposals committed):");
        EtcdCluster.countsBetween(before, after).forEach((counter, delta) -> {
            if (delta > 0) {
                line.append(String.format(" %s=%.2f", counter, (double) delta / ops));
            }
        });
        return line.toString();
    }

    /** The client of {@link #acquireRelease}. */
    @State(Scope.Thread)
    public static class Cycle {
        EtcdLockBenchmark bench;
        Locker locker;

        @Setup(Level.Trial)
        public void open(EtcdLockBenchmark bench) {
            this.bench = bench;
            locker = bench.open("acquire-release", false);
        }
    }

    /** One uncontended acquire and release on one thread; returns the handle so nothing is optimised away. */
    @Benchmark
    public Object acquireRelease(Cycle cycle) throws InterruptedException {
        Locker locker = cycle.locker;
        Object held = locker.acquire();
        locker.release(held);
        measuredOps++;
        return held;
    }

    /**
     * The two clients of {@link #handoff} and the partner thread that waits on the second
     * ({@link HandoffPair}).
     */
    @State(Scope.Thread)
    public static class Handoff {
        /** How long the partner is given to settle into waiting before the timed release. */
        @Param("10000")
        public long settleMicros;

        EtcdLockBenchmark bench;
        HandoffPair pair;

        @Setup(Level.Trial)
        public void open(EtcdLockBenchmark bench) {
            this.bench = bench;
            pair = new HandoffPair(bench.open("handoff", true), bench.open("handoff", true));
        }

        @Setup(Level.Invocation)
        public void arrange() throws Exception {
            pair.arrange(settleMicros);
            bench.measuredOps++;
        }

        @TearDown(Level.Trial)
        public void close() throws Exception {
            pair.close();
        }
    }

    /**
     * One hand-off: the holder releases, and the timer stops when the waiting partner holds the lock.
     * Sampled, so the output has percentiles too.
     */
    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    public Object handoff(Handoff h) {
        return h.pair.handOff();
    }
}
