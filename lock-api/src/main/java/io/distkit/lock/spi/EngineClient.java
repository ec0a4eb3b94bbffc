package io.distkit.lock.spi;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockException;
import io.distkit.lock.LockOptions;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * The engine's {@link LockClient}: everything but the backend primitive. It holds the client's state
 * (held leases, reentrancy, acquisitions in flight) and wires the parts that act on it: {@link AcquireOp}
 * (one acquire call), {@link Renewer} (the renewal pass), {@link Losses} (declaring leases lost),
 * {@link Releases} (every release sent to the backend) and {@link CloseSequence} (close).
 */
class EngineClient<S> implements LockClient {

    final LockBackend<S> backend;
    final Ticker ticker;
    final Clock clock;
    final Scheduler scheduler;
    final boolean ownsScheduler;
    /** How long a user's release waits for the backend, and how long close takes at most. */
    final Duration operationTimeout;
    private final LockOptions defaults;
    private final SpinWait acquireSpin;
    private final String clientId;
    private final AtomicLong sequence = new AtomicLong();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final ConcurrentHashMap<ReentrancyKey, Lease<S>> reentrant = new ConcurrentHashMap<>();
    /** Leases HELD by this client: added by {@link #register}, removed by {@link #forget}. */
    final Set<Lease<S>> held = ConcurrentHashMap.newKeySet();
    final Set<AcquireOp<S>> pending = ConcurrentHashMap.newKeySet();
    final Renewer<S> renewer = new Renewer<>(this, held);
    final Losses<S> losses = new Losses<>(this);
    final Releases<S> releases;

    EngineClient(LockEngine.Builder<S> b) {
        this.backend = b.backend;
        this.ticker = b.ticker;
        this.clock = b.clock;
        this.ownsScheduler = b.scheduler == null;
        this.scheduler = b.scheduler != null ? b.scheduler : Scheduler.daemon("lock");
        this.defaults = b.defaultOptions;
        this.clientId = b.ownerPrefix == null ? randomId() : b.ownerPrefix + "#" + randomId();
        this.operationTimeout = b.operationTimeout;
        this.acquireSpin = new SpinWait(b.spinWait.toNanos());
        this.releases = new Releases<>(this, b.spinWait.toNanos());
        backend.validate(defaults);
        backend.start(losses::reported);
    }

    @Override
    public DistributedLock lock(String name) {
        return lock(name, defaults);
    }

    @Override
    public DistributedLock lock(String name, LockOptions options) {
        return newLock(name, LockMode.EXCLUSIVE, options);
    }

    EngineLock<S> newLock(String name, LockMode mode, LockOptions options) {
        LockNames.check(name);
        Objects.requireNonNull(options, "options");
        checkOpen();
        backend.validate(options);
        return new EngineLock<>(this, name, mode, options);
    }

    @Override
    public LockOptions defaultOptions() {
        return defaults;
    }

    /**
     * Completes with the hold, with null when the wait ran out, or exceptionally. Only {@code
     * blocking} calls reenter: the thread that waits for the handle is the one that will hold it.
     */
    CompletableFuture<Hold<S>> acquire(EngineLock<S> lock, long waitNanos, boolean blocking) {
        checkOpen();
        ReentrancyKey key = null;
        if (blocking && lock.options().reentrant()) { // async handles are not the calling thread's
            key = new ReentrancyKey(lock.name(), lock.mode, Thread.currentThread());
            Lease<S> mine = reentrant.get(key);
            if (mine != null && mine.tryAddHold()) {
                return CompletableFuture.completedFuture(new Hold<>(mine));
            }
        }
        if (blocking && lock.mode != LockMode.EXCLUSIVE) {
            // read-write locks: the thread's holds are tracked whatever the reentrancy option, for the two rules
            key = new ReentrancyKey(lock.name(), lock.mode, Thread.currentThread());
            Hold<S> downgrade = readUnderWriteOrRefuseUpgrade(lock);
            if (downgrade != null) {
                return CompletableFuture.completedFuture(downgrade);
            }
        }
        LockRequest request = new LockRequest(lock.name(), lock.mode, lock.options().leaseTime(),
                clientId + ":" + sequence.incrementAndGet(), waitNanos != 0, blocking, lock.options().autoRenew());
        AcquireOp<S> op = new AcquireOp<>(this, lock, key, request, waitNanos);
        op.start();
        return op.result;
    }

