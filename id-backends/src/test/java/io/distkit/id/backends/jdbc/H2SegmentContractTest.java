package io.distkit.id.backends.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.testkit.server.H2Database;
import io.distkit.testkit.server.Pools;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The id contract on {@link JdbcSegmentAllocator} and H2 in memory. */
class H2SegmentContractTest extends JdbcSegmentContractSupport {

    static H2Database database;
    static HikariDataSource pool;

    @BeforeAll
    static void start() {
        database = H2Database.builder().build();
        database.start();
        pool = Pools.hikari(database);
    }

    @AfterAll
    static void stop() {
        pool.close();
        database.close();
    }

    @Override
    HikariDataSource pool() {
        return pool;
    }
}
