package io.distkit.jdbc.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.jdbc.SqlDialect;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.Test;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.datasource.DelegatingDataSource;
import org.springframework.jdbc.datasource.SingleConnectionDataSource;

/** The build prologue and the table check on H2 in memory, with a table spec of the test's own. */
class DatabaseTest {

    /** An exception of "the module", to see that every failure comes out as one. */
    static final class ThingException extends RuntimeException {
        final TableSpec.Problem problem;
        final String table;

        ThingException(TableSpec.Problem problem, String table, String message, Throwable cause) {
            super(message, cause);
            this.problem = problem;
            this.table = table;
        }
    }

    static final TableSpec THINGS = TableSpec.builder("thing")
            .builtBy("maker")
            .columns("name", "owner")
            .ddl(DatabaseTest.class, Map.of(SqlDialect.POSTGRESQL, "thing-postgresql.sql",
                    SqlDialect.MYSQL, "thing-mysql.sql", SqlDialect.H2, "thing-h2.sql"))
            .lostInCrash("every thing with it")
            .rows("things")
            .connectHint("check the things")
            .failures(ThingException::new)
            .build();

    private final JdbcDataSource h2 = new JdbcDataSource();

    DatabaseTest() {
        h2.setURL("jdbc:h2:mem:" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1");
        h2.setUser("sa");
    }

    @Test
    void aMissingTableIsTheModulesExceptionWithTheDdlAndNothingIsCreated() {
        assertThatThrownBy(() -> open(null, false))
                .isInstanceOfSatisfying(ThingException.class, e -> {
                    assertThat(e.problem).isEqualTo(TableSpec.Problem.UNUSABLE_TABLE);
                    assertThat(e.table).isEqualTo("things");
                })
                .hasMessageStartingWith("the thing table things does not exist in jdbc:h2:mem:")
                .hasMessageContaining("Create it with:\n\n-- a test table for h2\nCREATE TABLE things (")
                .hasMessageEndingWith("\n\nor build the maker with createTableIfMissing().");
        assertThat(new JdbcTemplate(h2).queryForObject("SELECT COUNT(*) FROM information_schema.tables"
                + " WHERE table_name = 'THINGS'", Integer.class)).isZero();
    }

    @Test
    void createTableIfMissingCreatesItAndTheNextOpenUsesIt() {
        Database first = open(null, true);
        assertThat(first.dialect()).isEqualTo(SqlDialect.H2);
        assertThat(first.sql()).isEqualTo(DialectSql.H2);
        assertThat(first.queryTimeoutSeconds()).as("5 s rounded up").isEqualTo(5);
        assertThat(first.where()).startsWith("jdbc:h2:mem:").doesNotContain("DB_CLOSE_DELAY");
        first.call("insert", statements -> statements.update("INSERT INTO things (name, owner) VALUES ('a', 'me')"));
        String owner = open(null, false).call("read", statements -> statements.query("SELECT owner FROM things",
                rows -> rows.next() ? rows.getString(1) : null));
        assertThat(owner).isEqualTo("me");
    }

    @Test
    void aTableWithoutTheColumnsIsRefusedWithTheExpectedDdl() {
        new JdbcTemplate(h2).execute("CREATE TABLE things (name VARCHAR(64) PRIMARY KEY, holder VARCHAR(64))");
        assertThatThrownBy(() -> open(null, true)).isInstanceOf(ThingException.class)
                .hasMessageContaining("the thing table things in jdbc:h2:mem:")
                .hasMessageContaining("cannot be used: ")
                .hasMessageContaining(". distkit expects:\n\n-- a test table for h2");
    }

    @Test
    void aNamedDialectWinsOverDetection() {
        new JdbcTemplate(h2).execute(THINGS.createTableSql(SqlDialect.H2, "things"));
        Database database = open(SqlDialect.MYSQL, false);
        assertThat(database.dialect()).isEqualTo(SqlDialect.MYSQL);
    }

    @Test
    void anUnsupportedDatabaseIsRefusedInTheModulesWordsUnlessADialectIsNamed() {
        DataSource oracle = reportingProduct(h2, "Oracle");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> Database.open(THINGS, "things", oracle, null, Duration.ofSeconds(1), true))
                .withMessage("distkit has no thing SQL for the database 'Oracle'; supported: PostgreSQL, MySQL,"
                        + " MariaDB, H2");
        assertThat(Database.open(THINGS, "things", oracle, SqlDialect.H2, Duration.ofSeconds(1), true).dialect())
                .isEqualTo(SqlDialect.H2);
    }

    @Test
    void anUnreachableDatabaseIsTheModulesExceptionWithTheHint() {
        JdbcDataSource nowhere = new JdbcDataSource();
        String name = UUID.randomUUID().toString();
        nowhere.setURL("jdbc:h2:mem:" + name + ";IFEXISTS=TRUE");
        assertThatThrownBy(() -> Database.open(THINGS, "things", nowhere, null, Duration.ofSeconds(1), true))
                .isInstanceOfSatisfying(ThingException.class,
                        e -> assertThat(e.problem).isEqualTo(TableSpec.Problem.UNREACHABLE))
                .hasMessageStartingWith("cannot connect to jdbc:h2:mem:" + name + ": ")
                .hasMessageContaining("not found")
                .hasMessageEndingWith(" (check the things)")
                .hasCauseInstanceOf(SQLException.class);
    }

