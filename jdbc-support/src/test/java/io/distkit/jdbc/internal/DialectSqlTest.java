package io.distkit.jdbc.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import io.distkit.jdbc.SqlDialect;
import java.sql.SQLException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.dao.DataAccessResourceFailureException;

/** Dialect detection, the commit wrappers, missing-table detection and table names. */
class DialectSqlTest {

    @Test
    void productNamesMapToDialects() {
        assertThat(SqlDialect.of("PostgreSQL")).isEqualTo(SqlDialect.POSTGRESQL);
        assertThat(SqlDialect.of("MySQL")).isEqualTo(SqlDialect.MYSQL);
        assertThat(SqlDialect.of("MariaDB")).isEqualTo(SqlDialect.MYSQL);
        assertThat(SqlDialect.of("H2")).isEqualTo(SqlDialect.H2);
        assertThatNullPointerException().isThrownBy(() -> SqlDialect.of(null)).withMessage("databaseProductName");
        assertThatIllegalArgumentException().isThrownBy(() -> SqlDialect.of("Oracle"))
                .withMessage("distkit has no SQL for the database 'Oracle'; supported: PostgreSQL, MySQL, MariaDB, H2");
        assertThatIllegalArgumentException().isThrownBy(() -> DialectSql.dialectOf("H2 Embedded", "lock SQL"))
                .withMessageStartingWith("distkit has no lock SQL for the database 'H2 Embedded'");
        for (SqlDialect dialect : SqlDialect.values()) {
            assertThat(DialectSql.of(dialect).name()).isEqualTo(dialect.name());
        }
    }

    @Test
    void postgresCommitsChooseTheirOwnDurabilityAndJoinAStatementsWithClause() {
        DialectSql postgres = DialectSql.POSTGRESQL;
        assertThat(postgres.durable("UPDATE t SET x = 1 WHERE y = ?" + postgres.durableWhere())).isEqualTo(
                "WITH commit_mode AS (SELECT set_config('synchronous_commit', 'on', true) AS setting)"
                        + " UPDATE t SET x = 1 WHERE y = ? AND (SELECT setting FROM commit_mode) IS NOT NULL");
        assertThat(postgres.unhurried("WITH a AS (SELECT 1) SELECT * FROM a")).isEqualTo(
                "WITH commit_mode AS (SELECT set_config('synchronous_commit', 'off', true) AS setting),"
                        + " a AS (SELECT 1) SELECT * FROM a");
        assertThat(postgres.queryTimeoutIsSafe()).isFalse();
        for (DialectSql other : List.of(DialectSql.MYSQL, DialectSql.H2)) {
            assertThat(other.durable("UPDATE t SET x = 1")).isEqualTo("UPDATE t SET x = 1");
            assertThat(other.unhurried("UPDATE t SET x = 1")).isEqualTo("UPDATE t SET x = 1");
            assertThat(other.durableWhere()).isEmpty();
            assertThat(other.queryTimeoutIsSafe()).isTrue();
        }
    }

    @Test
    void aMissingTableIsRecognisedAnywhereInTheCauseChain() {
        SQLException postgres = new SQLException("relation does not exist", "42P01");
        assertThat(DialectSql.POSTGRESQL.isMissingTable(new DataAccessResourceFailureException("x", postgres))).isTrue();
        assertThat(DialectSql.MYSQL.isMissingTable(new SQLException("no table", "HY000", 1146))).isTrue();
        assertThat(DialectSql.MYSQL.isMissingTable(new SQLException("no table", "42S02"))).isTrue();
        assertThat(DialectSql.H2.isMissingTable(new SQLException("no table", "42S02", 42104))).isTrue();
        assertThat(DialectSql.H2.isMissingTable(new SQLException("syntax", "42000", 42000))).isFalse();
        assertThat(DialectSql.POSTGRESQL.isMissingTable(new RuntimeException("other"))).isFalse();
    }

    @Test
    void tableNamesMustBePlainSqlIdentifiers() {
        assertThatNullPointerException().isThrownBy(() -> TableSpec.checkTableName(null)).withMessage("tableName");
        for (String bad : List.of("", " ", "1t", "t;DROP TABLE x", "a.b.c", "\"quoted\"", "a-b", "x".repeat(64), "s.")) {
            assertThatIllegalArgumentException().as(bad).isThrownBy(() -> TableSpec.checkTableName(bad))
                    .withMessageContaining("tableName must be an unquoted SQL identifier")
                    .withMessageContaining("'" + bad + "'");
        }
        assertThat(TableSpec.checkTableName("s.t")).isEqualTo("s.t");
        assertThat(TableSpec.checkTableName("_x" + "y".repeat(61))).hasSize(63);
    }

    @Test
    void rootMessagesAreTheDriversWords() {
        assertThat(Database.rootMessage(new RuntimeException("outer", new SQLException("inner")))).isEqualTo("inner");
        assertThat(Database.rootMessage(new IllegalStateException())).isEqualTo("java.lang.IllegalStateException");
    }
}
