package io.distkit.lock.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.distkit.jdbc.internal.Database;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.spi.LockClientProvider;
import java.net.URI;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Objects;
import java.util.Set;

/**
 * Makes databases reachable through {@link io.distkit.lock.LockClients#connect(URI)} for {@code jdbc:}
 * URLs, e.g. {@code jdbc:postgresql://db:5432/app?user=app&password=secret}: a small HikariCP pool of
 * its own (closed with the client; a 30 s socket timeout unless the URL sets one) and the defaults of
 * {@link JdbcLockClient#builder}; the table
 * {@value JdbcLockClient#DEFAULT_TABLE} must exist. The driver of the database must be on the class path,
 * and so must HikariCP (an optional dependency of this module). Registered in
 * {@code META-INF/services/io.distkit.lock.spi.LockClientProvider}; not for direct use.
 */
public final class JdbcLockClientProvider implements LockClientProvider {

    /** For {@link java.util.ServiceLoader}. */
    public JdbcLockClientProvider() {}

    @Override
    public Set<String> schemes() {
        return Set.of("jdbc");
    }

    /**
     * @throws IllegalStateException if HikariCP, or a JDBC driver for the URL, is not on the class path
     * @throws io.distkit.lock.LockBackendException if the database cannot be reached or the table is missing
     */
    @Override
    public LockClient connect(URI uri) {
        Objects.requireNonNull(uri, "uri");
        try {
            Class.forName("com.zaxxer.hikari.HikariDataSource", false, JdbcLockClientProvider.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("connecting to a jdbc: URL needs HikariCP on the class path"
                    + " (com.zaxxer:HikariCP); or build the client from your own DataSource with"
                    + " JdbcLockClient.builder(dataSource)", e);
        }
        return Pool.connect(uri.toString());
    }

    /** Kept apart so that the provider loads without HikariCP. */
    private static final class Pool {
        static LockClient connect(String url) {
            String where = Database.shortUrl(url);
            try {
                DriverManager.getDriver(url);
            } catch (SQLException noDriver) {
                throw new IllegalStateException("no JDBC driver on the class path accepts " + where + ": add the"
                        + " database's driver (PostgreSQL: org.postgresql:postgresql; MySQL: com.mysql:mysql-connector-j;"
                        + " MariaDB: org.mariadb.jdbc:mariadb-java-client; H2: com.h2database:h2)", noDriver);
            }
            HikariConfig config = new HikariConfig();
            config.setJdbcUrl(url);
            config.setPoolName("distkit-jdbc-locks");
            config.setMaximumPoolSize(5); // the client's 4 statement threads, plus one
            config.setMinimumIdle(1);
            config.setConnectionTimeout(5_000);
            // one try at once, failing with the driver's own exception: what retrying cannot fix (a wrong
            // password, an unknown database, nothing listening) is said now, not after the pool's retries
            config.setInitializationFailTimeout(1);
            // a connection gone silent must fail, not hang, and so must a login that gets no answer (a URL
            // parameter still wins)
            if (url.startsWith("jdbc:postgresql:")) {
                config.addDataSourceProperty("socketTimeout", "30"); // seconds
                config.addDataSourceProperty("loginTimeout", "5"); // seconds
            } else if (url.startsWith("jdbc:mariadb:") || url.startsWith("jdbc:mysql:")) {
                config.addDataSourceProperty("socketTimeout", "30000"); // milliseconds
                config.addDataSourceProperty("connectTimeout", "5000"); // milliseconds, the handshake included
            }
            HikariDataSource pool;
            try {
                pool = new HikariDataSource(config);
            } catch (RuntimeException e) {
                throw new LockBackendException(null, "cannot connect to " + where + ": " + Database.rootMessage(e)
                        + " (check the URL, the credentials and that the database runs)", e);
            }
            try {
                return JdbcLockClient.builder(pool, pool).build();
            } catch (RuntimeException | Error e) {
                pool.close();
                throw e;
            }
        }
    }
}
