package io.distkit.lock.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.testkit.server.Pools;
import io.distkit.testkit.server.PostgresServer;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The lock contract on a real PostgreSQL server. */
class PostgresLockContractTest extends JdbcLockContractSupport {

    @RegisterExtension
    static PostgresServer postgres = PostgresServer.builder().build();

    @Override
    HikariDataSource newPool() {
        return Pools.hikari(postgres);
    }
}
