package io.distkit.id.backends.etcd;

import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.backends.LockedWorkerIdAssigner;
import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockOptions;
import io.distkit.lock.etcd.EtcdLockClient;
import io.etcd.jetcd.Client;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Worker ids for snowflake-style generators, leased on etcd.
 *
 * <pre>{@code
 * WorkerIdAssigner workers = EtcdWorkerIdAssigner.builder("http://127.0.0.1:2379").build();
 * WorkerLease lease = workers.acquire(1024);   // the lowest free worker id in [0, 1024), renewed in the background
 * }</pre>
 *
 * <p>Worker id {@code n} is the lock {@code worker-<n>} of lock-etcd under {@code <keyPrefix>worker-lock/} (see
 * {@link EtcdLockClient}: a key attached to an etcd lease of the client's session, whose create revision is the
 * lock's fencing token), so the lease is kept as lock-etcd keeps its locks ({@link LockedWorkerIdAssigner}):
 * renewed by keep-alives, ended at its local deadline when they fail, reported lost when the key is gone. Each
 * worker id's high-water mark is the key {@code <keyPrefix>worker-mark/worker-<n>}, read and saved in
 * compare-and-swap transactions fenced by that token, so a holder whose lock was taken over changes nothing.
 * Marks are never deleted: a recycled id's next lease reports the mark as its last timestamp. etcd leases are
 * whole seconds, at least 2 s.
 */
public final class EtcdWorkerIdAssigner {

    /** The key prefix used unless {@link Builder#keyPrefix} sets another. */
    public static final String DEFAULT_KEY_PREFIX = EtcdConnection.DEFAULT_KEY_PREFIX;
    /** The lease unless {@link Builder#leaseTime} sets another: 30 seconds. */
    public static final Duration DEFAULT_LEASE_TIME = LockOptions.DEFAULT_LEASE_TIME;
    /** The shortest lease etcd grants (with its default election timeout): 2 seconds. */
    public static final Duration MIN_LEASE_TIME = Duration.ofSeconds(EtcdLockClient.MIN_LEASE_SECONDS);

    private EtcdWorkerIdAssigner() {}

    /** A builder for an assigner on a jetcd client the caller owns (never closed by the assigner). */
    public static Builder builder(Client client) {
        return new Builder(EtcdConnection.of(client));
    }

    /**
     * A builder for an assigner with a jetcd client of its own for these endpoints, closed with the assigner.
     *
     * @throws IllegalArgumentException if there is no endpoint, or one is malformed
     */
    public static Builder builder(String... endpoints) {
        return new Builder(EtcdConnection.of(endpoints));
    }

    /** Configures an assigner; every setter checks its argument at once. */
    public static final class Builder extends EtcdBuilder<Builder> {
        private Duration leaseTime = DEFAULT_LEASE_TIME;
        private final LockOptions.Builder lease = LockOptions.builder();

        private Builder(EtcdConnection connection) {
            super(connection);
        }

        /**
         * How long etcd keeps the worker id of a process that stopped renewing (crashed, paused, cut off): the
         * wait before such an id can be leased again; default 30 s.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not whole seconds, under 2 s, or over
         *     {@link LockOptions#MAX_LEASE_TIME}
         */
        public Builder leaseTime(Duration leaseTime) {
            Objects.requireNonNull(leaseTime, "leaseTime");
            if (leaseTime.getNano() != 0) {
                throw new IllegalArgumentException("leaseTime must be whole seconds on etcd (its leases have a TTL in"
                        + " seconds), was " + leaseTime);
            }
            if (leaseTime.compareTo(MIN_LEASE_TIME) < 0) {
                throw new IllegalArgumentException("leaseTime must be at least " + MIN_LEASE_TIME.toSeconds()
                        + " s on etcd (the minimum lease etcd grants), was " + leaseTime);
            }
            lease.leaseTime(leaseTime);
            this.leaseTime = leaseTime;
            return this;
        }

        /**
         * Time between renewals; default a third of the lease. At most half of it, checked in {@link #build()}.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder renewInterval(Duration renewInterval) {
            lease.renewInterval(renewInterval);
            return this;
        }

        /**
         * The assigner, which renews its leases on the lock engine's daemon threads until it is closed; nothing
         * is asked of etcd before the first {@code acquire}.
         *
         * @throws IllegalArgumentException if the renew interval is over half the lease
         */
        public WorkerIdAssigner build() {
            LockOptions options = lease.build(); // the renew interval against the lease, before any connection
            Client client = connection.client();
            try {
                String lockPrefix = connection.keyPrefix + "worker-lock/";
                LockClient locks = EtcdLockClient.builder(client).keyPrefix(lockPrefix)
                        .commandTimeout(connection.commandTimeout).build();
                if (connection.ownsClient()) {
                    locks = new ClosingClient(locks, client);
                }
                EtcdWorkerMarkStore marks = new EtcdWorkerMarkStore(client.getKVClient(),
                        connection.keyPrefix + "worker-mark/", lockPrefix,
                        new EtcdCalls(connection.commandTimeout, connection.describe()));
                return LockedWorkerIdAssigner.builder(locks, marks)
                        .namespace("") // the key prefix is the namespace
                        .leaseTime(leaseTime)
                        .renewInterval(options.renewInterval())
                        .closeLockClientWithAssigner()
                        .build();
            } catch (RuntimeException | Error e) {
                if (connection.ownsClient()) {
                    client.close();
                }
                throw e;
            }
        }
    }

    /** A lock client that closes the jetcd client made for it after itself. */
    private record ClosingClient(LockClient locks, Client client) implements LockClient {
        @Override
        public DistributedLock lock(String name) {
            return locks.lock(name);
        }

        @Override
        public DistributedLock lock(String name, LockOptions options) {
            return locks.lock(name, options);
        }

        @Override
        public LockOptions defaultOptions() {
            return locks.defaultOptions();
        }

        @Override
        public void close() {
            try {
                locks.close();
            } finally {
                client.close();
            }
        }
    }
}
