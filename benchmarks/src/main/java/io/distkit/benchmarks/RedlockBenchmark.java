package io.distkit.benchmarks;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.lock.redlock.RedlockClient;
import io.distkit.lock.redlock.RestartSafeguard;
import io.distkit.testkit.server.RedisServer;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.EpollProvider;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
import org.redisson.Redisson;
import org.redisson.RedissonMultiLock;
import org.redisson.api.RLock;
import org.redisson.api.RedissonClient;
import org.redisson.config.Config;
import org.redisson.config.TransportMode;

/**
 * The Redlock backend against Redisson's multi-master lock and against the bare quorum loop, on five private
 * {@code redis-server} masters (no persistence, no replicas) that each trial starts for itself, so nothing but
 * {@code redis-server} on the PATH (or in {@code DISTKIT_REDIS_BIN}) is needed.
 *
 * <pre>
 * scripts/bench.sh RedlockBenchmark -f 3 -wi 3 -i 5 -w 2 -r 3
 * scripts/bench.sh RedlockBenchmark.acquireRelease -f 3 -wi 3 -i 5 -w 2 -r 3 -prof gc
 * scripts/bench.sh RedlockBenchmark.handoff -p settleMicros=5000,20000 -f 1 -wi 3 -i 5 -w 2 -r 3
 * </pre>
 *
 * <p>The targets: on {@code acquireRelease}, {@code DISTKIT} at least 2 times as fast as {@code
 * REDISSON_REDLOCK} (its score at most half of Redisson's) and at least 0.8 times as fast as {@code BARE_QUORUM}
 * (its score at most {@code BARE_QUORUM}'s / 0.8: distkit's acquire script also advances the fencing counter,
 * its release publishes the release, and when the masters' counters disagree with the token it proposed it pays
 * one more parallel round trip, the write-back of the token to the quorum); on {@code handoff}, a
 * hand-off latency of {@code DISTKIT} no higher than {@code REDISSON_REDLOCK}'s. As with the single-server
 * suite ({@link RedisLockBenchmark}), take ratios from several forks: a 2-core VM moves single-fork figures by
 * 15 %, and here six processes (five servers and the JVM) share those cores.
 *
 * <p>Every implementation asks for the same 10 s lease. <b>Start-up wait</b>: {@code DISTKIT} runs its default
 * restart safeguard, {@link RestartSafeguard#DELAYED_TRUST}: a master's vote counts only once the master has
 * been up for {@code maxLeaseTime}, since a master restarted without persistence may have forgotten locks it
 * granted before. This trial's masters are all fresh, so for the first {@code maxLeaseTime} they refuse to
 * grant: {@code acquire()} keeps retrying by itself and {@code tryAcquire()} fails with a {@link
 * LockBackendException} saying the nodes are too young. A warm-up iteration would then time one 10 s stall, so
 * each distkit client, when opened, polls {@code tryAcquire()} until it is granted once (at most {@link
 * #READY_TIMEOUT}) before anything is measured. For the wait to be short, {@code maxLeaseTime} is the lease
 * itself (leases above {@code maxLeaseTime} are refused): every {@code DISTKIT} trial starts about 10 s late. The
 * safeguard costs nothing per operation once the masters are old enough, so this measures the default
 * configuration.
 *
 * <p><b>acquireRelease</b>: one thread, one lock name, no contention; average time of one acquire plus
 * its release.
 * <ul>
 *   <li>{@code DISTKIT} = {@code lock.acquire()} / {@code handle.release()} on a client built by {@code
 *       RedlockClient.builder(uris).maxLeaseTime(10 s).restartSafeguard(DELAYED_TRUST).defaultOptions(lease 10
 *       s)} (otherwise default: 100 ms node timeout, auto-renew, reentrant), which sends each step to the five masters
 *       in parallel and goes on at a majority.
 *   <li>{@code REDISSON_REDLOCK} = {@code RedissonMultiLock.lock(10, SECONDS)} / {@code unlock()} over five
 *       {@code RedissonClient}s (Redisson's single-server config, one client per master, on epoll like
 *       Lettuce), each giving one {@code RLock} of the name. {@code RedissonRedLock} is deprecated in the
 *       Redisson version distkit is measured against, so this uses its superclass, which runs the same code:
 *       with all five masters up both take the five locks one after another (a lock script each, then a script
 *       setting the lease by {@code PEXPIRE} on each, also one after another) and release them one after
 *       another. {@code RedissonRedLock} only overrides how many masters may fail (two of five, against none)
 *       and how long a waiter waits on each master, neither of which a run without failures reaches in {@code
 *       acquireRelease}.
 *   <li>{@code BARE_QUORUM} = the physical limit of a majority lock ({@link BareQuorumLocker}): bare Lettuce,
 *       one connection per master; {@code SET key owner NX PX 10000} sent to all five at once, done when three
 *       replied {@code OK}; release by a compare-and-delete script ({@code EVALSHA}) sent to all five at once,
 *       done when three deleted. Two parallel round trips; no fencing token, no renewal, no clock drift
 *       allowance beyond checking that the grant came within the lease.
 *   <li>{@code BARE_FENCED_QUORUM} = the same loop doing the server work of a fenced lock: lock-redis's acquire
 *       script with a proposed token (the lock, and the fence raised to the token) instead of the bare {@code
 *       SET}, and its release script (compare-and-delete and publish): what distkit's one-round-trip path asks of
 *       the masters, with nothing else around it. The gap between the two bare loops is the cost of the fencing
 *       token on the servers; the gap between this one and {@code DISTKIT} is distkit's client.
 * </ul>
 *
 * <p><b>handoff</b>: the latency of passing a held lock to a waiter, as in {@link RedisLockBenchmark} ({@link
 * HandoffPair}): two clients of the same implementation (two processes, in effect) on one lock name; the timed
 * region is one hand-off, from the holder calling release until the partner's acquire has returned. The
 * partner is given {@code settleMicros} (default 5 ms, longer than the single-server suite's 2 ms because a
 * waiter here asks five masters) to find the lock taken and go to sleep; compare implementations at the same
 * value. The set-up fails the run if the partner got the lock before the release. {@code BARE_QUORUM} here is
 * the floor of a notified hand-off: its waiter is subscribed (once, before its first acquire) to a release
 * channel on every master, the release script also publishes, and the waiter tries again when a majority of
 * the masters have published; see {@link BareQuorumLocker} for why it waits for three messages rather than
 * retrying on the first or spinning.
 *
 * <p>At the end of each trial the redis commands the five masters executed during the measurement iterations
 * are printed per operation, summed over the masters ({@code INFO commandstats}; commands called from scripts
 * are counted too): the round trips each implementation pays, which explains most of the differences. For
 * {@code handoff}, one op is a whole cycle: two acquires and two releases.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
@Fork(1)
public class RedlockBenchmark {

    /** The number of masters every implementation locks on. */
    static final int MASTERS = 5;
    /** A majority of {@link #MASTERS}. */
    static final int QUORUM = MASTERS / 2 + 1;
    /** The lease every implementation asks for; also distkit's {@code maxLeaseTime} (see the class comment). */
    static final Duration LEASE = Duration.ofSeconds(10);
    /** How long a distkit client may take, once opened, to be granted a lock by the fresh masters. */
    static final Duration READY_TIMEOUT = Duration.ofSeconds(30);
    /** The longest the bare loop waits for a majority of replies. */
    static final Duration CALL_TIMEOUT = Duration.ofSeconds(5);

    /** The implementations compared, behind one facade. */
    public enum Impl {
        DISTKIT {
            @Override
            Locker open(List<String> uris, String name, boolean wakeWaiters) throws InterruptedException {
                LockClient client = RedlockClient.builder(uris)
                        .maxLeaseTime(LEASE)
                        .restartSafeguard(RestartSafeguard.DELAYED_TRUST)
                        .defaultOptions(LockOptions.builder().leaseTime(LEASE).build())
                        .build();
                try {
                    DistributedLock lock = client.lock(name);
                    awaitFirstGrant(lock);
                    return Locker.distkit(client, lock);
                } catch (InterruptedException | RuntimeException e) {
                    client.close();
                    throw e;
                }
            }
        },
        REDISSON_REDLOCK {
            @Override
            Locker open(List<String> uris, String name, boolean wakeWaiters) {
                return new RedissonMultiLocker(uris, name);
            }
        },
        BARE_QUORUM {
            @Override
            Locker open(List<String> uris, String name, boolean wakeWaiters) {
                return new BareQuorumLocker(uris, name, wakeWaiters, false);
            }
        },
        BARE_FENCED_QUORUM {
            @Override
            Locker open(List<String> uris, String name, boolean wakeWaiters) {
                return new BareQuorumLocker(uris, name, wakeWaiters, true);
            }
        };

        /**
         * A new client (connections of its own to every master) for lock {@code name}. {@code wakeWaiters}:
         * releases must wake waiters of other clients; only the bare implementation needs telling (it then
         * publishes on release and subscribes for waiting).
         */
        abstract Locker open(List<String> uris, String name, boolean wakeWaiters) throws InterruptedException;
    }

    /**
     * Polls {@code lock.tryAcquire()} until it is granted once (and releases it), at most {@link
     * #READY_TIMEOUT}: the fresh masters refuse to grant until they have been up for {@code maxLeaseTime}.
     */
    static void awaitFirstGrant(DistributedLock lock) throws InterruptedException {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        String lastAnswer = "no answer";
        LockBackendException lastRefusal = null;
        do {
            try {
                Optional<LockHandle> granted = lock.tryAcquire();
                if (granted.isPresent()) {
                    granted.get().release();
                    return;
                }
                lastAnswer = "held by someone else"; // nobody else uses the lock: not a majority of grants yet
            } catch (LockBackendException e) {
                lastAnswer = "refused"; // the masters are too young yet
                lastRefusal = e;
            }
            TimeUnit.MILLISECONDS.sleep(200);
        } while (System.nanoTime() - deadline < 0);
        throw new IllegalStateException("the masters did not grant lock " + lock.name() + " within "
                + READY_TIMEOUT + " of the client opening; last answer: " + lastAnswer, lastRefusal);
    }

    /**
     * Redisson's single-server config for {@code uri}, on epoll when Netty's epoll is on the class path (Lettuce
     * picks it by itself then): the comparison is of the locks, not of NIO against epoll.
     */
    static RedissonClient redisson(String uri) {
        Config config = new Config();
        config.useSingleServer().setAddress(uri);
        if (EpollProvider.isAvailable()) {
            config.setTransportMode(TransportMode.EPOLL);
        }
        return Redisson.create(config);
    }

    /**
     * Redisson's multi-master lock: one {@code RedissonClient} and one {@code RLock} per master, joined by a
     * {@code RedissonMultiLock} (see the class comment for why not {@code RedissonRedLock}). Redisson's locks are
     * held per thread: a release must come from the thread that acquired ({@link HandoffPair} does so).
     */
    static final class RedissonMultiLocker implements Locker {
        private final List<RedissonClient> clients = new ArrayList<>();
        private final RLock lock;

        RedissonMultiLocker(List<String> uris, String name) {
            try {
                RLock[] perMaster = new RLock[uris.size()];
                for (int i = 0; i < perMaster.length; i++) {
                    RedissonClient client = redisson(uris.get(i));
                    clients.add(client);
                    perMaster[i] = client.getLock("redisson:" + name);
                }
                lock = new RedissonMultiLock(perMaster);
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        @Override
        public Object acquire() {
            lock.lock(LEASE.toMillis(), TimeUnit.MILLISECONDS);
            return lock;
        }

        @Override
        public void release(Object held) {
            lock.unlock();
        }

        @Override
        public void close() {
            for (RedissonClient client : clients) {
                client.shutdown(0, 5, TimeUnit.SECONDS);
            }
        }
    }

    /**
     * The physical limit of a majority lock: bare Lettuce async commands on one connection per master. Acquire
     * sends {@code SET key owner NX PX lease} to every master at once and holds the lock when a majority replied
     * {@code OK} within the lease; otherwise it deletes what it may have got (on every master that did not
     * answer no) and, waiting, tries again. Release sends a compare-and-delete script to every master at once
     * and is done when a majority deleted. Replies beyond the majority arrive later; each connection keeps its
     * commands in order, so a master always sees a release after the set it undoes.
     *
     * <p>Waiting, with {@code wakeWaiters}: the release script also publishes on a channel of the lock, on
     * each master, and the waiter is subscribed to it on every master before its first acquire (so no release
     * can be missed). It tries again once {@link #QUORUM} release messages have come since its last attempt
     * began: the lock is free for it when a majority of the masters have deleted the key, so an attempt on the
     * first message would often find the slower masters still holding and fail; and a busy spin (retrying
     * with a tiny back-off) would load the five masters with failing {@code SET}s while the holder works,
     * slowing the holder, and add up to one back-off to each hand-off. A waiter that gave back a partial grant
     * (fewer than a majority) publishes at most {@code QUORUM - 1} messages itself, so it cannot wake itself
     * into a loop. A holder that crashed publishes nothing: the waiter then tries again after a lease.
     */
    static final class BareQuorumLocker implements Locker {
        private static final String COMPARE_AND_DELETE =
                "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
        private static final String COMPARE_DELETE_PUBLISH =
                "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1])"
                        + " redis.call('PUBLISH', KEYS[2], '') return 1 end return 0";
        private static final SetArgs NX_PX = SetArgs.Builder.nx().px(LEASE.toMillis());

        private final RedisClient client = RedisClient.create();
        private final List<StatefulRedisConnection<String, String>> connections = new ArrayList<>();
        private final List<RedisAsyncCommands<String, String>> masters = new ArrayList<>();
        private final List<StatefulRedisPubSubConnection<String, String>> subscriptions = new ArrayList<>();
        private final String[] keys;
        private final String releaseSha;
        private final boolean wakeWaiters;
        private final String ownerPrefix = UUID.randomUUID() + ":";
        /** Acquire with lock-redis's script and a proposed token, as distkit's one-round-trip path does. */
        private final boolean fenced;
        private final String[] fenceKeys;
        private String acquireSha;
        private long lastProposed;
        private long sequence;
        private final Semaphore releaseMessages = new Semaphore(0);

        BareQuorumLocker(List<String> uris, String name, boolean wakeWaiters, boolean fenced) {
            this.wakeWaiters = wakeWaiters;
            this.fenced = fenced;
            String key = "bare:lock:{" + name + "}";
            keys = new String[] {key, key + ":released"};
            fenceKeys = new String[] {key, key + ":fence"};
            String releaseScript = fenced ? luaOf("release.lua")
                    : wakeWaiters ? COMPARE_DELETE_PUBLISH : COMPARE_AND_DELETE;
            try {
                String sha = null;
                for (String uri : uris) {
                    StatefulRedisConnection<String, String> connection =
                            client.connect(StringCodec.UTF8, RedisURI.create(uri));
                    connections.add(connection);
                    masters.add(connection.async());
                    sha = connection.sync().scriptLoad(releaseScript);
                    if (fenced) {
                        acquireSha = connection.sync().scriptLoad(luaOf("acquire.lua"));
                    }
                    if (wakeWaiters) {
                        StatefulRedisPubSubConnection<String, String> pubSub =
                                client.connectPubSub(StringCodec.UTF8, RedisURI.create(uri));
                        subscriptions.add(pubSub);
                        pubSub.addListener(new RedisPubSubAdapter<>() {
                            @Override
                            public void message(String channel, String message) {
                                releaseMessages.release();
                            }
                        });
                        pubSub.sync().subscribe(keys[1]); // confirmed before any acquire
                    }
                }
                releaseSha = sha;
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        @Override
        public Object acquire() throws InterruptedException {
            List<CompletableFuture<String>> replies = new ArrayList<>(masters.size());
            while (true) {
                releaseMessages.drainPermits(); // a release after this point leaves permits for the wait below
                String owner = ownerPrefix + ++sequence;
                long sent = System.nanoTime();
                Quorum granted = new Quorum();
                replies.clear();
                String proposed = fenced ? Long.toString(lastProposed = Math.max(lastProposed + 1,
                        ChronoUnit.MICROS.between(Instant.EPOCH, Instant.now()))) : null;
                for (RedisAsyncCommands<String, String> master : masters) {
                    CompletableFuture<String> reply;
                    if (fenced) {
                        reply = master.<List<Object>>evalsha(acquireSha, ScriptOutputType.MULTI, fenceKeys, owner,
                                Long.toString(LEASE.toMillis()), proposed).toCompletableFuture()
                                .thenApply(r -> Long.valueOf(1).equals(r.get(0)) ? "OK" : null);
                    } else {
                        reply = master.set(keys[0], owner, NX_PX).toCompletableFuture();
                    }
                    replies.add(reply);
                    reply.whenComplete((ok, e) -> granted.vote(e == null && "OK".equals(ok)));
                }
                if (await(granted) && System.nanoTime() - sent < LEASE.toNanos()) {
                    return owner;
                }
                giveBack(owner, replies);
                if (!wakeWaiters) {
                    throw new IllegalStateException("lock " + keys[0] + " was not granted at an uncontended acquire");
                }
                releaseMessages.tryAcquire(QUORUM, LEASE.toMillis(), TimeUnit.MILLISECONDS);
            }
        }

        /**
         * Deletes a partial (or late) grant on every master that may have granted it: all but those that
         * answered no. Not waited for: each master sees it before this locker's next {@code SET}, which goes
         * down the same connection.
         */
        private void giveBack(String owner, List<CompletableFuture<String>> replies) {
            for (int i = 0; i < masters.size(); i++) {
                CompletableFuture<String> reply = replies.get(i);
                boolean refused = reply.isDone() && !reply.isCompletedExceptionally() && reply.join() == null;
                if (!refused) {
                    masters.get(i).evalsha(releaseSha, ScriptOutputType.INTEGER, keys, owner);
                }
            }
        }

        @Override
        public void release(Object held) {
            String owner = (String) held;
            Quorum deleted = new Quorum();
            for (RedisAsyncCommands<String, String> master : masters) {
                master.<Long>evalsha(releaseSha, ScriptOutputType.INTEGER, keys, owner)
                        .whenComplete((reply, e) -> deleted.vote(e == null && reply != null && reply == 1));
            }
            boolean majority;
            try {
                majority = await(deleted);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while releasing lock " + keys[0], e);
            }
            if (!majority) {
                throw new IllegalStateException("lock " + keys[0] + " was not held by " + owner
                        + " on a majority of the masters at release");
            }
        }

        /** The outcome of {@code quorum}, waiting at most {@link #CALL_TIMEOUT}. */
        private boolean await(Quorum quorum) throws InterruptedException {
            try {
                return quorum.outcome.get(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (ExecutionException | TimeoutException e) {
                throw new IllegalStateException("no majority of replies on lock " + keys[0] + " within "
                        + CALL_TIMEOUT, e);
            }
        }

        /** A script of lock-redis, as its jar holds it. */
        private static String luaOf(String resource) {
            try (var in = io.distkit.lock.redis.internal.Script.class.getResourceAsStream(resource)) {
                return new String(java.util.Objects.requireNonNull(in, resource).readAllBytes(),
                        java.nio.charset.StandardCharsets.UTF_8);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        @Override
        public void close() {
            for (StatefulRedisPubSubConnection<String, String> pubSub : subscriptions) {
                pubSub.close();
            }
            for (StatefulRedisConnection<String, String> connection : connections) {
                connection.close();
            }
            client.shutdown();
        }
    }

    /**
     * The replies of one step sent to every master: true once {@link #QUORUM} said yes, false once so many
     * said no (or failed) that a majority can no longer say yes. Votes come from Lettuce's I/O threads.
     */
    static final class Quorum {
        final CompletableFuture<Boolean> outcome = new CompletableFuture<>();
        private final AtomicInteger yes = new AtomicInteger();
        private final AtomicInteger no = new AtomicInteger();

        void vote(boolean ok) {
            if (ok) {
                if (yes.incrementAndGet() == QUORUM) {
                    outcome.complete(true);
                }
            } else if (no.incrementAndGet() == MASTERS - QUORUM + 1) {
                outcome.complete(false);
            }
        }
    }

    @Param({"DISTKIT", "REDISSON_REDLOCK", "BARE_QUORUM", "BARE_FENCED_QUORUM"})
    public Impl impl;

    private final List<RedisServer> servers = new ArrayList<>();
    private final List<Locker> lockers = new ArrayList<>();
    /** Operations in the measurement iterations, for the commands-per-operation line; one thread writes it. */
    private long measuredOps;
    private boolean measuring;

    @Setup(Level.Trial)
    public void startServers() {
        try {
            for (int i = 0; i < MASTERS; i++) {
                RedisServer server = RedisServer.builder().persistence(RedisServer.Persistence.NONE).build();
                servers.add(server);
                server.start();
            }
        } catch (RuntimeException e) {
            stopServers();
            throw e;
        }
    }

    /** A client of this trial's implementation; closed before the servers stop. */
    Locker open(String name, boolean wakeWaiters) throws InterruptedException {
        List<String> uris = servers.stream().map(RedisServer::uri).toList();
        Locker locker = impl.open(uris, name, wakeWaiters);
        lockers.add(locker);
        return locker;
    }

    /** From the first measurement iteration on, the masters count commands afresh. */
    @Setup(Level.Iteration)
    public void countFromMeasurement(IterationParams iteration) {
        if (iteration.getType() == IterationType.MEASUREMENT && !measuring) {
            measuring = true;
            measuredOps = 0;
            for (RedisServer server : servers) {
                server.call("CONFIG", "RESETSTAT");
            }
        }
    }

    @TearDown(Level.Trial)
    public void stopServers() {
        try {
            if (measuring && measuredOps > 0) {
                System.out.println(commandsPerOp());
            }
            for (Locker locker : lockers) {
                locker.close();
            }
        } finally {
            lockers.clear();
            measuring = false;
            for (RedisServer server : servers) {
                server.close();
            }
            servers.clear();
        }
    }

    /** The commands the masters executed since {@code RESETSTAT}, summed over the masters, per measured op. */
    private String commandsPerOp() {
        Map<String, Long> calls = new TreeMap<>();
        Pattern stat = Pattern.compile("cmdstat_([a-z|_-]+):calls=(\\d+)");
        for (RedisServer server : servers) {
            Matcher m = stat.matcher(String.valueOf(server.call("INFO", "commandstats")));
            while (m.find()) {
                if (!m.group(1).equals("info") && !m.group(1).startsWith("config")) { // ours, not the lock's
                    calls.merge(m.group(1), Long.parseLong(m.group(2)), Long::sum);
                }
            }
        }
        StringBuilder line = new StringBuilder(System.lineSeparator()).append("redis commands per op on ")
                .append(MASTERS).append(" masters (").append(impl).append(", ").append(measuredOps)
                .append(" ops, calls from scripts included):");
        calls.forEach((command, n) -> line.append(String.format(" %s=%.2f", command, (double) n / measuredOps)));
        return line.toString();
    }

    /** The client of {@link #acquireRelease}. */
    @State(Scope.Thread)
    public static class Cycle {
        Locker locker;

        @Setup(Level.Trial)
        public void open(RedlockBenchmark bench) throws InterruptedException {
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
        @Param("5000")
        public long settleMicros;

        RedlockBenchmark bench;
        HandoffPair pair;

        @Setup(Level.Trial)
        public void open(RedlockBenchmark bench) throws InterruptedException {
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
