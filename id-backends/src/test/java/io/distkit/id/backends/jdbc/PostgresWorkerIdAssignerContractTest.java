package io.distkit.id.backends.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.IdGenerationException;
import io.distkit.jdbc.SqlDialect;
import io.distkit.testkit.server.Pools;
import io.distkit.testkit.server.PostgresServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.jdbc.core.JdbcTemplate;

/** The worker-id assigner on a real PostgreSQL server, and the table checks only PostgreSQL needs. */
class PostgresWorkerIdAssignerContractTest extends JdbcWorkerIdAssignerContractSupport {

    @RegisterExtension
    static PostgresServer postgres = PostgresServer.builder().build();

    @Override
    HikariDataSource newPool() {
        return Pools.hikari(postgres);
    }

    @Override
    SqlDialect dialect() {
        return SqlDialect.POSTGRESQL;
    }

    @Test
    void anUnloggedTableIsRefused() {
        HikariDataSource pool = toClose.add(newPool());
        JdbcTemplate jdbc = new JdbcTemplate(pool);
        jdbc.execute(JdbcWorkerIdAssigner.createTableSql(SqlDialect.POSTGRESQL, table)
                .replace("CREATE TABLE", "CREATE UNLOGGED TABLE"));
        assertThatThrownBy(() -> JdbcWorkerIdAssigner.builder(pool).tableName(table).build())
                .isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining(table)
                .hasMessageContaining("UNLOGGED")
                .hasMessageContaining("ALTER TABLE " + table + " SET LOGGED");
        jdbc.execute("ALTER TABLE " + table + " SET LOGGED");
        assertThat(toClose.add(JdbcWorkerIdAssigner.builder(pool).tableName(table).build()).acquire(1).workerId())
                .isZero();
    }
}
