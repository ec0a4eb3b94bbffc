package io.distkit.id.backends.jdbc;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.jdbc.SqlDialect;
import io.distkit.jdbc.internal.Database;
import io.distkit.jdbc.internal.DialectSql;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.ConcurrencyFailureException;
import org.springframework.dao.DataAccessException;
import org.springframework.dao.DataIntegrityViolationException;

/**
 * The worker-id assigner on one table; see {@link JdbcWorkerIdAssigner} for the user's view.
 *
 * <p><b>Claim.</b> One query finds, by the database clock, the lowest id in {@code [0, max)} whose
 * row is free (owner null or expired) and the lowest id that has no row yet. The lower of the two is
 * claimed: a free row by {@code UPDATE ... WHERE worker_id = ? AND (owner IS NULL OR expires_at <=
 * now)}, which the database evaluates again on the latest row version after waiting for the row lock,
 * so of two claimers of one row exactly one updates it; a missing id by {@code INSERT}, where the
 * primary key lets exactly one of two inserters in. A claimer that gets no row lost a race to one that
 * did, and looks again ({@value #MAX_CLAIM_ATTEMPTS} times at most; every lost race is someone else's
 * success). The invariant: a row's owner changes only from null or from an expired owner, in one
 * statement, so no two unexpired owners ever hold one id; and every lease's local deadline falls before
 * its row's expiry, so a lease never believes itself valid once its row could have been claimed again.
 *
 * <p><b>Threads.</b> Two daemon threads per assigner, both named {@code distkit-worker-lease-<n>}: one
 * runs the renewal passes and background releases, and may wait on the database; the other only
 * watches lease deadlines and runs loss listeners, so it declares a lease lost on time even while a
 * renewal hangs on a dead connection. Claims, saves and closes run on the caller's thread.
 */
final class TableWorkerIdAssigner implements WorkerIdAssigner {

    private static final Logger LOG = LoggerFactory.getLogger(TableWorkerIdAssigner.class);
    private static final AtomicInteger THREADS = new AtomicInteger();

    /** Claims per {@link #acquire}: each failed one means another acquirer succeeded meanwhile. */
    static final int MAX_CLAIM_ATTEMPTS = 64;
    /** Shortest wait before retrying a failed renewal pass. */
    private static final long MIN_RETRY_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    final Database database;
    final String table;
    final String description;
    final Duration leaseTime;
    final long leaseNanos;
    final long driftNanos;
    final LongSupplier ticker;
    private final SqlDialect dialect;
    private final long leaseMillis;
    private final long renewIntervalNanos;
    private final String ownerPrefix;

    private final ScheduledThreadPoolExecutor io;
    private final ScheduledThreadPoolExecutor watch;
    private final Set<TableWorkerLease> leases = ConcurrentHashMap.newKeySet();
    private final Object registration = new Object();
    private volatile boolean closed; // written under registration

    private final String candidatesSql;
    private final @Nullable String claimReturningSql;
    private final String claimSql;
    private final String readLastTimestampSql;
    private final String insertSql;
    private final String liveSql;
    private final String renewSql;
    final String saveSql;
    private final String releaseSql;
    private final String releaseByOwnerSql;

