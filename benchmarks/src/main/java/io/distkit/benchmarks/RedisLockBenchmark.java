package io.distkit.benchmarks;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.redis.RedisLockClient;
import io.distkit.testkit.server.RedisServer;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.EpollProvider;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
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
import org.redisson.api.RLock;
import org.redisson.api.RedissonClient;
import org.redisson.config.Config;
import org.redisson.config.TransportMode;

/**
 * The Redis lock backend against Redisson's {@code RLock} and against the raw limit, on one private
 * {@code redis-server} (no persistence) that each trial starts for itself, so nothing but
 * {@code redis-server} on the PATH (or in {@code DISTKIT_REDIS_BIN}) is needed.
 *
 * <pre>
 * scripts/bench.sh RedisLockBenchmark -f 1 -wi 3 -i 5 -w 2 -r 3
 * scripts/bench.sh RedisLockBenchmark.acquireRelease -f 3 -wi 3 -i 5 -w 2 -r 3 -prof gc
 * </pre>
 *
 * <p>Take ratios from several forks: on a small VM one fork can settle into a state 15 % slower than the
 * next (thread placement, idle vCPUs), which a single fork reports as a difference between implementations.
 *
 * <p><b>acquireRelease</b>: one thread, one lock name, no contention; average time of one acquire plus
 * its release. {@code DISTKIT} = {@code lock.acquire()} / {@code handle.release()} on a client built by
 * {@code RedisLockClient.builder(uri).build()} (default options: 30 s lease, auto-renew, reentrant; blocking
 * calls spin up to 100 µs for the reply before parking, see {@code LockEngine.Builder.spinWait});
 * {@code DISTKIT_PARKED} = the same with {@code spinWait(Duration.ZERO)}, parking at once like the others;
 * {@code REDISSON} = {@code RLock.lock(30, SECONDS)} / {@code unlock()} with Redisson's default
 * single-server config, on epoll like Lettuce (Redisson's default NIO measured the same within the noise);
 * {@code LETTUCE_RAW} = a bare {@code SET key owner NX PX 30000} plus an
 * {@code EVALSHA} compare-and-delete, Lettuce sync commands on one connection: two round trips, the
 * limit any Redis lock with owner-checked release runs into.
 *
 * <p><b>handoff</b>: the latency of passing a held lock to a waiter. Two clients of the same
 * implementation (two processes, in effect) and two threads: the benchmark thread holds the lock, and a
 * partner thread is blocked in its acquire call. The timed region is exactly one hand-off: from the
 * holder calling release until the partner's acquire has returned (seen by the benchmark thread through
 * a volatile write and an unpark, a thread wake-up that every implementation pays alike). Everything
 * that arranges the next hand-off is untimed, in a {@code Level.Invocation} set-up: the partner
 * releases, the benchmark thread re-acquires, the partner calls acquire again and is given {@code
 * settleMicros} (default 2 ms) to find the lock taken, subscribe, check again and go to sleep. A
 * {@code @Group} of two threads looping acquire-release would mostly measure the releasing thread taking
 * the lock straight back (it needs no wake-up); explicit turn-taking makes every sample a wake-up. The
 * set-up fails the run if the partner got the lock before the release. {@code LETTUCE_RAW} here is the
 * floor of a notified hand-off: a waiter subscribed once and for all to a release channel, retrying
 * {@code SET NX PX} on each message, and a release script that deletes and publishes: the publish
 * delivery plus one round trip.
 *
 * <p>Reading the hand-off figures. A waiter is settled when it has answered "busy" twice (before and after
 * subscribing): the commands line shows {@code pttl=2.00} per op for {@code DISTKIT} and {@code REDISSON}
 * when every sample woke a sleeping waiter (about 1.98 at 2 ms on a 2-core VM: one sample in fifty
 * caught the waiter still checking, after a stall longer than the settle time). The absolute figures depend on
 * how long the machine sat idle before the release: on a VM whose idle vCPUs halt (cpuidle haltpoll), a
 * 10 ms settle makes every implementation's hand-off 2 to 3 times slower than a 2 ms one, because every
 * thread on the path wakes a halted vCPU. Compare implementations at the same {@code settleMicros}; try
 * {@code -p settleMicros=2000,10000}.
 *
 * <p>At the end of each trial the redis commands the server executed during the measurement iterations
 * are printed per operation ({@code INFO commandstats}; commands called from scripts are counted too):
 * the round trips each implementation pays, which explains most of the differences.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
@Fork(1)
public class RedisLockBenchmark {

    /** The lease every implementation asks for, in milliseconds. */
    static final long LEASE_MILLIS = 30_000;


    /** The implementations compared, behind one facade. */
    public enum Impl {
        DISTKIT {
            @Override
            Locker open(RedisServer server, String name, boolean wakeWaiters) {
                return Locker.distkit(RedisLockClient.builder(server.uri()).build(), name);
            }
        },
        /** distkit with {@code spinWait(ZERO)}: every blocking call parks its thread at once, as the others do. */
        DISTKIT_PARKED {
            @Override
            Locker open(RedisServer server, String name, boolean wakeWaiters) {
                return Locker.distkit(RedisLockClient.builder(server.uri()).spinWait(Duration.ZERO).build(), name);
            }
        },
        REDISSON {
            @Override
            Locker open(RedisServer server, String name, boolean wakeWaiters) {
                Config config = new Config();
                config.useSingleServer().setAddress(server.uri());
                if (EpollProvider.isAvailable()) {
                    // the transport Lettuce picks by itself when Netty's epoll is on the class path (it is here,
                    // through ZooKeeper): the comparison is of the locks, not of NIO against epoll
                    config.setTransportMode(TransportMode.EPOLL);
                }
                RedissonClient redisson = Redisson.create(config);
                RLock lock = redisson.getLock(name);
                return new Locker() {
                    @Override
                    public Object acquire() {
                        lock.lock(LEASE_MILLIS, TimeUnit.MILLISECONDS);
                        return lock;
                    }

                    @Override
                    public void release(Object held) {
                        lock.unlock(); // Redisson: only from the thread that locked
                    }

                    @Override
                    public void close() {
                        redisson.shutdown(0, 5, TimeUnit.SECONDS);
                    }
                };
            }
        },
        LETTUCE_RAW {
            @Override
            Locker open(RedisServer server, String name, boolean wakeWaiters) {
                return new RawLocker(server.uri(), name, wakeWaiters);
            }
        };

        /**
         * A new client (connections of its own) for lock {@code name}. {@code wakeWaiters}: releases must
         * wake waiters of other clients; only the raw implementation needs telling (it then publishes on
         * release and subscribes for waiting).
         */
        abstract Locker open(RedisServer server, String name, boolean wakeWaiters);
    }

    /**
     * The raw limit: {@code SET NX PX} to acquire, a compare-and-delete script by {@code EVALSHA} to
     * release, Lettuce sync commands on one connection. With {@code wakeWaiters}, the release script also
     * publishes, and a waiter subscribed (once, in advance) to that channel retries on each message.
     */
    static final class RawLocker implements Locker {
        private static final String COMPARE_AND_DELETE =
                "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
        private static final String COMPARE_DELETE_PUBLISH =
                "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1])"
                        + " redis.call('PUBLISH', KEYS[2], '') return 1 end return 0";
        private static final SetArgs NX_PX = SetArgs.Builder.nx().px(LEASE_MILLIS);

        private final RedisClient client;
        private final StatefulRedisConnection<String, String> connection;
        private final RedisCommands<String, String> sync;
        private final String[] keys;
        private final String releaseSha;
        private final String ownerPrefix = UUID.randomUUID() + ":";
        private long sequence;
        private final Semaphore wakeUps = new Semaphore(0);
        private final StatefulRedisPubSubConnection<String, String> pubSub;

        RawLocker(String uri, String name, boolean wakeWaiters) {
            client = RedisClient.create(uri);
            connection = client.connect(StringCodec.UTF8);
            sync = connection.sync();
            String key = "raw:lock:{" + name + "}";
            keys = new String[] {key, key + ":released"};
            releaseSha = sync.scriptLoad(wakeWaiters ? COMPARE_DELETE_PUBLISH : COMPARE_AND_DELETE);
            if (wakeWaiters) {
                pubSub = client.connectPubSub(StringCodec.UTF8);
                pubSub.addListener(new RedisPubSubAdapter<>() {
                    @Override
                    public void message(String channel, String message) {
                        wakeUps.release();
                    }
                });
                pubSub.sync().subscribe(keys[1]); // confirmed before any acquire: no release can be missed
            } else {
                pubSub = null;
            }
        }

        @Override
        public Object acquire() throws InterruptedException {
            while (true) {
                wakeUps.drainPermits(); // a release after this point leaves a permit for the wait below
                String owner = ownerPrefix + ++sequence;
                if ("OK".equals(sync.set(keys[0], owner, NX_PX))) {
                    return owner;
                }
                wakeUps.tryAcquire(LEASE_MILLIS, TimeUnit.MILLISECONDS); // a crashed holder publishes nothing
            }
        }

        @Override
        public void release(Object held) {
            Long deleted = sync.evalsha(releaseSha, ScriptOutputType.INTEGER, keys, (String) held);
            if (deleted == null || deleted != 1) {
                throw new IllegalStateException("lock " + keys[0] + " was not held by " + held + " at release");
            }
        }

        @Override
        public void close() {
            if (pubSub != null) {
                pubSub.close();
            }
            connection.close();
            client.shutdown();
        }
    }

    @Param({"DISTKIT", "DISTKIT_PARKED", "REDISSON", "LETTUCE_RAW"})
    public Impl impl;

    private RedisServer server;
    private final List<Locker> lockers = new ArrayList<>();
    /** Operations in the measurement iterations, for the commands-per-operation line; one thread writes it. */
    private long measuredOps;
    private boolean measuring;

    @Setup(Level.Trial)
    public void startServer() {
        server = RedisServer.builder().persistence(RedisServer.Persistence.NONE).build();
        server.start();
    }

    /** A client of this trial's implementation; closed before the server stops. */
    Locker open(String name, boolean wakeWaiters) {
        Locker locker = impl.open(server, name, wakeWaiters);
        lockers.add(locker);
        return locker;
    }

    /** From the first measurement iteration on, the server counts commands afresh. */
    @Setup(Level.Iteration)
    public void countFromMeasurement(IterationParams iteration) {
        if (iteration.getType() == IterationType.MEASUREMENT && !measuring) {
            measuring = true;
            measuredOps = 0;
            server.call("CONFIG", "RESETSTAT");
        }
    }

    @TearDown(Level.Trial)
    public void stopServer() {
        try {
            if (measuring && measuredOps > 0) {
                System.out.println(commandsPerOp(String.valueOf(server.call("INFO", "commandstats")), measuredOps));
            }
            for (Locker locker : lockers) {
                locker.close();
            }
        } finally {
            lockers.clear();
            server.close();
        }
    }

    private String commandsPerOp(String commandStats, long ops) {
        Map<String, Long> calls = new TreeMap<>();
        Matcher m = Pattern.compile("cmdstat_([a-z|_-]+):calls=(\\d+)").matcher(commandStats);
        while (m.find()) {
            if (!m.group(1).equals("info") && !m.group(1).startsWith("config")) { // ours, not the lock's
                calls.put(m.group(1), Long.parseLong(m.group(2)));
            }
        }
        StringBuilder line = new StringBuilder(System.lineSeparator()).append("redis commands per op (").append(impl)
                .append(", ").append(ops).append(" ops, calls from scripts included):");
        calls.forEach((command, n) -> line.append(String.format(" %s=%.2f", command, (double) n / ops)));
        return line.toString();
    }

    /** The client of {@link #acquireRelease}. */
    @State(Scope.Thread)
    public static class Cycle {
        RedisLockBenchmark bench;
        Locker locker;

        @Setup(Level.Trial)
        public void open(RedisLockBenchmark bench) {
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
        @Param("2000")
        public long settleMicros;

        RedisLockBenchmark bench;
        HandoffPair pair;

        @Setup(Level.Trial)
        public void open(RedisLockBenchmark bench) {
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
