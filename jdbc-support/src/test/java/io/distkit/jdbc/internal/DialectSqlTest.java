package io.distkit.jdbc.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import io.distkit.jdbc.SqlDialect;
import java.sql.SQLException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.dao.DataAccessResourceFailureException;

/** Dialect detection, query timeouts, missing-table detection and table names; the writes are {@link WriteSqlTest}'s. */
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
    void onlyPostgresCancelsATimedOutQueryTooSlowlyToUseTheQueryTimeout() {
        assertThat(DialectSql.POSTGRESQL.queryTimeoutIsSafe()).isFalse();
        assertThat(DialectSql.MYSQL.queryTimeoutIsSafe()).isTrue();
        assertThat(DialectSql.H2.queryTimeoutIsSafe()).isTrue();
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
