package io.distkit.id.backends;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.testkit.server.MariaDbServer;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The worker-id assigner on a real MariaDB server (the MySQL dialect). */
class MariaDbWorkerIdAssignerContractTest extends JdbcWorkerIdAssignerContractSupport {

    @RegisterExtension
    static MariaDbServer mariadb = MariaDbServer.builder().build();

    @Override
    HikariDataSource newPool() {
        return TestPools.pool(mariadb.jdbcUrl(), mariadb.user(), mariadb.password());
    }

    @Override
    JdbcWorkerDialect dialect() {
        return JdbcWorkerDialect.MYSQL;
    }
}