    /**
     * The two rules of a thread that holds one side of a read-write lock and asks for the other (blocking
     * acquires only: an async handle belongs to no thread).
     *
     * <p>Read while holding write (a downgrade) is granted at once, as one more hold on the write lease: an
     * exclusive lock covers a reader, and asking the backend would have the reader queue behind its own
     * writer for ever. The lock stays exclusive on the server until the thread released its last read and
     * write handle of that lease; the read handle carries the write lease's fencing token.
     *
     * <p>Write while holding only read (an upgrade) would wait for the thread's own read lock for ever, and two
     * threads upgrading at once would wait for each other: it is refused.
     *
     * @return the downgraded read hold; null to acquire as usual
     * @throws IllegalStateException for an upgrade
     */
    private @Nullable Hold<S> readUnderWriteOrRefuseUpgrade(EngineLock<S> lock) {
        Thread me = Thread.currentThread();
        Lease<S> write = reentrant.get(new ReentrancyKey(lock.name(), LockMode.WRITE, me));
        if (lock.mode == LockMode.READ) {
            return write != null && write.tryAddHold() ? new Hold<>(write) : null;
        }
        Lease<S> read = reentrant.get(new ReentrancyKey(lock.name(), LockMode.READ, me));
        if (read != null && read.isHeld() && (write == null || !write.isHeld())) {
            throw new IllegalStateException("thread '" + me.getName() + "' asks for the write lock of '" + lock.name()
                    + "' while it holds its read lock: upgrading would wait for its own read lock for ever;"
                    + " release the read lock first (or take the write lock first: reading under it is allowed)");
        }
        return null;
    }

    /**
     * Makes an acquired lease known to the client: held set, reentrancy, renewal. Losses the backend
     * reported since the attempt was sent ({@code lossEpoch}) are applied to it at once: a session that
     * ended while the reply was on its way must not leave a handle that looks held.
     */
    Lease<S> register(EngineLock<S> lock, @Nullable ReentrancyKey key, long token, S backendLease, long sentAt,
            long lossEpoch) {
        Lease<S> lease = new Lease<>(this, lock, key, token, backendLease, sentAt);
        held.add(lease);
        if (key != null) {
            reentrant.put(key, lease);
        }
        renewer.track(lease);
        if (closed.get()) {
            lease.releaseInBackground(); // close() may have missed it
        }
        losses.applyReported(lease, lossEpoch);
        return lease;
    }

    /** Takes a lease that is no longer HELD out of the held set and the reentrancy map. */
    void forget(Lease<S> lease) {
        held.remove(lease);
        if (lease.reentrancyKey != null) {
            reentrant.remove(lease.reentrancyKey, lease);
        }
    }

    boolean isClosed() {
        return closed.get();
    }

    LockException closedWhileWaiting() {
        return new LockException(null, "the lock client for " + backend.describe() + " was closed while waiting", null);
    }

    /** Runs the task on the scheduler, or here if {@link #close()} already shut the scheduler down. */
    void executeOrRun(Runnable task) {
        try {
            scheduler.execute(task);
        } catch (RejectedExecutionException closedScheduler) {
            task.run();
        }
    }

    /** The sync view of an acquisition: waits, and on interrupt gives up without leaving anything held. */
    @Nullable Hold<S> waitFor(CompletableFuture<Hold<S>> op) throws InterruptedException {
        try {
            acquireSpin.spin(op);
            return op.get();
        } catch (InterruptedException e) {
            if (!op.cancel(false) && op.isDone() && !op.isCompletedExceptionally()) {
                Hold<S> got = op.getNow(null);
                if (got != null) {
                    got.abandon(); // acquired just as we were interrupted: the caller will never see it
                }
            }
            throw e;
        } catch (ExecutionException e) {
            throw unwrap(e.getCause());
        }
    }

    LockException backendFailure(String lockName, String operation, Throwable failure) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
        if (cause instanceof LockException lockException) {
            return lockException;
        }
        return new LockBackendException(lockName, operation + " failed on " + backend.describe() + ": " + cause,
                cause);
    }

    static RuntimeException unwrap(Throwable failure) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
        if (cause instanceof RuntimeException runtime) {
            return runtime;
        }
        if (cause instanceof Error error) {
            throw error;
        }
        return new LockException(null, "unexpected failure: " + cause, cause);
    }

    private void checkOpen() {
        if (closed.get()) {
            throw new IllegalStateException("lock client for " + backend.describe() + " is closed");
        }
    }

    /** Idempotent (a CAS): the first call runs the {@link CloseSequence}, later ones return at once. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            new CloseSequence<>(this).run();
        }
    }

    /** 128 random bits, URL-safe base64 (22 characters): owner values are stored with every lock. */
    private static String randomId() {
        byte[] bytes = new byte[16];
        new java.security.SecureRandom().nextBytes(bytes);
        return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    @Override
    public String toString() {
        return "LockClient[" + backend.describe() + (closed.get() ? ", closed" : "") + "]";
    }
}
