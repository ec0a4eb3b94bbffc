package io.distkit.testkit.history;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockLostException;
import io.distkit.lock.LockOptions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A tiny in-JVM lock "server" for testing the workload: one fair {@link Semaphore} (a lock any thread
 * may release) and one token counter per name, shared by every client it hands out. With
 * {@code exclusive == false} it is the broken lock of the negative controls: every acquisition
 * succeeds at once, still with increasing tokens. Not reentrant, no leases; a test makes a holder
 * lose its lock with {@link Handle#lose()}, which frees the lock as an expiring lease would.
 */
final class SemaphoreLockServer {

    private final boolean exclusive;
    private final Map<String, Semaphore> permits = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> tokens = new ConcurrentHashMap<>();

    SemaphoreLockServer(boolean exclusive) {
        this.exclusive = exclusive;
    }

    LockClient client() {
        return new LockClient() {
            @Override
            public DistributedLock lock(String name) {
                return new Lock(name);
            }

            @Override
            public DistributedLock lock(String name, LockOptions options) {
                return new Lock(name);
            }

            @Override
            public LockOptions defaultOptions() {
                return LockOptions.defaults();
            }

            @Override
            public void close() {}
        };
    }

    private final class Lock implements DistributedLock {
        private final String name;
        private final Semaphore permit;
        private final AtomicLong token;

        Lock(String name) {
            this.name = name;
            this.permit = permits.computeIfAbsent(name, n -> new Semaphore(1, true));
            this.token = tokens.computeIfAbsent(name, n -> new AtomicLong());
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public LockOptions options() {
            return LockOptions.defaults();
        }

        @Override
        public LockHandle acquire() throws InterruptedException {
            if (exclusive) {
                permit.acquire();
            }
            return new Handle(this, token.incrementAndGet());
        }

        @Override
        public Optional<LockHandle> tryAcquire() throws InterruptedException {
            return tryAcquire(Duration.ZERO);
        }

        @Override
        public Optional<LockHandle> tryAcquire(Duration wait) throws InterruptedException {
            if (exclusive && !permit.tryAcquire(wait.toNanos(), TimeUnit.NANOSECONDS)) {
                return Optional.empty();
            }
            return Optional.of(new Handle(this, token.incrementAndGet()));
        }

        @Override
        public CompletableFuture<LockHandle> acquireAsync(Duration wait) {
            throw new UnsupportedOperationException("not used by the workload");
        }
    }

    /** A handle: HELD, then RELEASED or LOST, once. */
    final class Handle implements LockHandle {
        private enum State { HELD, RELEASED, LOST, LOST_REPORTED }

        private final Lock lock;
        private final long token;
        private final AtomicReference<State> state = new AtomicReference<>(State.HELD);
        private final List<Runnable> listeners = new CopyOnWriteArrayList<>();

        private Handle(Lock lock, long token) {
            this.lock = lock;
            this.token = token;
        }

        /**
         * Loses the lease: listeners run, then the lock is free for others, and release() will
         * throw. Listeners first, as a correct engine's conservative local deadline comes before the
         * server-side expiry.
         */
        synchronized void lose() {
            if (state.compareAndSet(State.HELD, State.LOST)) {
                listeners.forEach(Runnable::run);
                free();
            }
        }

        @Override
        public String lockName() {
            return lock.name;
        }

        @Override
        public long fencingToken() {
            return token;
        }

        @Override
        public boolean isHeld() {
            return state.get() == State.HELD;
        }

        @Override
        public Instant leaseDeadline() {
            return Instant.MAX;
        }

        @Override
        public synchronized void onLost(Runnable listener) {
            if (state.get() == State.LOST || state.get() == State.LOST_REPORTED) {
                listener.run();
            } else {
                listeners.add(listener);
            }
        }

        @Override
        public void release() {
            if (state.compareAndSet(State.HELD, State.RELEASED)) {
                free();
            } else if (state.compareAndSet(State.LOST, State.LOST_REPORTED)) {
                throw new LockLostException(lock.name, "lost before release (token " + token + ")");
            }
        }

        @Override
        public void close() {
            release();
        }

        private void free() {
            if (exclusive) {
                lock.permit.release();
            }
        }
    }
}
