package io.distkit.benchmarks;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.testkit.memory.InMemoryLockServer;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
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

/**
 * What the lock engine itself costs: an uncontended acquire+release cycle through the whole engine
 * (argument checks, reentrancy lookup, lease registration with the renewer, handle, owner-checked
 * release) over the in-memory backend, against a bare {@link ReentrantLock}, the floor of any lock
 * in one JVM. Network backends pay this once per cycle on top of their round trips.
 *
 * <pre>
 * scripts/bench.sh LockEngineBenchmark -f 1 -wi 3 -i 5
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class LockEngineBenchmark {

    /** The implementations compared, behind one facade. */
    public enum Impl {
        DISTKIT_IN_MEMORY {
            private LockClient client;
            private DistributedLock lock;

            @Override
            void setUp() {
                client = new InMemoryLockServer().newClient();
                lock = client.lock("bench");
            }

            @Override
            long cycle() throws InterruptedException {
                try (LockHandle handle = lock.acquire()) {
                    return handle.fencingToken();
                }
            }

            @Override
            void tearDown() {
                client.close();
            }
        },
        REENTRANT_LOCK {
            private final ReentrantLock lock = new ReentrantLock();
            private long token;

            @Override
            long cycle() {
                lock.lock();
                try {
                    return ++token;
                } finally {
                    lock.unlock();
                }
            }
        };

        void setUp() {}

        abstract long cycle() throws InterruptedException;

        void tearDown() {}
    }

    @Param({"DISTKIT_IN_MEMORY", "REENTRANT_LOCK"})
    public Impl impl;

    @Setup(Level.Trial)
    public void setUp() {
        impl.setUp();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        impl.tearDown();
    }

    /** One uncontended acquire+release on one thread; returns the token so it is not optimised away. */
    @Benchmark
    public long acquireRelease() throws InterruptedException {
        return impl.cycle();
    }
}
