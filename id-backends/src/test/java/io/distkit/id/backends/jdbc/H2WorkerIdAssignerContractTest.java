package io.distkit.id.backends.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.jdbc.SqlDialect;
import io.distkit.testkit.server.H2Database;
import io.distkit.testkit.server.Pools;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The worker-id assigner on an in-memory H2 database. */
class H2WorkerIdAssignerContractTest extends JdbcWorkerIdAssignerContractSupport {

    @RegisterExtension
    static H2Database h2 = H2Database.builder().build();

    @Override
    HikariDataSource newPool() {
        return Pools.hikari(h2);
    }

    @Override
    SqlDialect dialect() {
        return SqlDialect.H2;
    }
}
