package io.distkit.lock.jdbc;

import io.distkit.common.DaemonThreads;
import io.distkit.jdbc.SqlDialect;
import io.distkit.jdbc.internal.DialectSql;
import io.distkit.lock.spi.Acquisition;
import io.distkit.lock.spi.Attempt;
import io.distkit.lock.spi.LockBackend;
import io.distkit.lock.spi.LockRequest;
import io.distkit.jdbc.internal.Database;
import java.sql.SQLIntegrityConstraintViolationException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.ConcurrencyFailureException;

/**
 * The lock primitive on one table row per lock name: a row whose {@code owner} is null or whose
 * {@code expires_at} (database clock) has passed is free. Taking it sets the owner value, bumps
 * {@code fencing_token} and sets the expiry, in one statement (PostgreSQL) or one transaction;
 * renew and release are conditional on the owner value. Rows are never deleted, so tokens only
 * grow; a row created anew (first use, or after an operator deleted it) starts at the database
 * clock in microseconds, above any token the clock could have handed out before.
 *
 * <p>JDBC blocks, the engine's SPI does not: a blocking caller's first attempt and its release run
 * on the caller's thread (it waits for them anyway), everything else (retries, renewals, async
 * calls, clean-up) on this backend's own threads; each statement is bounded by the query timeout. Waiting is polling (a database cannot notify portably): jittered
 * exponential backoff from {@value #MIN_BACKOFF_MILLIS} ms, capped by the holder's remaining lease
 * and by {@value #MAX_BACKOFF_MILLIS} ms.
 */
final class JdbcLockBackend implements LockBackend<JdbcLease> {

    private static final Logger LOG = LoggerFactory.getLogger(JdbcLockBackend.class);

    static final long MIN_BACKOFF_MILLIS = 5;
    static final long MAX_BACKOFF_MILLIS = 250;

    private final Database database;
    private final SqlDialect dialect;
    private final String table;
    private final String description;
    private final ExecutorService executor;
    final Duration commandTimeout;
    private final @Nullable AutoCloseable closeWithClient;

    private final @Nullable String acquireInOne;
    private final String takeSql;
    private final String insertSql;
    private final String tokenSql;
    private final String remainingSql;
    private final String releaseSql;
    private final String renewSql;

