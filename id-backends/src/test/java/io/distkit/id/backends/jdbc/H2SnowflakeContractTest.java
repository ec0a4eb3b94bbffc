package io.distkit.id.backends.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.backends.SnowflakeOnAssignerContract;
import io.distkit.testkit.server.H2Database;
import io.distkit.testkit.server.Pools;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The id contract for snowflake generators leasing worker ids from {@link JdbcWorkerIdAssigner} on H2. */
class H2SnowflakeContractTest extends SnowflakeOnAssignerContract {

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
    protected WorkerIdAssigner newAssigner() {
        return JdbcWorkerIdAssigner.builder(pool).createTableIfMissing().build();
    }
}
