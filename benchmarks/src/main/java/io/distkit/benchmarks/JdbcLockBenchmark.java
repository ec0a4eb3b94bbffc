package io.distkit.benchmarks;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.jdbc.JdbcLockClient;
import io.distkit.testkit.server.H2Database;
import io.distkit.testkit.server.PostgresServer;
import io.distkit.testkit.server.TestServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;
import java.util.function.BooleanSupplier;
import javax.sql.DataSource;
import net.javacrumbs.shedlock.core.ClockProvider;
import net.javacrumbs.shedlock.core.LockConfiguration;
import net.javacrumbs.shedlock.core.SimpleLock;
import net.javacrumbs.shedlock.provider.jdbctemplate.JdbcTemplateLockProvider;
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
import org.springframework.integration.jdbc.lock.DefaultLockRepository;
import org.springframework.integration.jdbc.lock.JdbcLockRegistry;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.datasource.DataSourceTransactionManager;

/**
 * The JDBC lock backend against the two JDBC lock libraries Spring applications commonly use, Spring
 * Integration's {@code JdbcLockRegistry} and ShedLock's {@code JdbcTemplateLockProvider}, on a private
 * PostgreSQL cluster (the {@code postgres} binaries on the PATH, in {@code DISTKIT_POSTGRES_BIN} or under
 * {@code /usr/lib/postgresql}; {@code fsync} and {@code synchronous_commit} on) or a private in-memory H2
 * database, either started afresh for each trial. Each implementation gets its own HikariCP pool of
 * {@value #POOL_SIZE} connections (HikariCP's defaults otherwise: auto-commit, the pool kept full).
 *
 * <pre>
 * scripts/bench.sh JdbcLockBenchmark -f 2 -wi 3 -i 5 -w 2 -r 3
 * scripts/bench.sh JdbcLockBenchmark -p db=POSTGRESQL -f 3 -wi 3 -i 5 -w 2 -r 3 -prof gc
 * </pre>
 *
 * <p>The target: {@code DISTKIT} at least twice as fast as {@code SPRING_INTEGRATION} on PostgreSQL. As
 * with the Redis suite, take ratios from several forks; a 2-core VM moves single-fork figures by 15 %.
 *
 * <p><b>acquireRelease</b>: one thread, one lock name, no contention; average time of one acquire plus
 * its release, every implementation asking for a 30 s lease.
 * <ul>
 *   <li>{@code DISTKIT} = {@code lock.acquire()} / {@code handle.release()} on a client built by
 *       {@code JdbcLockClient.builder(pool).createTableIfMissing().build()} (default options: 30 s lease,
 *       auto-renew, reentrant). A blocking caller's acquire and release run on the caller's thread. On
 *       PostgreSQL the acquire is one statement ({@code INSERT ... ON CONFLICT DO UPDATE ... WHERE free
 *       RETURNING fencing_token}, plus the holder's remaining lease in the same round trip) committed with
 *       {@code synchronous_commit = on}, and the release one owner-checked {@code UPDATE} committed with it
 *       off (a release lost in a crash only leaves the row until its expiry), each its own auto-commit
 *       transaction; on H2 the acquire is a transaction of {@code UPDATE}, {@code INSERT} if the row is
 *       missing, and a {@code SELECT} of the token.</li>
 *   <li>{@code SPRING_INTEGRATION} = {@code registry.obtain(name).lock()} / {@code unlock()} on a
 *       {@code JdbcLockRegistry} (time-to-live 30 s) over a {@code DefaultLockRepository} (region
 *       {@code DEFAULT}, table {@code INT_LOCK} from the {@code schema-*.sql} in its jar), given a
 *       {@code DataSourceTransactionManager} and its life-cycle calls by hand as there is no application
 *       context. Its lock is a local {@code ReentrantLock} plus a row. The acquire is a read-committed
 *       transaction: {@code UPDATE} (a row that is its own or expired), then {@code INSERT}, as the release
 *       deleted the row; because the isolation level is explicit, Spring first asks the connection for the
 *       current one, which pgjdbc answers with a {@code SHOW TRANSACTION ISOLATION LEVEL} of its own (a
 *       round trip and an auto-commit transaction). The release is a transaction with one {@code DELETE}.</li>
 *   <li>{@code SHEDLOCK} = {@code provider.lock(new LockConfiguration(now, name, 30 s, 0))} /
 *       {@code SimpleLock.unlock()} on a {@code JdbcTemplateLockProvider} with {@code usingDbTime()}
 *       (expiry by the database clock, as distkit does). The first acquire inserts the row (on PostgreSQL
 *       an upsert); later ones are one {@code UPDATE ... WHERE lock_until <= now}; the release sets
 *       {@code lock_until} back to now; each in a transaction of its own. ShedLock is not a mutex that
 *       waits: a lock it cannot take is an empty {@code Optional}, which cannot happen uncontended, so the
 *       benchmark fails if it does rather than count it as a cycle. Its table is ShedLock's documented
 *       PostgreSQL DDL, which H2 accepts as it is.</li>
 * </ul>
 *
 * <p>Per cycle on PostgreSQL (seen with {@code log_statement = all}): {@code DISTKIT} 2 round trips and 2
 * commits; {@code SHEDLOCK} 4 round trips ({@code BEGIN} goes with the first statement, {@code COMMIT} is one
 * more) and 2 commits; {@code SPRING_INTEGRATION} 6 round trips and 3 commits, one of them the read-only
 * {@code SHOW}. The peers' two writing commits each wait for a WAL flush ({@code fsync} and
 * {@code synchronous_commit} on), on a disk with a slow flush the larger part of a cycle; distkit's
 * release does not wait for one, which is most of its lead.
 *
 * <p>On PostgreSQL, the end of each trial prints the transactions the database committed per operation
 * during the measurement iterations ({@code pg_stat_database.xact_commit} of the benchmark database). A
 * backend (PostgreSQL 15 and later) reports its counts at most once a second while busy and, once idle,
 * only after 10 s, but always when it exits; so the pool's connections are closed (and reopened before the
 * measurement starts) around each reading. The count includes some 20 transactions of the reading itself
 * and of HikariCP's connection set-up (0.01 per op in a 1 s smoke run, nothing in a real one), and any
 * autovacuum of the trial.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
@Fork(1)
public class JdbcLockBenchmark {

    /** The lease (lock time-to-live) every implementation asks for. */
    static final Duration LEASE = Duration.ofSeconds(30);
    /** The size of each implementation's HikariCP pool. */
    static final int POOL_SIZE = 5;
    /** The lock of {@link #acquireRelease}. */
    static final String LOCK_NAME = "acquire-release";
    /**
     * The PostgreSQL {@code application_name} of the pool's connections, by which the transaction count
     * finds them in {@code pg_stat_activity}.
     */
    static final String APPLICATION_NAME = "distkit-jdbc-bench";
    /** How long the transaction count waits for closed connections to go and the pool to refill. */
    private static final Duration SETTLE_TIMEOUT = Duration.ofSeconds(10);


    /** A started database: the server to close at the end, and how to connect. */
    record Database(TestServer server, String jdbcUrl, String user, String password) {}

    /** The databases, each a private one started per trial. */
    public enum Db {
        POSTGRESQL("postgresql") {
            @Override
            Database start() {
                PostgresServer server = PostgresServer.builder().build();
                server.start();
                return new Database(server, server.jdbcUrl(), server.user(), server.password());
            }

            @Override
            void configure(HikariConfig pool) {
                pool.addDataSourceProperty("ApplicationName", APPLICATION_NAME);
            }
        },
        H2("h2") {
            @Override
            Database start() {
                H2Database database = H2Database.builder().build(); // H2's own dialect
                database.start();
                return new Database(database, database.jdbcUrl(), database.user(), database.password());
            }
        };

        /** The {@code <db>} of Spring Integration's {@code schema-<db>.sql}. */
        final String springIntegrationSchema;

        Db(String springIntegrationSchema) {
            this.springIntegrationSchema = springIntegrationSchema;
        }

        abstract Database start();

        /** Database-specific pool settings. */
        void configure(HikariConfig pool) {}
    }

    /** The implementations compared, behind one facade. */
    public enum Impl {
        DISTKIT {
            @Override
            Locker open(DataSource pool, Db db, String name) {
                return Locker.distkit(JdbcLockClient.builder(pool).createTableIfMissing().build(), name);
            }
        },
        SPRING_INTEGRATION {
            @Override
            Locker open(DataSource pool, Db db, String name) {
                createTable(pool, springIntegrationLockTable(db));
                DefaultLockRepository repository = new DefaultLockRepository(pool);
                // outside an application context: give it the transaction manager it would look up as a bean,
                // then call the container's life-cycle methods (queries, transaction templates, table check)
                repository.setTransactionManager(new DataSourceTransactionManager(pool));
                repository.afterPropertiesSet();
                repository.afterSingletonsInstantiated();
                repository.start();
                JdbcLockRegistry registry = new JdbcLockRegistry(repository, LEASE);
                Lock lock = registry.obtain(name);
                return new Locker() {
                    @Override
                    public Object acquire() {
                        lock.lock();
                        return lock;
                    }

                    @Override
                    public void release(Object held) {
                        lock.unlock(); // Spring Integration: only from the thread that locked
                    }

                    @Override
                    public void close() {
                        repository.close(); // deletes this client's rows
                        repository.stop();
                    }
                };
            }
        },
        SHEDLOCK {
            @Override
            Locker open(DataSource pool, Db db, String name) {
                createTable(pool, "CREATE TABLE IF NOT EXISTS shedlock (name VARCHAR(64) NOT NULL,"
                        + " lock_until TIMESTAMP NOT NULL, locked_at TIMESTAMP NOT NULL,"
                        + " locked_by VARCHAR(255) NOT NULL, PRIMARY KEY (name))");
                JdbcTemplateLockProvider provider = new JdbcTemplateLockProvider(JdbcTemplateLockProvider.Configuration
                        .builder()
                        .withJdbcTemplate(new JdbcTemplate(pool))
                        .usingDbTime()
                        .build());
                return new Locker() {
                    @Override
                    public Object acquire() {
                        return provider.lock(new LockConfiguration(ClockProvider.now(), name, LEASE, Duration.ZERO))
                                .orElseThrow(() -> new IllegalStateException("ShedLock did not take the uncontended"
                                        + " lock " + name + ": still held by an earlier cycle?"));
                    }

                    @Override
                    public void release(Object held) {
                        ((SimpleLock) held).unlock();
                    }

                    @Override
                    public void close() {}
                };
            }
        };

        /** A new client on {@code pool} for lock {@code name}, its table created if missing. */
        abstract Locker open(DataSource pool, Db db, String name);

        /**
         * Spring Integration's {@code INT_LOCK} statement from the {@code schema-<db>.sql} in its jar (the
         * file also creates the message store's tables, which the lock does not need), made idempotent.
         */
        private static String springIntegrationLockTable(Db db) {
            String resource = "org/springframework/integration/jdbc/schema-" + db.springIntegrationSchema + ".sql";
            String script;
            try (InputStream in = DefaultLockRepository.class.getClassLoader().getResourceAsStream(resource)) {
                if (in == null) {
                    throw new IllegalStateException(resource + " is missing from the class path");
                }
                script = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            for (String statement : script.replaceAll("(?m)^\\s*--.*$", "").split(";")) {
                String sql = statement.strip();
                if (sql.toUpperCase(Locale.ROOT).matches("(?s)CREATE TABLE INT_LOCK\\s*\\(.*")) {
                    return "CREATE TABLE IF NOT EXISTS" + sql.substring("CREATE TABLE".length());
                }
            }
            throw new IllegalStateException("no CREATE TABLE INT_LOCK statement in " + resource);
        }

        private static void createTable(DataSource pool, String ddl) {
            try (Connection connection = pool.getConnection(); Statement statement = connection.createStatement()) {
                statement.execute(ddl);
            } catch (SQLException e) {
                throw new IllegalStateException("could not create a table: " + ddl, e);
            }
        }
    }

    @Param({"DISTKIT", "SPRING_INTEGRATION", "SHEDLOCK"})
    public Impl impl;

    @Param({"POSTGRESQL", "H2"})
    public Db db;

    private Database database;
    private HikariDataSource pool;
    private Locker locker;
    /** Operations in the measurement iterations, for the commits-per-operation line; one thread writes it. */
    private long measuredOps;
    private boolean measuring;
    /** {@code xact_commit} when the measurement began; -1 where not counted (H2, or the count failed). */
    private long commitsBefore = -1;

    @Setup(Level.Trial)
    public void open() {
        database = db.start();
        try {
            HikariConfig config = new HikariConfig();
            config.setPoolName("bench-" + impl);
            config.setJdbcUrl(database.jdbcUrl());
            config.setUsername(database.user());
            config.setPassword(database.password());
            config.setMaximumPoolSize(POOL_SIZE);
            db.configure(config);
            pool = new HikariDataSource(config);
            locker = impl.open(pool, db, LOCK_NAME);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** From the first measurement iteration on, commits are counted (on PostgreSQL). */
    @Setup(Level.Iteration)
    public void countFromMeasurement(IterationParams iteration) {
        if (iteration.getType() == IterationType.MEASUREMENT && !measuring) {
            measuring = true;
            measuredOps = 0;
            if (db == Db.POSTGRESQL) {
                commitsBefore = committedTransactions(true);
            }
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        try {
            if (measuring && measuredOps > 0 && commitsBefore >= 0) {
                long commitsAfter = committedTransactions(false);
                if (commitsAfter >= 0) {
                    System.out.printf("%npostgresql transactions committed per op (%s, %d ops): %.2f%n", impl,
                            measuredOps, (double) (commitsAfter - commitsBefore) / measuredOps);
                }
            }
        } finally {
            try {
                if (locker != null) {
                    locker.close();
                }
            } finally {
                locker = null;
                if (pool != null) {
                    pool.close();
                    pool = null;
                }
                if (database != null) {
                    database.server().close();
                    database = null;
                }
            }
        }
    }

    /**
     * {@code xact_commit} of the benchmark database, every transaction of the pool included: PostgreSQL
     * (15 and later) has a busy backend report its counts at most once a second, an idle one only after
     * 10 s, and an exiting one before it goes. So the pool's idle connections (all of them, between
     * iterations) are closed, and the reading waits until their backends have left {@code pg_stat_activity}.
     * With {@code refill}, it then waits until the pool has opened new ones, so that the measurement does not
     * pay for that. Returns -1, with a message, if the backends do not go within {@link #SETTLE_TIMEOUT}.
     */
    private long committedTransactions(boolean refill) {
        try (Connection monitor = DriverManager.getConnection(database.jdbcUrl(), database.user(),
                database.password())) {
            List<Integer> backends = new ArrayList<>();
            try (PreparedStatement query = monitor.prepareStatement("SELECT pid FROM pg_stat_activity"
                    + " WHERE datname = current_database() AND application_name = ?")) {
                query.setString(1, APPLICATION_NAME);
                try (ResultSet rows = query.executeQuery()) {
                    while (rows.next()) {
                        backends.add(rows.getInt(1));
                    }
                }
            }
            pool.getHikariPoolMXBean().softEvictConnections();
            Array pids = monitor.createArrayOf("integer", backends.toArray());
            boolean gone = await(() -> {
                try (PreparedStatement query = monitor.prepareStatement(
                        "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY (?)")) {
                    query.setArray(1, pids);
                    try (ResultSet rows = query.executeQuery()) {
                        rows.next();
                        return rows.getLong(1) == 0;
                    }
                } catch (SQLException e) {
                    throw new IllegalStateException(e);
                }
            });
            if (!gone) {
                System.out.println("\nthe pool's connections did not close within " + SETTLE_TIMEOUT
                        + ": no transaction count for this trial");
                return -1;
            }
            long commits;
            try (Statement statement = monitor.createStatement()) {
                statement.execute("SELECT pg_stat_clear_snapshot()"); // no cached figures from an earlier read
                try (ResultSet rows = statement.executeQuery(
                        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")) {
                    rows.next();
                    commits = rows.getLong(1);
                }
            }
            if (refill && !await(() -> pool.getHikariPoolMXBean().getTotalConnections() >= POOL_SIZE)) {
                System.out.println("\nthe pool did not refill within " + SETTLE_TIMEOUT + "; measuring all the same");
            }
            return commits;
        } catch (SQLException | RuntimeException e) {
            System.out.println("\ncould not count transactions: " + e);
            return -1;
        }
    }

    /**
     * Polls {@code condition} every 10 ms until it holds (true) or {@link #SETTLE_TIMEOUT} has passed (false);
     * not more often, as every poll of the database is a transaction that may land in the count.
     */
    private static boolean await(BooleanSupplier condition) {
        long deadline = System.nanoTime() + SETTLE_TIMEOUT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    /** One uncontended acquire and release on one thread; returns what the acquire returned. */
    @Benchmark
    public Object acquireRelease() throws InterruptedException {
        Object held = locker.acquire();
        locker.release(held);
        measuredOps++;
        return held;
    }
}
