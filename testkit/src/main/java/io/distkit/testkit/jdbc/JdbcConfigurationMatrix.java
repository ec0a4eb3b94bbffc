package io.distkit.testkit.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.testkit.Closer;
import io.distkit.testkit.server.H2Database;
import io.distkit.testkit.server.JdbcServer;
import io.distkit.testkit.server.MariaDbServer;
import io.distkit.testkit.server.PostgresServer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.provider.Arguments;

/**
 * The configuration matrix of a JDBC module, as a base class: PostgreSQL, MariaDB and H2, each under every
 * {@link PoolConfiguration}, with {@value #CLIENTS} clients (a pool each) of {@value #THREADS} threads
 * contending. A module's test supplies one parameterized test over {@link #cells()}:
 *
 * <pre>{@code
 * @ParameterizedTest(name = "{0}: {1}", autoCloseArguments = false) // the servers outlive a cell
 * @MethodSource("cells")
 * void ...(JdbcServer server, PoolConfiguration cell) { List<HikariDataSource> pools = pools(server, cell, closer); ... run(cell, pools, rounds, call); }
 * }</pre>
 */
public abstract class JdbcConfigurationMatrix {

    /** Clients (each with a pool of its own) per cell. */
    protected static final int CLIENTS = 4;
    /** Threads per client. */
    protected static final int THREADS = 4;

    @RegisterExtension
    protected static final PostgresServer postgres = PostgresServer.builder().build();
    @RegisterExtension
    protected static final MariaDbServer mariadb = MariaDbServer.builder().build();
    @RegisterExtension
    protected static final H2Database h2 = H2Database.builder().build();

    /** One call of a worker. */
    @FunctionalInterface
    protected interface Call {
        /**
         * One call.
         *
         * @param client the client (and pool) the worker belongs to
         * @param round the worker's round, from 0
         */
        void run(int client, int round) throws Exception;
    }

    /**
     * Every cell: arguments (a named {@link JdbcServer}, a {@link PoolConfiguration}). The servers are
     * {@code AutoCloseable}: the test needs {@code @ParameterizedTest(autoCloseArguments = false)}.
     */
    protected static Stream<Arguments> cells() {
        return Stream.of(Named.<JdbcServer>of("PostgreSQL", postgres), Named.<JdbcServer>of("MariaDB", mariadb),
                        Named.<JdbcServer>of("H2", h2))
                .flatMap(server -> PoolConfiguration.all().stream().map(cell -> Arguments.of(server, cell)));
    }

    /** {@value #CLIENTS} pools with the cell's settings on {@code server}, closed by {@code closer}. */
    protected static List<HikariDataSource> pools(JdbcServer server, PoolConfiguration cell, Closer closer) {
        List<HikariDataSource> pools = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
            pools.add(closer.add(cell.pool(server, THREADS)));
        }
        return pools;
    }

    /**
     * Runs {@value #THREADS} threads for each of {@code pools} (a client each), all released at once, each
     * making {@code rounds} calls, each call through {@link PoolConfiguration#call} on its client's pool.
     * Returns when all are done; the first failure of any call is thrown (the rest are suppressed into it).
     * Bounded: 90 seconds in all.
     */
    protected static void run(PoolConfiguration cell, List<HikariDataSource> pools, int rounds, Call call)
            throws Exception {
        ExecutorService threads = Executors.newFixedThreadPool(pools.size() * THREADS);
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> workers = new ArrayList<>();
            for (int t = 0; t < pools.size() * THREADS; t++) {
                int client = t % pools.size();
                workers.add(threads.submit(() -> {
                    start.await();
                    for (int round = 0; round < rounds; round++) {
                        int r = round;
                        cell.call(pools.get(client), () -> {
                            call.run(client, r);
                            return null;
                        });
                    }
                    return null;
                }));
            }
            start.countDown();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            Exception first = null;
            for (Future<?> worker : workers) {
                try {
                    worker.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                } catch (ExecutionException e) {
                    Exception cause = e.getCause() instanceof Exception x ? x : e;
                    if (first == null) {
                        first = cause;
                    } else {
                        first.addSuppressed(cause);
                    }
                }
            }
            if (first != null) {
                throw first;
            }
        } finally {
            threads.shutdownNow();
        }
    }
}