    JdbcLockBackend(Database database, int threads, @Nullable AutoCloseable closeWithClient) {
        this.database = database;
        this.dialect = database.dialect();
        this.table = database.table();
        this.description = database.where() + " table " + table;
        this.commandTimeout = database.commandTimeout();
        this.closeWithClient = closeWithClient;
        ThreadPoolExecutor pool = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), DaemonThreads.factory("jdbc"));
        pool.allowCoreThreadTimeOut(true);
        this.executor = pool;

        DialectSql sql = DialectSql.of(dialect);
        this.acquireInOne = dialect == SqlDialect.POSTGRESQL ? acquireInOneStatement(sql, table) : null;
        this.takeSql = "UPDATE " + table + " SET owner = ?, fencing_token = fencing_token + 1, expires_at = "
                + sql.nowPlusMillis() + " WHERE lock_name = ? AND (owner IS NULL OR expires_at <= "
                + sql.now() + ")";
        this.insertSql = "INSERT INTO " + table + " (lock_name, owner, fencing_token, expires_at) VALUES (?, ?, "
                + sql.epochMicros() + ", " + sql.nowPlusMillis() + ")";
        this.tokenSql = "SELECT fencing_token FROM " + table + " WHERE lock_name = ? AND owner = ?";
        this.remainingSql = "SELECT " + sql.millisUntil("expires_at") + " FROM " + table + " WHERE lock_name = ?";
        this.releaseSql = sql.update(table).set("owner = NULL").where("lock_name = ? AND owner = ?").unhurried();
        this.renewSql = sql.update(table).set("expires_at = " + sql.nowPlusMillis())
                .where("lock_name = ? AND owner = ? AND expires_at > " + sql.now()).durable();
    }

    /**
     * PostgreSQL's acquire in one durable statement: an {@code INSERT ... ON CONFLICT DO UPDATE ... WHERE}
     * that takes a free or expired row (or creates it) and returns the new token, and, in the same
     * statement, reads the holder's remaining lease for the retry. Parameters name, owner, lease millis,
     * name; one row of (new token or null, the holder's remaining millis or null). The other databases
     * acquire with a conditional {@code UPDATE}, an {@code INSERT} when the row is missing (the primary
     * key turns a concurrent insert into "busy"), and a read of the token, in one transaction.
     */
    private static String acquireInOneStatement(DialectSql postgres, String table) {
        return postgres.insert(table).as("l")
                .columns("lock_name", "owner", "fencing_token", "expires_at")
                .values("?", "?", postgres.epochMicros(), postgres.nowPlusMillis())
                .onConflictDoUpdate("lock_name", "owner = EXCLUDED.owner", "fencing_token = l.fencing_token + 1",
                        "expires_at = EXCLUDED.expires_at")
                .onConflictWhere("l.owner IS NULL OR l.expires_at <= " + postgres.now())
                .returning("l.fencing_token")
                // the subquery on the table sees the row as it was before this statement: the holder's
                .inQuery("taken", "SELECT (SELECT fencing_token FROM taken),"
                        + " (SELECT " + postgres.millisUntil("expires_at") + " FROM " + table + " WHERE lock_name = ?)")
                .durable();
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public Acquisition<JdbcLease> newAcquisition(LockRequest request) {
        return new TableAcquisition(request);
    }

    @Override
    public CompletionStage<Boolean> renew(JdbcLease lease, Duration leaseTime) {
        return renewAll(List.of(lease), List.of(leaseTime)).thenApply(results -> results.get(0));
    }

    /** One JDBC batch for all: one round trip where the driver pipelines batches (PostgreSQL, H2). */
    @Override
    public CompletionStage<List<Boolean>> renewAll(List<JdbcLease> leases, List<Duration> leaseTimes) {
        return run(() -> {
            int[] counts = database.callRepeatable("renew", statements -> statements.batch(renewSql, leases.size(),
                    (statement, i) -> {
                        statement.setLong(1, leaseTimes.get(i).toMillis());
                        statement.setString(2, leases.get(i).name());
                        statement.setString(3, leases.get(i).owner());
                    }));
            List<Boolean> renewed = new ArrayList<>(counts.length);
            for (int count : counts) {
                renewed.add(count > 0);
            }
            return renewed;
        });
    }

    @Override
    public CompletionStage<Boolean> release(JdbcLease lease) {
        return run(() -> releaseNow(lease));
    }

    /** A user's release: the caller waits anyway, so the statement runs on its thread. */
    @Override
    public CompletionStage<Boolean> releaseOnCallerThread(JdbcLease lease) {
        return runHere(() -> releaseNow(lease));
    }

    private boolean releaseNow(JdbcLease lease) {
        return database.callRepeatable("release", statements -> statements.update(releaseSql, lease.name(), lease.owner())) > 0;
    }

    @Override
    public void close() {
        executor.shutdown();
        try {
            if (!executor.awaitTermination(commandTimeout.toMillis() + 1000, TimeUnit.MILLISECONDS)) {
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            executor.shutdownNow();
            Thread.currentThread().interrupt();
        } finally {
            if (closeWithClient != null) {
                try {
                    closeWithClient.close();
                } catch (Exception e) {
                    LOG.warn("closing the connection pool of {} failed", description, e);
                }
            }
        }
    }

    /**
     * Runs blocking JDBC work on the backend's threads. The stage also fails after the command
     * timeout plus a second, in case a driver ignores its query timeout (a black-holed socket):
     * the engine must get an answer, and the owner-checked statements make a late effect harmless.
     */
    private <T> CompletableFuture<T> run(Supplier<T> work) {
        return CompletableFuture.supplyAsync(work, executor)
                .orTimeout(commandTimeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
    }

    /**
     * Runs blocking JDBC work on the calling thread, for a caller that waits for it anyway: no hand-over
     * to a backend thread and back (two thread wake-ups, a third of an uncontended cycle on H2). Bounded
     * by the query timeout, and by the driver's socket timeout when the connection goes silent.
     */
    private static <T> CompletableFuture<T> runHere(Supplier<T> work) {
        try {
            return CompletableFuture.completedFuture(work.get());
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private final class TableAcquisition implements Acquisition<JdbcLease> {
        private final LockRequest request;
        private final JdbcLease lease;
        private int busyAttempts;
        private boolean attempted;
        private volatile boolean uncertain; // an attempt failed: it may have taken the lock all the same

        TableAcquisition(LockRequest request) {
            this.request = request;
            this.lease = new JdbcLease(request.name(), request.owner());
        }

        @Override
        public CompletionStage<Attempt<JdbcLease>> attempt() {
            long leaseMillis = request.leaseTime().toMillis();
            Supplier<Attempt<JdbcLease>> work = () -> {
                try {
                    return acquireInOne != null ? inOneStatement(leaseMillis) : inTransaction(leaseMillis);
                } catch (ConcurrencyFailureException lostRace) {
                    // a serialization failure (a server whose default isolation is repeatable read or
                    // serializable), a deadlock or a lock wait timeout: rolled back, nothing taken; another
                    // acquirer changed the row meanwhile, which is contention, not a failure
                    return busy(null);
                }
            };
            // the engine makes the first attempt on the caller's thread; later ones from its timers
            boolean first = !attempted;
            attempted = true;
            return (first && request.callerBlocks() ? runHere(work) : run(work))
                    .whenComplete((attempt, failure) -> {
                        if (failure != null) {
                            uncertain = true;
                        }
                    });
        }

        private Attempt<JdbcLease> inOneStatement(long leaseMillis) {
            return database.call("acquire", statements -> statements.query(acquireInOne, row -> {
                row.next();
                long token = row.getLong(1);
                if (!row.wasNull()) {
                    return Attempt.acquired(token, lease);
                }
                long remaining = row.getLong(2);
                return busy(row.wasNull() ? null : remaining);
            }, request.name(), request.owner(), leaseMillis, request.name()));
        }

        private Attempt<JdbcLease> inTransaction(long leaseMillis) {
            return database.inTransaction("acquire", statements -> {
                boolean taken = statements.update(takeSql, request.owner(), leaseMillis, request.name()) > 0;
                if (!taken) {
                    try {
                        taken = statements.update(insertSql, request.name(), request.owner(), leaseMillis) > 0;
                    } catch (SQLIntegrityConstraintViolationException held) {
                        // the primary key (every other column is ours): the row exists and is held, or a
                        // concurrent insert just won; busy either way (MySQL and H2 keep the transaction going)
                    }
                }
                if (taken) {
                    List<Long> token = statements.longs(tokenSql, request.name(), request.owner());
                    return Attempt.acquired(token.get(0), lease);
                }
                List<Long> remaining = statements.longs(remainingSql, request.name());
                return busy(remaining.isEmpty() ? null : remaining.get(0));
            });
        }

        /**
         * Busy: try again after a jittered exponential backoff (5 ms doubling to 250 ms, the upper half of
         * each step drawn at random), never later than the holder's remaining lease.
         */
        private Attempt<JdbcLease> busy(@Nullable Long holderRemainingMillis) {
            long step = Math.min(MAX_BACKOFF_MILLIS, MIN_BACKOFF_MILLIS << Math.min(busyAttempts++, 16));
            long wait = step / 2 + ThreadLocalRandom.current().nextLong(step / 2 + 1);
            if (holderRemainingMillis != null) {
                wait = Math.min(wait, Math.max(0, holderRemainingMillis + 1));
            }
            return Attempt.busy(Duration.ofMillis(Math.max(1, wait)), null);
        }

        /** An attempt that failed may have taken the lock before its reply was lost: give back what this owner value holds. */
        @Override
        public CompletionStage<Void> finish(boolean acquired) {
            if (acquired || !uncertain) {
                return CompletableFuture.completedFuture(null);
            }
            return run(() -> releaseNow(lease)).thenApply(ignored -> null);
        }
    }

    @Override
    public String toString() {
        return "JdbcLockBackend[" + description + ", table " + table + ", " + dialect + "]";
    }
}
