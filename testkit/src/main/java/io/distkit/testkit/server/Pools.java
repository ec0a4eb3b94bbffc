package io.distkit.testkit.server;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.util.Objects;
import java.util.Properties;

/**
 * Connection pools for the JDBC backends' tests: each client gets one of its own, as a separate
 * process would. Small (at most {@value #MAX_POOL_SIZE} connections, one kept idle), a 5 s wait for a
 * connection, and lazy: a database that is down fails the client's first statement, not the pool's
 * construction, so a test sees the client's own error. The caller closes the pool.
 */
public final class Pools {

    /** The most connections a pool opens: a client's statement threads and its callers, with room to spare. */
    public static final int MAX_POOL_SIZE = 6;

    private Pools() {}

    /**
     * A pool on {@code url} as {@code user}.
     *
     * @param driverProperties properties of the driver, e.g. {@code socketTimeout} for talking through a
     *     {@link FaultProxy}; copied
     */
    public static HikariDataSource hikari(String url, String user, String password, Properties driverProperties) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(Objects.requireNonNull(url, "url"));
        config.setUsername(user);
        config.setPassword(password);
        config.setMaximumPoolSize(MAX_POOL_SIZE);
        config.setMinimumIdle(1);
        config.setConnectionTimeout(5_000);
        config.setInitializationFailTimeout(-1);
        config.setDataSourceProperties(driverProperties);
        return new HikariDataSource(config);
    }

    /** A pool on {@code server}, with the driver's default properties. */
    public static HikariDataSource hikari(JdbcServer server) {
        return hikari(server.jdbcUrl(), server.user(), server.password());
    }

    /** A pool on {@code url} as {@code user}, with the driver's default properties. */
    public static HikariDataSource hikari(String url, String user, String password) {
        return hikari(url, user, password, new Properties());
    }
}
