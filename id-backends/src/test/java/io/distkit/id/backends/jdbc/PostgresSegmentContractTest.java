package io.distkit.id.backends.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.testkit.server.Pools;
import io.distkit.testkit.server.PostgresServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The id contract on {@link JdbcSegmentAllocator} and a PostgreSQL server of its own. */
class PostgresSegmentContractTest extends JdbcSegmentContractSupport {

    static PostgresServer server;
    static HikariDataSource pool;

    @BeforeAll
    static void start() {
        server = PostgresServer.builder().build();
        server.start();
        pool = Pools.hikari(server);
    }

    @AfterAll
    static void stop() {
        pool.close();
        server.close();
    }

    @Override
    HikariDataSource pool() {
        return pool;
    }
}
