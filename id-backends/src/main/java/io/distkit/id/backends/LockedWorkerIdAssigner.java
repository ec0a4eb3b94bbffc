package io.distkit.id.backends;

import io.distkit.common.DaemonThreads;
import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockException;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.lock.spi.LockNames;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.IntStream;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Worker ids leased as locks: worker id {@code n} is the lock {@code <namespace>worker-<n>}, held through
 * any distkit {@link LockClient}, and its high-water mark lives in a {@link WorkerMarkStore} of the same
 * backend, fenced by the lock's fencing token.
 *
 * <pre>{@code
 * WorkerIdAssigner workers = LockedWorkerIdAssigner.builder(lockClient, markStore).build();
 * WorkerLease lease = workers.acquire(1024);   // the lowest free worker id in [0, 1024)
 * }</pre>
 *
 * <p>The lease is the lock's: the lock engine renews it in the background with the client's other locks,
 * ends it at its local deadline (the send time of the last successful acquire or renewal, plus the lease,
 * less the drift allowance) when renewals fail, and reports its loss to the {@link WorkerLease#onLost}
 * listeners. So every backend's worker ids are kept alike, by the code that keeps its locks. The
 * assigner adds the worker-id range and the mark: {@link #acquire} tries the locks of {@code [0, max)} in
 * order, without waiting, and takes the first it gets; it then reads the mark with the new fencing token,
 * after which a holder whose lock was taken over can no longer change it. {@link WorkerLease#saveLastTimestamp}
 * writes the mark fenced by the token, and a refusal ends the lease. The locks are not reentrant, so two
 * leases of one thread get two worker ids.
 *
 * <p>An acquire tries first the worker ids the store does not know to be held ({@link
 * WorkerMarkStore#heldLockNames}, one read), so it costs about one lock attempt, not one per busy id.
 */
public final class LockedWorkerIdAssigner implements WorkerIdAssigner {

    private static final Logger LOG = LoggerFactory.getLogger(LockedWorkerIdAssigner.class);

    /** The namespace unless {@link Builder#namespace} sets another. */
    public static final String DEFAULT_NAMESPACE = "distkit-ids/";

    private final LockClient locks;
    private final WorkerMarkStore marks;
    private final String namespace;
    private final LockOptions options;
    private final boolean closeLocks;
    private final Set<LockedWorkerLease> leases = ConcurrentHashMap.newKeySet();
    private final Object registration = new Object();
    private volatile boolean closed; // written under registration

    private LockedWorkerIdAssigner(Builder builder, LockOptions options) {
        this.locks = builder.locks;
        this.marks = builder.marks;
        this.namespace = builder.namespace;
        this.options = options;
        this.closeLocks = builder.closeLocks;
    }

    /**
     * A builder for an assigner on {@code locks} and {@code marks}, which must be of the same backend: the
     * store fences the marks with the tokens of the client's locks.
     */
    public static Builder builder(LockClient locks, WorkerMarkStore marks) {
        return new Builder(Objects.requireNonNull(locks, "locks"), Objects.requireNonNull(marks, "marks"));
    }

    /** The lock name of worker id {@code workerId}. */
    public String lockName(int workerId) {
        return namespace + "worker-" + workerId;
    }

    @Override
    public WorkerLease acquire(int maxWorkerIds) {
        if (maxWorkerIds < 1) {
            throw new IllegalArgumentException("maxWorkerIds must be at least 1, was " + maxWorkerIds);
        }
        ensureOpen();
        int busy = 0;
        for (int workerId : tryOrder(maxWorkerIds)) {
            String name = lockName(workerId);
            LockHandle handle = tryLock(name, maxWorkerIds);
            if (handle == null) {
                busy++;
                continue;
            }
            OptionalLong mark;
            try {
                mark = marks.read(name, handle.fencingToken());
            } catch (RuntimeException e) {
                releaseQuietly(handle);
                throw e;
            }
            if (mark.isEmpty()) { // taken over between the grant and the read: the lease was shorter than that
                LOG.debug("worker id {} in {} was taken over right after its grant; trying the next", workerId,
                        marks.describe());
                releaseQuietly(handle);
                busy++;
                continue;
            }
            return register(new LockedWorkerLease(this, workerId, handle, mark.getAsLong()));
        }
        throw new IdGenerationException("all " + maxWorkerIds + " worker ids in [0, " + maxWorkerIds + ") are leased in "
                + marks.describe() + ": " + busy + " live lease(s) when each was tried; close generators no longer"
                + " needed, wait for the leases of crashed processes to expire (lease time " + options.leaseTime()
                + "), or give the id layout more worker-id bits");
    }

    /** {@code [0, max)}: the ids the store does not know to be held first, then the others, each part ascending. */
    private int[] tryOrder(int maxWorkerIds) {
        Set<String> held = marks.heldLockNames(namespace + "worker-");
        if (held.isEmpty()) {
            return IntStream.range(0, maxWorkerIds).toArray();
        }
        IntStream free = IntStream.range(0, maxWorkerIds).filter(id -> !held.contains(lockName(id)));
        IntStream busy = IntStream.range(0, maxWorkerIds).filter(id -> held.contains(lockName(id)));
        return IntStream.concat(free, busy).toArray();
    }

    private @Nullable LockHandle tryLock(String name, int maxWorkerIds) {
        try {
            Optional<LockHandle> handle = locks.lock(name, options).tryAcquire();
            return handle.orElse(null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IdGenerationException("interrupted while leasing a worker id in [0, " + maxWorkerIds + ") from "
                    + marks.describe() + "; nothing is held", e);
        } catch (LockBackendException e) {
            throw new IdSourceUnavailableException(marks.source(), "leasing a worker id in [0, " + maxWorkerIds
                    + ") from " + marks.describe() + " failed: " + e.getMessage(), e);
        } catch (IllegalStateException e) {
            throw new IllegalStateException("the lock client of this worker-id assigner on " + marks.describe()
                    + " is closed", e);
        } catch (LockException e) { // the client closed while the attempt was on its way
            if (closed) {
                throw closedException();
            }
            throw new IdSourceUnavailableException(marks.source(), "leasing a worker id in [0, " + maxWorkerIds
                    + ") from " + marks.describe() + " failed: " + e.getMessage(), e);
        }
    }

    private LockedWorkerLease register(LockedWorkerLease lease) {
        synchronized (registration) {
            if (!closed) {
                leases.add(lease);
                return lease;
            }
        }
        lease.close();
        throw closedException();
    }

    private void ensureOpen() {
        if (closed) {
            throw closedException();
        }
    }

    private IllegalStateException closedException() {
        return new IllegalStateException("this worker-id assigner on " + marks.describe() + " is closed");
    }

    WorkerMarkStore marks() {
        return marks;
    }

    void forget(LockedWorkerLease lease) {
        leases.remove(lease);
    }

    /** Releases a lock without throwing: one that cannot be released runs out with its lease. */
    static void releaseQuietly(LockHandle handle) {
        try {
            handle.release();
        } catch (LockException e) {
            LOG.debug("releasing {} failed; it runs out with its lease", handle, e);
        }
    }

    /**
     * Closes every open lease (they turn invalid, their loss listeners do not run) and releases their
     * locks; closes the lock client too if it was made for this assigner. Idempotent; never throws
     * because the backend is unreachable. A lock client closed by someone else ends the leases too: they
     * turn invalid, as closed, without a loss.
     */
    @Override
    public void close() {
        synchronized (registration) {
            if (closed) {
                return;
            }
            closed = true;
        }
        List<LockedWorkerLease> open = List.copyOf(leases);
        open.forEach(LockedWorkerLease::closeLocally);
        leases.clear();
        releaseAll(open);
    }

    private void releaseAll(List<LockedWorkerLease> open) {
        if (closeLocks) {
            locks.close(); // releases them all in one go
            return;
        }
        // the client is someone else's: release each lock, all at once, each bounded by the client
        List<Thread> releases = open.stream()
                .map(lease -> DaemonThreads.start("worker-release", () -> releaseQuietly(lease.handle()))).toList();
        try {
            for (Thread release : releases) {
                release.join();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // the releases go on by themselves
        }
    }

    @Override
    public String toString() {
        return "LockedWorkerIdAssigner[" + marks.describe() + ", locks " + namespace + "worker-<n>, lease "
                + options.leaseTime() + ", " + leases.size() + " open lease(s)" + (closed ? ", closed" : "") + "]";
    }

    /** Configures an assigner; every setter checks its argument at once. */
    public static final class Builder {
        private final LockClient locks;
        private final WorkerMarkStore marks;
        private String namespace = DEFAULT_NAMESPACE;
        private final LockOptions.Builder lease = LockOptions.builder();
        private boolean closeLocks;

        private Builder(LockClient locks, WorkerMarkStore marks) {
            this.locks = locks;
            this.marks = marks;
        }

        /**
         * What the lock names start with, so that they cannot meet other locks of the client; default
         * {@value #DEFAULT_NAMESPACE}. Empty where the locks are apart already (a table of their own).
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if the lock names it makes break the rule of lock names (see
         *     {@link LockClient#lock(String)}): too long, or with a control character
         */
        public Builder namespace(String namespace) {
            Objects.requireNonNull(namespace, "namespace");
            try {
                LockNames.check(namespace + "worker-" + Integer.MAX_VALUE);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("namespace '" + namespace + "' does not make lock names: "
                        + e.getMessage(), e);
            }
            this.namespace = namespace;
            return this;
        }

        /**
         * How long the backend keeps the worker id of a process that stopped renewing (crashed, paused, cut
         * off): the wait before such an id can be leased again; default {@link LockOptions#DEFAULT_LEASE_TIME}.
         * The bounds are the locks' ({@link LockOptions.Builder#leaseTime}).
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if under {@link LockOptions#MIN_LEASE_TIME} or over
         *     {@link LockOptions#MAX_LEASE_TIME}
         */
        public Builder leaseTime(Duration leaseTime) {
            lease.leaseTime(leaseTime);
            return this;
        }

        /**
         * Time between renewals; default a third of the lease. Checked against the lease in {@link #build()}:
         * at most half of it.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not positive
         */
        public Builder renewInterval(Duration renewInterval) {
            lease.renewInterval(renewInterval);
            return this;
        }

        /** Closes the lock client when the assigner is closed: for a client made for this assigner alone. */
        public Builder closeLockClientWithAssigner() {
            this.closeLocks = true;
            return this;
        }

        /**
         * The assigner. Nothing is asked of the backend before the first {@link #acquire}.
         *
         * @throws IllegalArgumentException if the renew interval is over half the lease
         */
        public LockedWorkerIdAssigner build() {
            return new LockedWorkerIdAssigner(this, lease.reentrant(false).autoRenew(true).build());
        }
    }
}