    TableWorkerIdAssigner(Database database, Duration leaseTime, Duration renewInterval, String ownerPrefix,
            LongSupplier ticker) {
        this.database = database;
        this.dialect = database.dialect();
        this.table = database.table();
        this.description = "table " + table + " of " + database.where();
        this.leaseTime = leaseTime;
        this.leaseMillis = leaseTime.toMillis();
        this.leaseNanos = leaseTime.toNanos();
        this.driftNanos = JdbcWorkerIdAssigner.driftNanos(leaseNanos);
        this.renewIntervalNanos = renewInterval.toNanos();
        this.ownerPrefix = ownerPrefix;
        this.ticker = ticker;

        DialectSql sql = DialectSql.of(dialect);
        String now = sql.now();
        String reclaimable = "owner IS NULL OR expires_at <= " + now;
        this.candidatesSql = "SELECT"
                + " (SELECT MIN(worker_id) FROM " + table + " WHERE worker_id >= 0 AND worker_id < ? AND (" + reclaimable + ")),"
                + " CASE WHEN EXISTS (SELECT 1 FROM " + table + " WHERE worker_id = 0)"
                + " THEN (SELECT MIN(a.worker_id + 1) FROM " + table + " a WHERE a.worker_id >= 0 AND a.worker_id < ?"
                + " AND NOT EXISTS (SELECT 1 FROM " + table + " b WHERE b.worker_id = a.worker_id + 1))"
                + " ELSE 0 END";
        this.claimReturningSql = claimReturningLastTimestamp(dialect, table, reclaimable);
        this.claimSql = "UPDATE " + table + " SET owner = ?, expires_at = " + sql.nowPlusMillis()
                + " WHERE worker_id = ? AND (" + reclaimable + ")";
        this.readLastTimestampSql = "SELECT last_timestamp FROM " + table + " WHERE worker_id = ? AND owner = ?";
        this.insertSql = insertIfAbsent(dialect, table);
        this.liveSql = "SELECT COUNT(*) FROM " + table + " WHERE worker_id >= 0 AND worker_id < ?"
                + " AND owner IS NOT NULL AND expires_at > " + now;
        // a row that expired by the database clock is not revived: it may be claimed by someone else already
        this.renewSql = sql.durable("UPDATE " + table + " SET expires_at = " + sql.nowPlusMillis()
                + " WHERE worker_id = ? AND owner = ? AND expires_at > " + now + sql.durableWhere());
        // GREATEST in all three databases; both sides are NOT NULL, so MySQL's NULL-if-any-NULL rule never applies
        this.saveSql = sql.durable("UPDATE " + table + " SET last_timestamp = GREATEST(last_timestamp, "
                + bigintParameter(dialect) + ") WHERE worker_id = ? AND owner = ?" + sql.durableWhere());
        this.releaseSql = sql.unhurried("UPDATE " + table + " SET owner = NULL, expires_at = " + now
                + " WHERE worker_id = ? AND owner = ?" + sql.durableWhere());
        this.releaseByOwnerSql = sql.unhurried("UPDATE " + table + " SET owner = NULL, expires_at = " + now
                + " WHERE owner = ?" + sql.durableWhere());

        this.io = executor();
        io.setExecuteExistingDelayedTasksAfterShutdownPolicy(false); // no renewal pass after close
        this.watch = executor(); // keeps queued listeners at shutdown; close cancels the deadline timers
        scheduleRenewal(renewIntervalNanos);
    }

    /**
     * Inserts a new row for a worker id not in the table yet: parameters worker id, owner, lease millis.
     * Either inserts one row, or (the id was inserted concurrently) inserts none or fails on the primary key.
     */
    private static String insertIfAbsent(SqlDialect dialect, String table) {
        DialectSql sql = DialectSql.of(dialect);
        if (dialect == SqlDialect.POSTGRESQL) {
            // DO NOTHING: a concurrent insert of the same id is a lost race, not an error (an error would
            // also be logged by the server for every race); FROM commit_mode makes the durable setting count
            return sql.durable("INSERT INTO " + table + " (worker_id, owner, last_timestamp, expires_at)"
                    + " SELECT ?, ?, 0, " + sql.nowPlusMillis() + " FROM commit_mode"
                    + " ON CONFLICT (worker_id) DO NOTHING");
        }
        return sql.durable("INSERT INTO " + table + " (worker_id, owner, last_timestamp, expires_at) VALUES (?, ?, 0, "
                + sql.nowPlusMillis() + ")");
    }

