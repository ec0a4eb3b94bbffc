package io.distkit.jdbc.internal;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.function.BiFunction;

/**
 * A small HikariCP pool made from a {@code jdbc:} URL, for the URI factories ({@code LockClients.connect},
 * {@code IdStores.connect}): one try to connect at once, so what retrying cannot fix (a wrong password, an
 * unknown database, nothing listening) is said now, and socket and login timeouts unless the URL sets them,
 * so that a database gone silent fails instead of hanging. Needs HikariCP on the class path (an optional
 * dependency); callers check with {@link #available()} first and say what to add.
 */
public final class UrlPool {

    private UrlPool() {}

    /** Whether HikariCP is on the class path. */
    public static boolean available() {
        try {
            Class.forName("com.zaxxer.hikari.HikariDataSource", false, UrlPool.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }

    /**
     * Opens the pool.
     *
     * @param unreachable makes the exception for a database that cannot be reached, from a message that says
     *     where and why, and the cause
     * @throws IllegalStateException if no JDBC driver on the class path accepts the URL (the message names the
     *     drivers to add)
     */
    public static HikariDataSource open(String url, String poolName, int maxSize,
            BiFunction<String, Throwable, ? extends RuntimeException> unreachable) {
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
        config.setPoolName(poolName);
        config.setMaximumPoolSize(maxSize);
        config.setMinimumIdle(1);
        config.setConnectionTimeout(5_000);
        config.setInitializationFailTimeout(1);
        if (url.startsWith("jdbc:postgresql:")) {
            config.addDataSourceProperty("socketTimeout", "30"); // seconds
            config.addDataSourceProperty("loginTimeout", "5"); // seconds
        } else if (url.startsWith("jdbc:mariadb:") || url.startsWith("jdbc:mysql:")) {
            config.addDataSourceProperty("socketTimeout", "30000"); // milliseconds
            config.addDataSourceProperty("connectTimeout", "5000"); // milliseconds, the handshake included
        }
        try {
            return new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw unreachable.apply("cannot connect to " + where + ": " + Database.rootMessage(e)
                    + " (check the URL, the credentials and that the database runs)", e);
        }
    }
}
