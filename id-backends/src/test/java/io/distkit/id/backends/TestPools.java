package io.distkit.id.backends;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.util.Properties;

/** Connection pools for tests: each assigner gets one of its own, as a separate process would. */
final class TestPools {

    private TestPools() {}

    /** A small pool; {@code driverProperties} e.g. {@code socketTimeout} for talking through a fault proxy. */
    static HikariDataSource pool(String url, String user, String password, Properties driverProperties) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setUsername(user);
        config.setPassword(password);
        config.setMaximumPoolSize(4);
        config.setMinimumIdle(1);
        config.setConnectionTimeout(5_000);
        config.setInitializationFailTimeout(-1);
        config.setDataSourceProperties(driverProperties);
        return new HikariDataSource(config);
    }

    static HikariDataSource pool(String url, String user, String password) {
        return pool(url, user, password, new Properties());
    }
}