    @Test
    void theDdlOfEveryDialectComesFromTheModulesResources() {
        assertThat(THINGS.createTableSql(SqlDialect.POSTGRESQL, "s.t")).isEqualTo(
                "-- a test table for postgresql\nCREATE TABLE s.t (\n    name  VARCHAR(64) NOT NULL PRIMARY KEY,\n"
                        + "    owner VARCHAR(64)\n);");
        assertThatIllegalArgumentException().isThrownBy(() -> THINGS.createTableSql(SqlDialect.H2, "t; DROP TABLE x"))
                .withMessageContaining("tableName");
        assertThatIllegalArgumentException().isThrownBy(() -> TableSpec.builder("x")
                .ddl(DatabaseTest.class, Map.of(SqlDialect.H2, "thing-h2.sql"))).withMessage("no DDL resource for POSTGRESQL");
    }

    // a connection that stays open across calls (no pool resets it), so what distkit leaves on it shows

    @Test
    void aCallCommitsOnAConnectionWithoutAutoCommitAndPutsItsSettingBack() throws Exception {
        SingleConnectionDataSource kept = kept();
        Connection connection = kept.getConnection();
        connection.setAutoCommit(false);
        Database database = Database.open(THINGS, "things", kept, null, Duration.ofSeconds(1), true);
        database.call("insert", statements -> statements.update("INSERT INTO things (name, owner) VALUES ('a', 'me')"));
        assertThat(connection.getAutoCommit()).as("put back").isFalse();
        connection.rollback(); // what a pool does on return: the row must not go with it
        assertThat(countThings()).as("committed by the call itself").isEqualTo(1);
        kept.destroy();
    }

    @Test
    void aTransactionWhoseWorkFailsLeavesNothingAndPutsTheSettingsBack() throws Exception {
        SingleConnectionDataSource kept = kept();
        Connection connection = kept.getConnection();
        connection.setTransactionIsolation(Connection.TRANSACTION_SERIALIZABLE);
        Database database = Database.open(THINGS, "things", kept, null, Duration.ofSeconds(1), true);
        assertThatThrownBy(() -> database.inTransaction("insert twice", statements -> {
            statements.update("INSERT INTO things (name, owner) VALUES ('b', 'me')");
            return statements.update("INSERT INTO nowhere (name) VALUES ('b')"); // fails after the first write
        })).isInstanceOf(org.springframework.dao.DataAccessException.class)
                .hasMessageStartingWith("insert twice on jdbc:h2:mem:");
        assertThat(connection.getAutoCommit()).as("put back").isTrue();
        assertThat(connection.getTransactionIsolation()).as("put back").isEqualTo(Connection.TRANSACTION_SERIALIZABLE);
        assertThat(countThings()).as("rolled back, not committed by putting auto-commit back").isZero();

        database.inTransaction("insert", statements -> statements.update(
                "INSERT INTO things (name, owner) VALUES ('c', 'me')"));
        assertThat(countThings()).isEqualTo(1);
        assertThat(connection.getTransactionIsolation()).isEqualTo(Connection.TRANSACTION_SERIALIZABLE);
        kept.destroy();
    }

    private SingleConnectionDataSource kept() {
        return new SingleConnectionDataSource(h2.getURL(), "sa", "", true);
    }

    private int countThings() throws SQLException {
        try (Connection other = h2.getConnection(); java.sql.Statement statement = other.createStatement();
                java.sql.ResultSet rows = statement.executeQuery("SELECT COUNT(*) FROM things")) {
            rows.next();
            return rows.getInt(1);
        }
    }

    /** {@code target}, but its metadata names another database product. */
    private static DataSource reportingProduct(DataSource target, String productName) {
        return new DelegatingDataSource(target) {
            @Override
            public Connection getConnection() throws SQLException {
                Connection connection = super.getConnection();
                DatabaseMetaData meta = connection.getMetaData();
                DatabaseMetaData renamed = (DatabaseMetaData) Proxy.newProxyInstance(getClass().getClassLoader(),
                        new Class<?>[] {DatabaseMetaData.class}, (proxy, method, args) ->
                                method.getName().equals("getDatabaseProductName") ? productName : invoke(method, meta, args));
                return (Connection) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Connection.class},
                        (proxy, method, args) -> method.getName().equals("getMetaData") ? renamed
                                : invoke(method, connection, args));
            }
        };
    }

    private static Object invoke(Method method, Object target, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private Database open(SqlDialect dialect, boolean create) {
        return Database.open(THINGS, "things", h2, dialect, Duration.ofMillis(4001), create);
    }
}