    /**
     * One statement that claims a reclaimable row and returns its {@code last_timestamp}: parameters
     * owner, lease millis, worker id; an empty result if the row was not reclaimable. Null where the
     * database has no {@code UPDATE ... RETURNING} (all but PostgreSQL); the claim is then an update and a
     * read by owner.
     */
    private static @Nullable String claimReturningLastTimestamp(SqlDialect dialect, String table, String reclaimable) {
        if (dialect != SqlDialect.POSTGRESQL) {
            return null;
        }
        DialectSql sql = DialectSql.of(dialect);
        return sql.durable("UPDATE " + table + " SET owner = ?, expires_at = " + sql.nowPlusMillis()
                + " WHERE worker_id = ? AND (" + reclaimable + ")" + sql.durableWhere() + " RETURNING last_timestamp");
    }

    /** A BIGINT statement parameter where the database cannot infer its type from the context. */
    private static String bigintParameter(SqlDialect dialect) {
        // MySQL casts to SIGNED, not BIGINT, and needs no cast here
        return dialect == SqlDialect.MYSQL ? "?" : "CAST(? AS BIGINT)";
    }

    private static ScheduledThreadPoolExecutor executor() {
        ThreadFactory threads = task -> {
            Thread thread = new Thread(task, "distkit-worker-lease-" + THREADS.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
        ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1, threads);
        executor.setRemoveOnCancelPolicy(true);
        return executor;
    }

    // ---------------------------------------------------------------- acquire

    @Override
    public WorkerLease acquire(int maxWorkerIds) {
        if (maxWorkerIds < 1) {
            throw new IllegalArgumentException("maxWorkerIds must be at least 1, was " + maxWorkerIds);
        }
        ensureOpen();
        String owner = newOwner();
        try {
            for (int attempt = 1; attempt <= MAX_CLAIM_ATTEMPTS; attempt++) {
                Integer[] candidates = candidates(maxWorkerIds); // {lowest free row, lowest missing id}
                Integer free = candidates[0];
                Integer missing = candidates[1];
                if (free == null && missing == null) {
                    throw exhausted(maxWorkerIds);
                }
                boolean takeRow = free != null && (missing == null || free < missing);
                int workerId = takeRow ? free : missing;
                long sentAt = ticker.getAsLong();
                Long lastTimestamp = takeRow ? claimRow(workerId, owner) : insertRow(workerId, owner);
                if (lastTimestamp != null) {
                    return register(new TableWorkerLease(this, workerId, owner, lastTimestamp, sentAt));
                }
                LOG.debug("worker id {} in {} was claimed by another assigner first; looking again", workerId, description);
            }
        } catch (DataAccessException e) {
            giveBackInBackground(owner); // a claim that failed on the way back may have taken effect
            throw new IdSourceUnavailableException(table, "leasing a worker id in [0, " + maxWorkerIds + ") from "
                    + description + " failed: " + Database.rootMessage(e)
                    + " (a claim that took effect all the same is given back)", e);
        }
        throw new IdGenerationException("no worker id in [0, " + maxWorkerIds + ") of " + description + " could be"
                + " claimed in " + MAX_CLAIM_ATTEMPTS + " attempts: each time another assigner claimed the chosen id"
                + " first; retry");
    }

    private Integer[] candidates(int maxWorkerIds) {
        return database.call("find a free worker id", statements -> statements.query(candidatesSql, rs -> {
            rs.next();
            int free = rs.getInt(1);
            Integer freeId = rs.wasNull() ? null : free;
            int missing = rs.getInt(2);
            Integer missingId = rs.wasNull() ? null : missing;
            return new Integer[] {freeId, missingId};
        }, maxWorkerIds, maxWorkerIds - 1));
    }

    /** Claims a free row; its last_timestamp, or null if another claimer got it first. */
    private @Nullable Long claimRow(int workerId, String owner) {
        try {
            if (claimReturningSql != null) {
                List<Long> last = database.call("claim a worker id",
                        statements -> statements.longs(claimReturningSql, owner, leaseMillis, workerId));
                return last.isEmpty() ? null : last.get(0);
            }
            if (database.call("claim a worker id", statements -> statements.update(claimSql, owner, leaseMillis,
                    workerId)) == 0) {
                return null;
            }
        } catch (ConcurrencyFailureException raced) {
            return null; // a deadlock or lock timeout between claimers: the other one went first
        }
        // only this owner changes last_timestamp from now on, so this read is the value at the claim; an empty
        // answer means the row expired and was claimed again in between (a lease shorter than a round trip)
        List<Long> last = database.call("read the last timestamp",
                statements -> statements.longs(readLastTimestampSql, workerId, owner));
        return last.isEmpty() ? null : last.get(0);
    }

    /** Inserts the row of an id not yet in the table; 0 (no earlier holder), or null if another inserter got in first. */
    private @Nullable Long insertRow(int workerId, String owner) {
        try {
            return database.call("claim a worker id",
                    statements -> statements.update(insertSql, workerId, owner, leaseMillis)) == 1 ? 0L : null;
        } catch (DataIntegrityViolationException | ConcurrencyFailureException raced) {
            return null; // the primary key: a concurrent insert of the same id won
        }
    }

    private IdGenerationException exhausted(int maxWorkerIds) {
        Long live = database.call("count live leases", statements -> statements.longs(liveSql, maxWorkerIds)).get(0);
        return new IdGenerationException("all " + maxWorkerIds + " worker ids in [0, " + maxWorkerIds + ") are leased in "
                + description + ": " + live + " live lease(s) by the database clock"
                + (live != null && live < maxWorkerIds ? ", the others being claimed or renewed right now" : "")
                + "; close generators no longer needed, wait for the leases of crashed processes to expire (lease time "
                + leaseTime + "), or give the id layout more worker-id bits");
    }

    private TableWorkerLease register(TableWorkerLease lease) {
        synchronized (registration) {
            if (!closed) {
                leases.add(lease);
                lease.armDeadline();
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
        return new IllegalStateException("this worker-id assigner on " + description + " is closed");
    }

    /** A value no other lease ever had: the operator's prefix, '#', 128 random bits in 22 characters. */
    private String newOwner() {
        UUID random = UUID.randomUUID();
        ByteBuffer bits = ByteBuffer.allocate(16).putLong(random.getMostSignificantBits())
                .putLong(random.getLeastSignificantBits());
        return ownerPrefix + "#" + Base64.getUrlEncoder().withoutPadding().encodeToString(bits.array());
    }

    // ---------------------------------------------------------------- renewal

    private void scheduleRenewal(long delayNanos) {
        try {
            io.schedule(this::renewalPass, Math.max(0, delayNanos), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException afterClose) {
            // closed: no more passes
        }
    }

    /** One pass; re-arms itself whatever happens, so that a failure cannot stop renewals. */
    private void renewalPass() {
        long next = renewIntervalNanos;
        try {
            next = renewAll();
        } catch (RuntimeException | Error e) {
            LOG.error("renewal pass of the worker leases in {} failed; retrying", description, e);
            next = MIN_RETRY_NANOS;
        } finally {
            if (!closed) {
                scheduleRenewal(next);
            }
        }
    }

    /** Renews every valid lease in one JDBC batch; the delay until the next pass. */
    private long renewAll() {
        long now = ticker.getAsLong();
        List<TableWorkerLease> batch = new ArrayList<>();
        long earliestDeadline = Long.MAX_VALUE;
        for (TableWorkerLease lease : leases) {
            if (lease.checkDeadline(now)) {
                batch.add(lease);
                earliestDeadline = Math.min(earliestDeadline, lease.deadline() - now);
            }
        }
        if (batch.isEmpty()) {
            return renewIntervalNanos;
        }
        long sentAt = ticker.getAsLong();
        int[] counts;
        try {
            counts = database.callRepeatable("renew worker leases", statements -> statements.batch(renewSql, batch.size(),
                    (statement, i) -> {
                        statement.setLong(1, leaseMillis);
                        statement.setInt(2, batch.get(i).workerId());
                        statement.setString(3, batch.get(i).owner());
                    }));
        } catch (DataAccessException e) {
            // unknown outcome: keep the deadlines, try again in time for another go before the earliest one
            long retry = Math.max(MIN_RETRY_NANOS, Math.min(renewIntervalNanos, earliestDeadline / 2));
            LOG.warn("renewing {} worker lease(s) in {} failed: {}; retrying in {} ms, before the lease deadline",
                    batch.size(), description, Database.rootMessage(e), TimeUnit.NANOSECONDS.toMillis(retry));
            return retry;
        }
        long repliedAt = ticker.getAsLong();
        for (int i = 0; i < batch.size(); i++) {
            TableWorkerLease lease = batch.get(i);
            lease.renewed(counts[i] > 0, sentAt, repliedAt);
        }
        return renewIntervalNanos;
    }

    // ---------------------------------------------------------------- release and close

    void forget(TableWorkerLease lease) {
        leases.remove(lease);
    }

    /** Releases on the caller's thread; never throws: a release that fails leaves the rows to expire. */
    void releaseQuietly(List<TableWorkerLease> toRelease) {
        if (toRelease.isEmpty()) {
            return;
        }
        try {
            database.callRepeatable("release worker leases", statements -> statements.batch(releaseSql, toRelease.size(),
                    (statement, i) -> {
                        statement.setInt(1, toRelease.get(i).workerId());
                        statement.setString(2, toRelease.get(i).owner());
                    }));
        } catch (RuntimeException e) {
            LOG.warn("releasing {} worker lease(s) in {} failed: {}; the row(s) expire by themselves within {}",
                    toRelease.size(), description, Database.rootMessage(e), leaseTime);
        }
    }

    /** Gives back a lost lease's row if it is still ours (a late renewal extended it), off the caller's thread. */
    void releaseInBackground(TableWorkerLease lease) {
        inBackground(() -> releaseQuietly(List.of(lease)));
    }

    private void giveBackInBackground(String owner) {
        inBackground(() -> {
            try {
                database.callRepeatable("give back a claim", statements -> statements.update(releaseByOwnerSql, owner));
            } catch (RuntimeException e) {
                LOG.debug("giving back a claim of owner {} in {} failed; it expires within {}", owner, description,
                        leaseTime, e);
            }
        });
    }

    private void inBackground(Runnable task) {
        try {
            io.execute(task);
        } catch (RejectedExecutionException afterClose) {
            // closed: the rows expire by themselves
        }
    }

    /** Arms a lease's deadline check on the watch thread; null once the assigner is closed. */
    @Nullable ScheduledFuture<?> scheduleDeadline(Runnable check, long delayNanos) {
        try {
            return watch.schedule(check, Math.max(TimeUnit.MILLISECONDS.toNanos(1), delayNanos), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException afterClose) {
            return null;
        }
    }

    /** Runs loss listeners on a library thread, each guarded, so that one that throws does not stop the others. */
    void runListeners(List<Runnable> listeners, TableWorkerLease lease) {
        Runnable all = () -> {
            for (Runnable listener : listeners) {
                try {
                    listener.run();
                } catch (RuntimeException | Error e) {
                    LOG.error("a loss listener of {} threw", lease, e);
                }
            }
        };
        try {
            watch.execute(all);
        } catch (RejectedExecutionException afterClose) {
            Thread thread = new Thread(all, "distkit-worker-lease-" + THREADS.incrementAndGet());
            thread.setDaemon(true);
            thread.start();
        }
    }

    /**
     * Closes every open lease (they turn invalid, their listeners do not run), releases their rows in one
     * batch, and stops the threads. Idempotent; never throws because the database is unreachable.
     */
    @Override
    public void close() {
        synchronized (registration) {
            if (closed) {
                return;
            }
            closed = true;
        }
        io.shutdown();
        List<TableWorkerLease> toRelease = new ArrayList<>();
        for (TableWorkerLease lease : List.copyOf(leases)) {
            if (lease.closeLocally()) {
                toRelease.add(lease);
            }
        }
        leases.clear();
        releaseQuietly(toRelease);
        watch.shutdown();
    }

    @Override
    public String toString() {
        return "JdbcWorkerIdAssigner[" + description + ", " + dialect + ", lease " + leaseTime + ", "
                + leases.size() + " open lease(s)" + (closed ? ", closed" : "") + "]";
    }
}
