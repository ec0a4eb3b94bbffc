package io.distkit.id.backends.zookeeper;

import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.id.backends.LockedWorkerIdAssigner;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockOptions;
import io.distkit.lock.zookeeper.ZooKeeperLockClient;
import java.time.Duration;
import java.util.Objects;
import org.apache.curator.framework.CuratorFramework;
import org.jspecify.annotations.Nullable;

/**
 * Worker ids for snowflake-style generators, leased from ZooKeeper.
 *
 * <pre>{@code
 * WorkerIdAssigner workers = ZooKeeperWorkerIdAssigner.builder("127.0.0.1:2181").build();
 * WorkerLease lease = workers.acquire(1024);   // the lowest free worker id in [0, 1024), kept by its session
 * ... generator uses lease.workerId(), starts above lease.lastTimestamp(), calls lease.saveLastTimestamp(t) ...
 * workers.close();                             // releases every lease it handed out
 * }</pre>
 *
 * <p>Worker id {@code n} is the lock {@code worker-<n>} of lock-zookeeper ({@link ZooKeeperLockClient}) under
 * {@code <basePath>/locks}, and its high-water mark the persistent node {@code <basePath>/marks/worker-<n>}
 * holding the fencing token of its latest holder and the mark. So the lease is kept as lock-zookeeper keeps its
 * locks ({@link LockedWorkerIdAssigner}): a lock is an ephemeral node of the client's ZooKeeper session, renewed
 * by a {@code sync} and a check that the node is still there, lost when the session expires or the node is
 * deleted; its fencing token is the node's czxid, which only grows. The mark is read and saved as a
 * compare-and-set on its node, fenced by that token: a holder whose lock was taken over can no longer change it.
 * Mark nodes are never deleted: a recycled id keeps its mark, which the next lease reports as {@link
 * WorkerLease#lastTimestamp()}.
 *
 * <p>A lock lives as long as its ZooKeeper session, so the lease time may not exceed the session timeout the
 * ensemble granted; by default it is two thirds of it.
 */
public final class ZooKeeperWorkerIdAssigner {

    /** The base path used unless {@link Builder#basePath} sets another. */
    public static final String DEFAULT_BASE_PATH = "/distkit/ids/workers";
    /** How long one ZooKeeper call may take unless {@link Builder#commandTimeout} sets another: 5 seconds. */
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(5);
    /** The session timeout asked for by an assigner that makes its own client: 30 seconds. */
    public static final Duration DEFAULT_SESSION_TIMEOUT = ZooKeeperLockClient.DEFAULT_SESSION_TIMEOUT;

    private ZooKeeperWorkerIdAssigner() {}

    /**
     * A builder for an assigner that makes its own Curator client for {@code connectString} ({@code
     * host:port[,host:port...][/chroot]}), closed with the assigner.
     *
     * @throws NullPointerException if null
     * @throws IllegalArgumentException if blank or malformed (the message says which part and why)
     */
    public static Builder builder(String connectString) {
        Objects.requireNonNull(connectString, "connectString");
        ZooKeeperLockClient.builder(connectString); // checks it now, with its messages
        return new Builder(connectString, null);
    }

    /**
     * A builder for an assigner on a started Curator client the caller owns (its namespace, its session, which
     * keeps the leases); the assigner never closes it. Give it a retry policy that gives up well within the
     * command timeout (see {@link ZooKeeperLockClient#builder(CuratorFramework)}).
     *
     * @throws NullPointerException if null
     */
    public static Builder builder(CuratorFramework curator) {
        return new Builder(null, Objects.requireNonNull(curator, "curator"));
    }

    /**
     * Configures an assigner; every setter checks its argument at once.
     */
    public static final class Builder extends ZooKeeperBuilder<Builder> {
        private String basePath = DEFAULT_BASE_PATH;
        private @Nullable Duration leaseTime;
        private @Nullable Duration renewInterval;

        private Builder(@Nullable String connectString, @Nullable CuratorFramework curator) {
            super(connectString, curator);
        }

        /**
         * The path under which the worker locks ({@code <basePath>/locks}) and marks ({@code <basePath>/marks}) lie;
         * default {@value ZooKeeperWorkerIdAssigner#DEFAULT_BASE_PATH}. Assigners that share worker ids need the
         * same base path (and namespace).
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not an absolute path below the root without a trailing {@code '/'},
         *     not a valid ZooKeeper path, under {@code /zookeeper}, or longer than 190 characters
         */
        public Builder basePath(String basePath) {
            ZooKeeperAccess.checkPath("basePath", basePath);
            ZooKeeperAccess.checkPath("basePath", basePath + "/marks"); // the longest path made of it
            this.basePath = basePath;
            return this;
        }

