package io.distkit.benchmarks;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.ReadWriteLockClient;
import io.distkit.lock.zookeeper.ZooKeeperLockClient;
import io.distkit.testkit.server.Servers;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.retry.RetryUntilElapsed;
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
 * The ZooKeeper lock backend against Curator's lock recipes ({@code InterProcessMutex} and {@code
 * InterProcessReadWriteLock}, curator-recipes at the version of the curator-framework distkit runs on), on a
 * private single-server ZooKeeper inside the benchmark JVM (testkit's {@link ZooKeeperCluster}, curator-test)
 * that each trial starts for itself. {@code storage} says where the server's transaction log goes, the file
 * ZooKeeper fsyncs before it acknowledges a write: {@code MEMORY} (default; {@code /dev/shm}, so that the
 * figures compare clients rather than this machine's disk syncs) or {@code DISK} (the system temp directory,
 * as in production).
 *
 * <pre>
 * scripts/bench.sh ZooKeeperLockBenchmark -f 3 -wi 5 -i 5 -w 3 -r 3
 * scripts/bench.sh ZooKeeperLockBenchmark -p storage=DISK -f 3 -wi 5 -i 5 -w 3 -r 3
 * scripts/bench.sh ZooKeeperLockBenchmark.acquireRelease -f 3 -wi 3 -i 5 -w 2 -r 3 -prof gc
 * scripts/bench.sh ZooKeeperLockBenchmark.handoff -p settleMicros=10000,100000 -f 1 -wi 3 -i 5 -w 2 -r 3
 * </pre>
 *
 * <p>Both implementations queue the same way: an ephemeral sequential node per acquisition under the lock's
 * directory, the lowest node holds the lock, a waiter watches the node just before its own. Each client is a
 * Curator client with a session of its own, asking for the same 30 s session timeout (the server ticks every
 * 2 s, as ZooKeeper does by default, so it grants that). {@code DISTKIT} runs on its default options: the
 * lease is the granted session timeout and is renewed automatically (a renewal reads the lock's node), the
 * lock is reentrant, and each acquisition gets a fencing token (its node's czxid).
 *
 * <p><b>acquireRelease</b>: one thread, one lock name, no contention; average time of one acquire plus its
 * release.
 * <ul>
 *   <li>{@code DISTKIT} = {@code client.lock(name).acquire()} / {@code handle.release()} on a client built
 *       by {@code ZooKeeperLockClient.builder(connectString).build()}.
 *   <li>{@code CURATOR} = {@code new InterProcessMutex(curator, path)}: {@code acquire()} / {@code release()}
 *       on one mutex object per client, as Curator's documentation uses it.
 * </ul>
 *
 * <p><b>readCycle</b>, <b>writeCycle</b>: the same for the shared and the exclusive lock of a read-write
 * lock: {@code DISTKIT} = {@code client.readWriteLock(name).readLock()} ({@code .writeLock()}), {@code CURATOR}
 * = {@code new InterProcessReadWriteLock(curator, path).readLock()} ({@code .writeLock()}).
 *
 * <p><b>handoff</b>: the latency of passing a held lock to a waiter, as in {@link RedisLockBenchmark} and
 * {@link EtcdLockBenchmark} ({@link HandoffPair}): two clients of the same implementation (two sessions, two
 * processes in effect) on one exclusive lock; the timed region is one hand-off, from the holder calling release
 * until the partner's acquire has returned. The partner is given {@code settleMicros} (default 10 ms) to
 * create its node and set its watch before the timed release; compare implementations at the same value.
 *
 * <p>At the end of each trial the requests the server received during the measurement iterations are printed
 * per operation (its {@code srvr} counter: every request of every client, pings included), which explains
 * most of the differences. For {@code handoff}, one op is a whole cycle: two acquires and two releases.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
@Fork(1)
public class ZooKeeperLockBenchmark {

    /** The session timeout every client asks for: distkit's default (the server tick below lets it be granted). */
    static final Duration SESSION_TIMEOUT = ZooKeeperLockClient.DEFAULT_SESSION_TIMEOUT;
    /** ZooKeeper's default tick; sessions may last up to 20 ticks. */
    static final Duration TICK_TIME = Duration.ofSeconds(2);
    /** How long a client waits for its first connection. */
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    /** Where Curator's recipes put their lock directories (distkit's default is its own, {@code /distkit/locks}). */
    static final String CURATOR_BASE_PATH = "/curator-bench/locks/";

    /** Which lock of a name a locker takes. */
    enum Kind { MUTEX, READ, WRITE }

    /** The implementations compared, behind one facade. */
    public enum Impl {
        DISTKIT {
            @Override
            Locker open(ZooKeeperCluster zk, String name, Kind kind) {
                ReadWriteLockClient client = ZooKeeperLockClient.builder(zk.connectString()).build();
                DistributedLock lock = switch (kind) {
                    case MUTEX -> client.lock(name);
                    case READ -> client.readWriteLock(name).readLock();
                    case WRITE -> client.readWriteLock(name).writeLock();
                };
                return Locker.distkit(client, lock);
            }
        },
        CURATOR {
            @Override
            Locker open(ZooKeeperCluster zk, String name, Kind kind) {
                return new CuratorLocker(zk, name, kind);
            }
        };

        /** A new client (a ZooKeeper session of its own) for the {@code kind} lock of {@code name}. */
        abstract Locker open(ZooKeeperCluster zk, String name, Kind kind);
    }

    /**
     * Curator's recipes on a Curator client of their own. Curator's locks are held per thread: a release must
     * come from the thread that acquired ({@link HandoffPair} does so).
     */
    static final class CuratorLocker implements Locker {
        private final CuratorFramework curator;
        private final InterProcessMutex mutex;

        CuratorLocker(ZooKeeperCluster zk, String name, Kind kind) {
            int connectMillis = (int) CONNECT_TIMEOUT.toMillis();
            curator = CuratorFrameworkFactory.builder()
                    .connectString(zk.connectString())
                    .sessionTimeoutMs((int) SESSION_TIMEOUT.toMillis())
                    .connectionTimeoutMs(connectMillis)
                    .retryPolicy(new RetryUntilElapsed(connectMillis, 100))
                    .build();
            curator.start();
            try {
                if (!curator.blockUntilConnected(connectMillis, TimeUnit.MILLISECONDS)) {
                    throw new IllegalStateException("Curator did not connect to " + zk.connectString() + " within "
                            + CONNECT_TIMEOUT);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                curator.close();
                throw new IllegalStateException("interrupted while connecting to " + zk.connectString(), e);
            } catch (RuntimeException e) {
                curator.close();
                throw e;
            }
            String path = CURATOR_BASE_PATH + name;
            mutex = switch (kind) {
                case MUTEX -> new InterProcessMutex(curator, path);
                case READ -> new InterProcessReadWriteLock(curator, path + "-rw").readLock();
                case WRITE -> new InterProcessReadWriteLock(curator, path + "-rw").writeLock();
            };
        }

        @Override
        public Object acquire() throws InterruptedException {
            try {
                mutex.acquire(); // blocks as long as the lock is held elsewhere
                return mutex;
            } catch (InterruptedException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException("Curator acquire failed: " + e, e);
            }
        }

        @Override
        public void release(Object held) {
            try {
                mutex.release();
            } catch (Exception e) {
                throw new IllegalStateException("Curator release failed: " + e, e);
            }
        }

        @Override
        public void close() {
            curator.close(); // its session goes, and its ephemeral nodes with it
        }
    }

    @Param({"DISTKIT", "CURATOR"})
    public Impl impl;

    /** Where ZooKeeper keeps its transaction log; see the class comment. */
    public enum Storage { MEMORY, DISK }

    @Param({"MEMORY"})
    public Storage storage;

    private ZooKeeperCluster zk;
    private @Nullable Path logDir;
    private final List<Locker> lockers = new ArrayList<>();
    /** Operations in the measurement iterations, for the requests-per-operation line; one thread writes it. */
    private long measuredOps;
    private boolean measuring;
    private long requestsBefore = -1;

    @Setup(Level.Trial)
    public void startServer() {
        ZooKeeperCluster.Builder cluster = ZooKeeperCluster.builder().members(1).tickTime(TICK_TIME);
        if (storage == Storage.MEMORY) {
            Path memory = Path.of("/dev/shm");
            if (!Files.isDirectory(memory)) {
                throw new IllegalStateException("storage=MEMORY needs /dev/shm; run with -p storage=DISK");
            }
            // the log is what ZooKeeper fsyncs on every write; snapshots (rare, unsynced) stay in the temp directory
            logDir = Servers.tempDir(memory, "zookeeper-log");
            cluster.property("dataLogDir", logDir.toString());
        }
        zk = cluster.build();
        try {
            zk.start();
        } catch (RuntimeException e) {
            deleteLogDir();
            throw e;
        }
    }

    /** A client of this trial's implementation; closed before the server stops. */
    Locker open(String name, Kind kind) {
        Locker locker = impl.open(zk, name, kind);
        lockers.add(locker);
        return locker;
    }

    /** From the first measurement iteration on, the server's requests are counted. */
    @Setup(Level.Iteration)
    public void countFromMeasurement(IterationParams iteration) {
        if (iteration.getType() == IterationType.MEASUREMENT && !measuring) {
            measuring = true;
            measuredOps = 0;
            requestsBefore = requestsReceived();
        }
    }

    @TearDown(Level.Trial)
    public void stopServer() {
        try {
            if (measuring && measuredOps > 0 && requestsBefore >= 0) {
                long requestsAfter = requestsReceived();
                if (requestsAfter >= 0) {
                    System.out.printf("%nzookeeper requests per op (%s, %d ops, pings included): %.2f%n", impl,
                            measuredOps, (double) (requestsAfter - requestsBefore) / measuredOps);
                }
            }
            for (Locker locker : lockers) {
                locker.close();
            }
        } finally {
            lockers.clear();
            measuring = false;
            requestsBefore = -1;
            zk.close();
            deleteLogDir();
        }
    }

    private void deleteLogDir() {
        if (logDir != null) {
            Servers.deleteRecursively(logDir);
            logDir = null;
        }
    }

    /** The server's received-request counter; -1, with a message, if it cannot be read. */
    private long requestsReceived() {
        try {
            return zk.requestsReceived(0);
        } catch (RuntimeException e) {
            System.out.println("\n" + e.getMessage() + ": no request count for this trial");
            return -1;
        }
    }

    /** The client of {@link #acquireRelease}. */
    @State(Scope.Thread)
    public static class Cycle {
        Locker locker;

        @Setup(Level.Trial)
        public void open(ZooKeeperLockBenchmark bench) {
            locker = bench.open("acquire-release", Kind.MUTEX);
        }
    }

    /** The client of {@link #readCycle}. */
    @State(Scope.Thread)
    public static class ReadCycle {
        Locker locker;

        @Setup(Level.Trial)
        public void open(ZooKeeperLockBenchmark bench) {
            locker = bench.open("read-cycle", Kind.READ);
        }
    }

    /** The client of {@link #writeCycle}. */
    @State(Scope.Thread)
    public static class WriteCycle {
        Locker locker;

        @Setup(Level.Trial)
        public void open(ZooKeeperLockBenchmark bench) {
            locker = bench.open("write-cycle", Kind.WRITE);
        }
    }

    private Object cycle(Locker locker) throws InterruptedException {
        Object held = locker.acquire();
        locker.release(held);
        measuredOps++;
        return held;
    }

    /** One uncontended acquire and release of an exclusive lock; returns the handle so nothing is optimised away. */
    @Benchmark
    public Object acquireRelease(Cycle cycle) throws InterruptedException {
        return cycle(cycle.locker);
    }

    /** One uncontended acquire and release of a read-write lock's read lock. */
    @Benchmark
    public Object readCycle(ReadCycle cycle) throws InterruptedException {
        return cycle(cycle.locker);
    }

    /** One uncontended acquire and release of a read-write lock's write lock. */
    @Benchmark
    public Object writeCycle(WriteCycle cycle) throws InterruptedException {
        return cycle(cycle.locker);
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

        ZooKeeperLockBenchmark bench;
        HandoffPair pair;

        @Setup(Level.Trial)
        public void open(ZooKeeperLockBenchmark bench) {
            this.bench = bench;
            pair = new HandoffPair(bench.open("handoff", Kind.MUTEX), bench.open("handoff", Kind.MUTEX));
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
