package io.distkit.id.backends;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.testkit.server.H2Database;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The worker-id assigner on an in-memory H2 database. */
class H2WorkerIdAssignerContractTest extends JdbcWorkerIdAssignerContractSupport {

    @RegisterExtension
    static H2Database h2 = H2Database.builder().build();

    @Override
    HikariDataSource newPool() {
        return TestPools.pool(h2.jdbcUrl(), h2.user(), h2.password());
    }

    @Override
    JdbcWorkerDialect dialect() {
        return JdbcWorkerDialect.H2;
    }
}
