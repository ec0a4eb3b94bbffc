package io.distkit.jdbc.internal;

import io.distkit.common.DaemonThreads;
import java.lang.reflect.Method;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.SQLTransientConnectionException;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * Borrows connections of the user's data source for distkit's own statements and gives them back as they
 * came. Whatever the pool's defaults, a borrowed connection runs distkit's statements the way they were
 * written for:
 * <ul>
 *   <li><b>its own commits:</b> auto-commit on for single statements, or one explicit transaction at
 *       {@code READ COMMITTED} (a pool with {@code autoCommit=false} would otherwise roll distkit's writes
 *       back when the connection returns, and a {@code repeatable read} default turns a lost race into a
 *       serialization failure);</li>
 *   <li><b>a network timeout</b> (JDBC 4.1 {@link Connection#setNetworkTimeout}) of the command timeout plus
 *       a second: a query timeout cannot end a statement whose server went silent (the driver sends its
 *       cancel on another connection, which a paused server never answers), and most pools set no socket
 *       timeout;</li>
 *   <li><b>a bounded wait for the connection itself:</b> a data source that opens a connection per call
 *       (a {@code PGSimpleDataSource}) can wait forever in the driver's login against a server that accepts
 *       and never answers, before any network timeout applies. Such a data source is asked on a helper
 *       thread and given up on after the bound (a connection that arrives later is closed); a pool that
 *       bounds its own wait (HikariCP, by its {@code connectionTimeout}, which is trusted as configured:
 *       HikariCP reads 0 as no bound) and an embedded H2 are asked directly. Other pools (DBCP2, Tomcat,
 *       Agroal) pay the helper thread's hand-over on every call: give distkit a HikariCP pool where that
 *       matters.</li>
 * </ul>
 * Every setting changed is put back before the connection is closed (returned to its pool).
 */
final class OwnConnections {

    private static final Executor IN_PLACE = Runnable::run;
    /** Connection requests given up on but still hanging in a driver: past this many, fail without asking. */
    private static final int MAX_HANGING = 4;
    /** After how many connection bounds a hanging request no longer counts against {@link #MAX_HANGING}. */
    private static final int FORGET_AFTER_BOUNDS = 10;
    private static final ExecutorService CONNECTOR = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 30, TimeUnit.SECONDS,
            new SynchronousQueue<>(), DaemonThreads.factory("jdbc-connect"));

    private final DataSource dataSource;
    private final int networkTimeoutMillis;
    private final long connectBoundMillis;
    private final boolean boundsItsOwnWait;
    private final long forgetAfterNanos;
    private final Map<CompletableFuture<Connection>, Long> givenUp = new ConcurrentHashMap<>();

    OwnConnections(DataSource dataSource, Duration commandTimeout) {
        this.dataSource = dataSource;
        this.networkTimeoutMillis = (int) Math.min(Integer.MAX_VALUE, commandTimeout.toMillis() + 1000);
        this.connectBoundMillis = commandTimeout.toMillis() + 1000;
        this.forgetAfterNanos = TimeUnit.MILLISECONDS.toNanos(connectBoundMillis) * FORGET_AFTER_BOUNDS;
        this.boundsItsOwnWait = boundsItsOwnWait(dataSource);
    }

    /** A connection set up as the class comment says; close the returned object to give it back. */
    Borrowed borrow(boolean transaction) throws SQLException {
        Connection connection = boundsItsOwnWait ? dataSource.getConnection() : connectWithin();
        Borrowed borrowed = new Borrowed(connection);
        try {
            borrowed.setUp(transaction);
            return borrowed;
        } catch (SQLException | RuntimeException e) {
            borrowed.close();
            throw e;
        }
    }

    private Connection connectWithin() throws SQLException {
        if (stillHanging() >= MAX_HANGING) {
            throw noAnswer(" (" + MAX_HANGING + " earlier requests still wait for it)");
        }
        // whoever completes the request first wins: the caller by giving up, or the helper by answering; a
        // helper that answers a request given up on closes its connection and takes it off the hanging list
        CompletableFuture<Connection> request = new CompletableFuture<>();
        CONNECTOR.execute(() -> {
            try {
                Connection connection = dataSource.getConnection();
                if (!request.complete(connection)) {
                    closeQuietly(connection);
                    givenUp.remove(request);
                }
            } catch (Throwable e) {
                if (!request.completeExceptionally(e)) {
                    givenUp.remove(request);
                }
            }
        });
        try {
            return request.get(connectBoundMillis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException | InterruptedException e) {
            boolean interrupted = e instanceof InterruptedException;
            givenUp.put(request, System.nanoTime());
            if (!request.completeExceptionally(e)) {
                givenUp.remove(request); // answered after all, just now
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
                return answered(request);
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
                throw new SQLTransientConnectionException("interrupted while waiting for a connection", e);
            }
            throw noAnswer("");
        } catch (ExecutionException e) {
            return answered(request);
        }
    }

    /**
     * Requests given up on within the last {@value #FORGET_AFTER_BOUNDS} bounds whose driver still has not
     * answered. Older ones are forgotten (their threads end whenever their drivers do): a driver that waits
     * for ever on a server that never answers must not keep the client failing at once after the server
     * recovers.
     */
    private int stillHanging() {
        long now = System.nanoTime();
        givenUp.values().removeIf(at -> now - at > forgetAfterNanos);
        return givenUp.size();
    }

    private static Connection answered(CompletableFuture<Connection> request) throws SQLException {
        try {
            return request.join();
        } catch (java.util.concurrent.CompletionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof SQLException sql) {
                throw sql;
            }
            if (cause instanceof RuntimeException runtime) {
                throw runtime;
            }
            if (cause instanceof Error error) {
                throw error;
            }
            throw new SQLException(cause);
        }
    }

    private SQLTransientConnectionException noAnswer(String detail) {
        // the callers name the database first ("cannot connect to <where>: ...")
        return new SQLTransientConnectionException("no connection within " + connectBoundMillis + " ms" + detail
                + ": the server accepts no connection or does not answer the login (paused, overloaded, or not a"
                + " database at that address)");
    }

    /**
     * Whether {@code dataSource} never makes its caller wait without bound for a connection: HikariCP (its
     * {@code connectionTimeout}), or an embedded H2 database (no network).
     */
    static boolean boundsItsOwnWait(DataSource dataSource) {
        if (isWrapperFor(dataSource, "com.zaxxer.hikari.HikariDataSource")) {
            return true;
        }
        String url = urlOf(dataSource);
        if (url == null) {
            return false;
        }
        String lower = url.toLowerCase(Locale.ROOT);
        return lower.startsWith("jdbc:h2:") && !lower.startsWith("jdbc:h2:tcp:") && !lower.startsWith("jdbc:h2:ssl:");
    }

    private static boolean isWrapperFor(DataSource dataSource, String type) {
        if (dataSource.getClass().getName().equals(type)) {
            return true;
        }
        try {
            return dataSource.isWrapperFor(Class.forName(type, false, dataSource.getClass().getClassLoader()));
        } catch (ClassNotFoundException | SQLException | RuntimeException | LinkageError notThat) {
            return false;
        }
    }

    /** The JDBC URL a data source reports through a public {@code getJdbcUrl}, {@code getUrl} or {@code getURL}, if any. */
    static @Nullable String urlOf(DataSource dataSource) {
        for (String getter : new String[] {"getJdbcUrl", "getUrl", "getURL"}) {
            try {
                Method method = dataSource.getClass().getMethod(getter);
                Object url = method.invoke(dataSource);
                if (url instanceof String text && text.startsWith("jdbc:")) {
                    return text;
                }
            } catch (ReflectiveOperationException | RuntimeException | LinkageError absent) {
                // not this getter
            }
        }
        return null;
    }

    private static void closeQuietly(@Nullable Connection connection) {
        if (connection != null) {
            try {
                connection.close();
            } catch (SQLException | RuntimeException ignored) {
                // a connection nobody uses any more
            }
        }
    }

    /**
     * One borrowed connection and the settings to put back. A transaction it began and that was not
     * committed is rolled back on close, before any setting is restored: restoring auto-commit would
     * otherwise commit it (JDBC commits an open transaction when auto-commit is turned on).
     */
    final class Borrowed implements AutoCloseable {
        final Connection connection;
        private boolean transaction; // began one: auto-commit off
        private boolean committed;
        private int previousNetworkTimeout = -1; // -1: not changed
        private @Nullable Boolean previousAutoCommit;
        private int previousIsolation = -1;

        Borrowed(Connection connection) {
            this.connection = connection;
        }

        void setUp(boolean transaction) throws SQLException {
            boundNetwork();
            boolean autoCommit = connection.getAutoCommit();
            if (autoCommit == transaction) {
                connection.setAutoCommit(!transaction);
                previousAutoCommit = autoCommit;
            }
            this.transaction = transaction;
            if (transaction) {
                // no statement has run yet: the transaction has not begun, so the level may still change
                int isolation = connection.getTransactionIsolation();
                if (isolation != Connection.TRANSACTION_READ_COMMITTED) {
                    connection.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
                    previousIsolation = isolation;
                }
            }
        }

        private void boundNetwork() throws SQLException {
            int previous;
            try {
                previous = connection.getNetworkTimeout();
            } catch (SQLFeatureNotSupportedException | AbstractMethodError unsupported) {
                return;
            }
            if (previous != 0 && previous <= networkTimeoutMillis) {
                return; // already bounded at least as tightly
            }
            try {
                connection.setNetworkTimeout(IN_PLACE, networkTimeoutMillis);
                previousNetworkTimeout = previous;
            } catch (SQLFeatureNotSupportedException | AbstractMethodError unsupported) {
                // e.g. H2 in memory: no network to bound
            }
        }

        /** Commits the transaction of {@link #setUp setUp(true)}. */
        void commit() throws SQLException {
            connection.commit();
            committed = true;
        }

        /**
         * Rolls back a transaction not committed, puts every setting back (each on its own, so one that fails
         * does not keep the others), and returns the connection; never throws.
         */
        @Override
        public void close() {
            try {
                if (transaction && !committed) {
                    quietly(connection::rollback);
                }
                if (previousIsolation != -1) {
                    quietly(() -> connection.setTransactionIsolation(previousIsolation));
                }
                if (previousAutoCommit != null) {
                    quietly(() -> connection.setAutoCommit(previousAutoCommit));
                }
                if (previousNetworkTimeout != -1) {
                    quietly(() -> connection.setNetworkTimeout(IN_PLACE, previousNetworkTimeout));
                }
            } finally {
                closeQuietly(connection);
            }
        }
    }

    /** A JDBC call whose failure only a broken connection causes, which the pool discards anyway. */
    @FunctionalInterface
    private interface JdbcCall {
        void run() throws SQLException;
    }

    private static void quietly(JdbcCall call) {
        try {
            call.run();
        } catch (SQLException | RuntimeException broken) {
            // a broken connection: the pool discards it, the server rolls back what it had open
        }
    }
}