        /**
         * How long a worker id of a process that stopped renewing stays leased; default two thirds of the session
         * timeout the ensemble grants. Checked in {@link #build()} against that session timeout: at most it.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if under {@link LockOptions#MIN_LEASE_TIME} or over {@link
         *     LockOptions#MAX_LEASE_TIME}
         */
        public Builder leaseTime(Duration leaseTime) {
            LockOptions.builder().leaseTime(leaseTime); // the locks' bounds, with their message
            this.leaseTime = leaseTime;
            return this;
        }

        /**
         * Time between renewals; default a third of the lease. Checked in {@link #build()}: at most half of it.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not positive
         */
        public Builder renewInterval(Duration renewInterval) {
            LockOptions.builder().renewInterval(renewInterval);
            this.renewInterval = renewInterval;
            return this;
        }



        /**
         * Connects (when the assigner makes its own client, within the command timeout), checks the base path and
         * the lease against the granted session timeout, and returns the assigner, which renews its leases on the
         * lock engine's daemon threads until it is closed.
         *
         * @throws IllegalStateException if the supplied Curator client is not started
         * @throws IdSourceUnavailableException if no connection is made, or a check gets no reply, within the
         *     command timeout
         * @throws IllegalArgumentException if a node on the base path is ephemeral, the lease time exceeds the
         *     granted session timeout, or the renew interval is over half the lease
         */
        public WorkerIdAssigner build() {
            ZooKeeperAccess zk = access();
            try {
                return build(zk);
            } catch (RuntimeException e) {
                zk.close();
                throw e;
            }
        }

        /** The assigner on {@code zk}; closes zk's client with the assigner if zk owns it. */
        WorkerIdAssigner build(ZooKeeperAccess zk) {
            zk.checkNoEphemeral("base path", basePath + "/marks");
            LockClient locks;
            try {
                locks = ZooKeeperLockClient.builder(zk.curator()).basePath(basePath + "/locks")
                        .commandTimeout(commandTimeout).build();
            } catch (LockBackendException e) {
                throw new IdSourceUnavailableException(basePath, "opening the worker locks under " + basePath
                        + "/locks on " + zk.describe() + " failed: " + e.getMessage(), e);
            }
            try {
                Duration session = Duration.ofMillis(zk.sessionTimeoutMillis());
                Duration lease = leaseTime != null ? leaseTime : Duration.ofMillis(Math.max(
                        LockOptions.MIN_LEASE_TIME.toMillis(), session.toMillis() * 2 / 3));
                if (lease.compareTo(session) > 0) {
                    throw new IllegalArgumentException("leaseTime " + lease + " is longer than the session timeout "
                            + session + " that " + zk.describe() + " granted: a worker id is a lock that lives as"
                            + " long as its session, so the lease could outlast it; use a leaseTime of at most "
                            + session + " (two thirds of it leaves a margin), or a longer sessionTimeout (which the"
                            + " servers cap at their maxSessionTimeout)");
                }
                LockedWorkerIdAssigner.Builder assigner = LockedWorkerIdAssigner.builder(locks,
                                new ZooKeeperWorkerMarkStore(zk, basePath + "/marks", basePath + "/locks"))
                        .namespace("") // the base path is the namespace
                        .leaseTime(lease)
                        .closeLockClientWithAssigner();
                if (renewInterval != null) {
                    assigner.renewInterval(renewInterval);
                }
                LockedWorkerIdAssigner built = assigner.build();
                return zk.owned() ? new ClosingClient(built, zk) : built;
            } catch (RuntimeException e) {
                locks.close();
                throw e;
            }
        }
    }

    /** An assigner that closes the Curator client it was made with after itself. */
    private record ClosingClient(LockedWorkerIdAssigner assigner, ZooKeeperAccess zk) implements WorkerIdAssigner {

        @Override
        public WorkerLease acquire(int maxWorkerIds) {
            return assigner.acquire(maxWorkerIds);
        }

        @Override
        public void close() {
            try {
                assigner.close();
            } finally {
                zk.close();
            }
        }

        @Override
        public String toString() {
            return assigner.toString();
        }
    }
}
