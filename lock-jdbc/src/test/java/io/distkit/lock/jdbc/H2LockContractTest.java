package io.distkit.lock.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.testkit.server.H2Database;
import io.distkit.testkit.server.Pools;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The lock contract on an in-memory H2 database. */
class H2LockContractTest extends JdbcLockContractSupport {

    @RegisterExtension
    static H2Database h2 = H2Database.builder().build();

    @Override
    HikariDataSource newPool() {
        return Pools.hikari(h2);
    }
}
