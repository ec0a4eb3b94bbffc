package io.distkit.lock.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.testkit.server.MariaDbServer;
import io.distkit.testkit.server.Pools;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The lock contract on a real MariaDB server (the MySQL dialect). */
class MariaDbLockContractTest extends JdbcLockContractSupport {

    @RegisterExtension
    static MariaDbServer mariadb = MariaDbServer.builder().build();

    @Override
    HikariDataSource newPool() {
        return Pools.hikari(mariadb);
    }
}
