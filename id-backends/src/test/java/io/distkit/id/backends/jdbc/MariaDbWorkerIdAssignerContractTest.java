package io.distkit.id.backends.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.jdbc.SqlDialect;
import io.distkit.testkit.server.MariaDbServer;
import io.distkit.testkit.server.Pools;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The worker-id assigner on a real MariaDB server (the MySQL dialect). */
class MariaDbWorkerIdAssignerContractTest extends JdbcWorkerIdAssignerContractSupport {

    @RegisterExtension
    static MariaDbServer mariadb = MariaDbServer.builder().build();

    @Override
    HikariDataSource newPool() {
        return Pools.hikari(mariadb);
    }

    @Override
    SqlDialect dialect() {
        return SqlDialect.MYSQL;
    }
}
