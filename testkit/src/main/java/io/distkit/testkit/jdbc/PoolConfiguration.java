package io.distkit.testkit.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.distkit.testkit.server.JdbcServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import javax.sql.DataSource;
import org.awaitility.Awaitility;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.datasource.DataSourceTransactionManager;
import org.springframework.jdbc.datasource.TransactionAwareDataSourceProxy;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * One cell of the configuration matrix the JDBC modules are tested under: the pool settings and calling
 * habits of ordinary applications, which distkit's statements must survive unchanged.
 *
 * <ul>
 *   <li>{@code autoCommit} of the pool: {@code false} is a common HikariCP setting (Hibernate users): a
 *       statement run outside a transaction is then never committed, and the pool rolls it back on
 *       return;</li>
 *   <li>the default isolation of every connection: {@code repeatable read} or {@code serializable}
 *       ({@code default_transaction_isolation} on PostgreSQL, MySQL's own default), where a lost race is a
 *       serialization failure rather than a wait;</li>
 *   <li>how the call comes: from a plain thread; from inside the caller's own Spring transaction on the
 *       same data source, which then rolls back (distkit's writes must neither join it nor be rolled back
 *       with it, nor keep its connection); or with a pool smaller than the threads that call.</li>
 * </ul>
 *
 * @param autoCommit the pool's {@code autoCommit}
 * @param isolation the default isolation of the pool's connections
 * @param caller how the calls come
 */
public record PoolConfiguration(boolean autoCommit, Isolation isolation, Caller caller) {

    /** The default isolation level of a pool's connections. */
    public enum Isolation {
        READ_COMMITTED("TRANSACTION_READ_COMMITTED"),
        REPEATABLE_READ("TRANSACTION_REPEATABLE_READ"),
        SERIALIZABLE("TRANSACTION_SERIALIZABLE");

        private final String hikariName;

        Isolation(String hikariName) {
            this.hikariName = hikariName;
        }
    }

    /** How the calls come. */
    public enum Caller {
        /** From plain threads, on a pool of {@value #POOL_SIZE} connections. */
        PLAIN_POOL,
        /**
         * From inside the caller's own Spring transaction on the same pool, which then rolls back; distkit is
         * given the pool behind a {@link TransactionAwareDataSourceProxy} ({@link #forDistkit}); the pool has
         * one connection more than the threads that call, each of which holds one for its transaction.
         */
        IN_CALLER_TRANSACTION,
        /** From more threads than the pool has connections ({@value #SMALL_POOL_SIZE}). */
        SMALL_POOL
    }

    /** The connections of a pool of {@link Caller#PLAIN_POOL}. */
    public static final int POOL_SIZE = 10;
    /** The connections of a pool of {@link Caller#SMALL_POOL}: fewer than the threads of every matrix test. */
    public static final int SMALL_POOL_SIZE = 2;

    public PoolConfiguration {
        Objects.requireNonNull(isolation, "isolation");
        Objects.requireNonNull(caller, "caller");
    }

    /** Every cell: autoCommit true/false × the three isolation levels × the three callers. */
    public static List<PoolConfiguration> all() {
        List<PoolConfiguration> all = new ArrayList<>();
        for (boolean autoCommit : new boolean[] {true, false}) {
            for (Isolation isolation : Isolation.values()) {
                for (Caller caller : Caller.values()) {
                    all.add(new PoolConfiguration(autoCommit, isolation, caller));
                }
            }
        }
        return all;
    }

    /**
     * A new pool on {@code server} with this cell's settings, for {@code callingThreads} threads; the caller
     * closes it.
     */
    public HikariDataSource pool(JdbcServer server, int callingThreads) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(server.jdbcUrl());
        config.setUsername(server.user());
        config.setPassword(server.password());
        config.setMaximumPoolSize(switch (caller) {
            case PLAIN_POOL -> POOL_SIZE;
            case IN_CALLER_TRANSACTION -> callingThreads + 1;
            case SMALL_POOL -> SMALL_POOL_SIZE;
        });
        config.setMinimumIdle(1);
        config.setConnectionTimeout(10_000);
        config.setAutoCommit(autoCommit);
        config.setTransactionIsolation(isolation.hikariName);
        return new HikariDataSource(config);
    }

    /**
     * The data source to build distkit on: {@code pool}, or, for {@link Caller#IN_CALLER_TRANSACTION}, {@code
     * pool} behind Spring's {@link TransactionAwareDataSourceProxy}, as applications whose data access joins
     * their transactions hand it around (its connections are the caller's transactional one while a
     * transaction runs).
     */
    public DataSource forDistkit(DataSource pool) {
        return caller == Caller.IN_CALLER_TRANSACTION ? new TransactionAwareDataSourceProxy(pool) : pool;
    }

    /**
     * Runs {@code work} as this cell's caller would: directly, or inside a Spring transaction on {@code pool}
     * that has used its connection (so it is really open) and is rolled back after the work.
     */
    public <T> T call(DataSource pool, Callable<T> work) throws Exception {
        if (caller != Caller.IN_CALLER_TRANSACTION) {
            return work.call();
        }
        TransactionTemplate transaction = new TransactionTemplate(new DataSourceTransactionManager(pool));
        AtomicReference<Exception> failure = new AtomicReference<>();
        T result = transaction.execute(status -> {
            new JdbcTemplate(pool).queryForObject("SELECT 1", Integer.class); // the caller's own work
            status.setRollbackOnly();
            try {
                return work.call();
            } catch (Exception e) {
                failure.set(e);
                return null;
            }
        });
        if (failure.get() != null) {
            throw failure.get();
        }
        return result;
    }

    /**
     * Waits (up to 5 s: a renewal in flight may hold one briefly) until none of {@code pool}'s connections is
     * borrowed: distkit keeps no connection past a call.
     */
    public static void awaitNoConnectionBorrowed(HikariDataSource pool) {
        Awaitility.await("no connection of " + pool.getPoolName() + " borrowed").atMost(Duration.ofSeconds(5))
                .pollInterval(Duration.ofMillis(10))
                .until(() -> pool.getHikariPoolMXBean().getActiveConnections() == 0);
    }

    @Override
    public String toString() {
        return "autoCommit=" + autoCommit + ", " + isolation.name().toLowerCase().replace('_', ' ') + ", "
                + caller.name().toLowerCase().replace('_', ' ');
    }
}
