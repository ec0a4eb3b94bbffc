package io.distkit.lock.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.jdbc.SqlDialect;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockClients;
import io.distkit.lock.LockHandle;
import io.distkit.testkit.Closer;
import io.distkit.testkit.server.H2Database;
import io.distkit.testkit.server.Pools;
import io.distkit.testkit.server.PostgresServer;
import io.distkit.testkit.server.Servers;
import io.distkit.testkit.server.SilentPort;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.postgresql.ds.PGSimpleDataSource;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.datasource.DataSourceTransactionManager;
import org.springframework.jdbc.datasource.LazyConnectionDataSourceProxy;
import org.springframework.jdbc.datasource.TransactionAwareDataSourceProxy;
import org.springframework.transaction.support.TransactionTemplate;

/** The builder, the table checks and bad input: each gets a clear error and leaves nothing behind. */
class JdbcLockClientTest {

    @RegisterExtension
    static PostgresServer postgres = PostgresServer.builder().build();

    @RegisterExtension
    final H2Database h2 = H2Database.builder().build();

    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    @Test
    void aMissingTableIsAnErrorThatCarriesTheDdlAndCreatesNothing() {
        HikariDataSource pool = h2Pool();
        assertThatThrownBy(() -> JdbcLockClient.builder(pool).tableName("my_locks").build())
                .isInstanceOf(LockBackendException.class)
                .hasMessageContaining("the lock table my_locks does not exist")
                .hasMessageContaining("CREATE TABLE my_locks (")
                .hasMessageContaining("fencing_token BIGINT")
                .hasMessageContaining("createTableIfMissing()");
        assertThat(tables(pool)).as("nothing half-made").doesNotContain("MY_LOCKS");
    }

    @Test
    void createTableIfMissingCreatesTheTableOnceAndTheNextClientUsesIt() throws Exception {
        HikariDataSource pool = h2Pool();
        LockClient first = toClose.add(JdbcLockClient.builder(pool).tableName("app_locks").createTableIfMissing().build());
        LockClient second = toClose.add(JdbcLockClient.builder(pool).tableName("app_locks").createTableIfMissing().build());
        LockHandle held = first.lock("job").tryAcquire().orElseThrow();
        assertThat(second.lock("job").tryAcquire()).isEmpty();
        held.release();
        assertThat(tables(pool)).contains("APP_LOCKS");
    }

    @Test
    void aTableWithoutDistkitsColumnsIsRefusedWithTheExpectedDdl() {
        HikariDataSource pool = h2Pool();
        new JdbcTemplate(pool).execute("CREATE TABLE distkit_lock (lock_name VARCHAR(200) PRIMARY KEY, holder VARCHAR(64))");
        assertThatThrownBy(() -> JdbcLockClient.builder(pool).createTableIfMissing().build())
                .isInstanceOf(LockBackendException.class)
                .hasMessageContaining("the lock table distkit_lock")
                .hasMessageContaining("cannot be used")
                .hasMessageContaining("distkit expects");
    }

    @Test
    void tableNamesMustBePlainSqlIdentifiers() {
        JdbcLockClient.Builder builder = JdbcLockClient.builder(h2Pool());
        assertThatNullPointerException().isThrownBy(() -> builder.tableName(null)).withMessage("tableName");
        for (String bad : List.of("", " ", "1locks", "locks;DROP TABLE x", "a.b.c", "\"quoted\"", "lock-table",
                "x".repeat(64), "schema.")) {
            assertThatIllegalArgumentException().as(bad).isThrownBy(() -> builder.tableName(bad))
                    .withMessageContaining("tableName must be an unquoted SQL identifier")
                    .withMessageContaining("'" + bad + "'");
        }
        assertThat(builder.tableName("locks.distkit_lock")).isSameAs(builder);
        assertThat(builder.tableName("_x" + "y".repeat(61))).isSameAs(builder);
    }

    @Test
    void otherBuilderArgumentsAreChecked() {
        assertThatNullPointerException().isThrownBy(() -> JdbcLockClient.builder(null)).withMessage("dataSource");
        JdbcLockClient.Builder builder = JdbcLockClient.builder(h2Pool());
        assertThatIllegalArgumentException().isThrownBy(() -> builder.commandTimeout(Duration.ZERO))
                .withMessageContaining("commandTimeout must be positive");
        assertThatIllegalArgumentException().isThrownBy(() -> builder.maxConcurrentStatements(0))
                .withMessageContaining("maxConcurrentStatements must be between 1 and 256, was 0");
        assertThatNullPointerException().isThrownBy(() -> builder.dialect(null)).withMessage("dialect");
        assertThatIllegalArgumentException().isThrownBy(() -> SqlDialect.of("Oracle"))
                .withMessageContaining("no SQL for the database 'Oracle'").withMessageContaining("PostgreSQL");
    }

    @Test
    void anUnreachableDatabaseIsALockBackendExceptionWithTheCause() {
        PGSimpleDataSource nowhere = new PGSimpleDataSource();
        nowhere.setURL("jdbc:postgresql://127.0.0.1:" + Servers.freePort() + "/distkit");
        nowhere.setUser("distkit");
        nowhere.setPassword("distkit");
        nowhere.setConnectTimeout(2);
        assertThatThrownBy(() -> JdbcLockClient.builder(nowhere).build())
                .isInstanceOf(LockBackendException.class)
                .hasMessageContaining("cannot connect")
                .hasMessageContaining("check the URL, the credentials and that the database runs")
                .hasCauseInstanceOf(java.sql.SQLException.class);
    }

    @Test
    void wrongCredentialsAreALockBackendExceptionWithTheCause() {
        PGSimpleDataSource wrong = new PGSimpleDataSource();
        wrong.setURL(postgres.jdbcUrl());
        wrong.setUser(postgres.user());
        wrong.setPassword("not-the-password");
        assertThatThrownBy(() -> JdbcLockClient.builder(wrong).build())
                .isInstanceOf(LockBackendException.class)
                .hasMessageContaining("cannot connect")
                .hasMessageContaining("password")
                .hasCauseInstanceOf(java.sql.SQLException.class);
    }

    @Test
    void anUnloggedTableIsRefusedOnPostgres() throws Exception {
        HikariDataSource pool = toClose.add(Pools.hikari(postgres));
        JdbcTemplate jdbc = new JdbcTemplate(pool);
        jdbc.execute(JdbcLockClient.createTableSql(SqlDialect.POSTGRESQL, "unlogged_locks")
                .replace("CREATE TABLE", "CREATE UNLOGGED TABLE"));
        assertThatThrownBy(() -> JdbcLockClient.builder(pool).tableName("unlogged_locks").build())
                .isInstanceOf(LockBackendException.class)
                .hasMessageContaining("unlogged_locks")
                .hasMessageContaining("UNLOGGED")
                .hasMessageContaining("ALTER TABLE unlogged_locks SET LOGGED");
        jdbc.execute("ALTER TABLE unlogged_locks SET LOGGED");
        toClose.add(JdbcLockClient.builder(pool).tableName("unlogged_locks").build()).lock("x").tryAcquire().orElseThrow()
                .release();
    }

    @Test
    void jdbcUrlsConnectThroughLockClients() throws Exception {
        HikariDataSource pool = toClose.add(Pools.hikari(postgres));
        toClose.add(JdbcLockClient.builder(pool).createTableIfMissing().build()).close();
        String url = postgres.jdbcUrl() + "?user=" + postgres.user() + "&password=" + postgres.password();
        try (LockClient client = LockClients.connect(URI.create(url))) {
            LockHandle handle = client.lock("via-url").tryAcquire().orElseThrow();
            assertThat(handle.fencingToken()).isPositive();
            assertThat(client.toString()).contains(postgres.jdbcUrl()).doesNotContain("password");
            handle.release();
        }
    }

    @Test
    void aJdbcUrlWithWrongCredentialsFailsClearlyAndClosesItsPool() {
        String url = postgres.jdbcUrl() + "?user=" + postgres.user() + "&password=wrong";
        assertThatThrownBy(() -> LockClients.connect(URI.create(url))).isInstanceOf(LockBackendException.class)
                .hasMessageContaining("cannot connect");
        await("no pool threads left behind").atMost(Duration.ofSeconds(5)).until(() -> Thread.getAllStackTraces()
                .keySet().stream().noneMatch(t -> t.isAlive() && t.getName().startsWith("distkit-jdbc-locks")));
    }

    @Test
    void aBuildAgainstAPortThatAcceptsAndNeverAnswersEndsInBoundedTime() throws Exception {
        try (SilentPort silent = SilentPort.open()) {
            DataSource plain = silent.postgresDataSource(); // no pool: the driver logs in on every call
            long start = System.nanoTime();
            assertThatThrownBy(() -> JdbcLockClient.builder(plain).commandTimeout(Duration.ofSeconds(1)).build())
                    .isInstanceOf(LockBackendException.class)
                    .hasMessageStartingWith("cannot connect to " + silent.postgresUrl() + ": no connection within 2000 ms");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        }
    }

    @Test
    void buildAndCallsOnAPausedServerEndInBoundedTime() throws Exception {
        PGSimpleDataSource plain = new PGSimpleDataSource();
        plain.setURL(postgres.jdbcUrl());
        plain.setUser(postgres.user());
        plain.setPassword(postgres.password());
        LockClient client = toClose.add(JdbcLockClient.builder(plain).createTableIfMissing()
                .commandTimeout(Duration.ofSeconds(1)).build());
        postgres.pause();
        try {
            long start = System.nanoTime();
            assertThatThrownBy(() -> client.lock("paused").tryAcquire()).isInstanceOf(LockBackendException.class);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("tryAcquire").isLessThan(Duration.ofSeconds(6));
            start = System.nanoTime();
            assertThatThrownBy(() -> JdbcLockClient.builder(plain).commandTimeout(Duration.ofSeconds(1)).build())
                    .isInstanceOf(LockBackendException.class).hasMessageContaining("no connection within 2000 ms");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("build").isLessThan(Duration.ofSeconds(5));
        } finally {
            postgres.resume();
        }
    }

    @Test
    void aJdbcUrlWithWrongCredentialsFailsAtOnceWithTheRootCauseFirst() {
        String url = postgres.jdbcUrl() + "?user=" + postgres.user() + "&password=wrong&ApplicationName=" + "x".repeat(1500);
        long start = System.nanoTime();
        assertThatThrownBy(() -> LockClients.connect(URI.create(url))).isInstanceOf(LockBackendException.class)
                .hasMessageStartingWith("cannot connect to " + postgres.jdbcUrl() + ": FATAL: password authentication"
                        + " failed for user \"" + postgres.user() + "\"")
                .hasMessageNotContaining("wrong")
                .hasMessageNotContaining("xxxxxxxxxx")
                .satisfies(e -> assertThat(e.getMessage()).hasSizeLessThan(300));
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("no pool retries").isLessThan(Duration.ofSeconds(3));
    }

    @Test
    void aJdbcUrlToAPortWithNoServerFailsAtOnce() {
        String url = "jdbc:postgresql://127.0.0.1:" + Servers.freePort() + "/distkit?user=distkit&password=distkit";
        long start = System.nanoTime();
        assertThatThrownBy(() -> LockClients.connect(URI.create(url))).isInstanceOf(LockBackendException.class)
                .hasMessageStartingWith("cannot connect to " + url.substring(0, url.indexOf('?')) + ": ")
                .hasMessageContaining("refused");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("no pool retries").isLessThan(Duration.ofSeconds(3));
    }

    @Test
    void aJdbcUrlToAPortThatAcceptsAndNeverAnswersFailsWithinTheLoginTimeout() throws Exception {
        try (SilentPort silent = SilentPort.open()) {
            String where = silent.postgresUrl();
            long start = System.nanoTime();
            assertThatThrownBy(() -> LockClients.connect(URI.create(where + "?user=distkit&password=distkit")))
                    .isInstanceOf(LockBackendException.class)
                    .hasMessageStartingWith("cannot connect to " + where + ": ");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("the driver's 5 s login timeout")
                    .isLessThan(Duration.ofSeconds(8));
        }
    }

    @Test
    void aTransactionAwareDataSourceProxyDoesNotDrawLocksIntoTheCallersTransaction() throws Exception {
        HikariDataSource pool = toClose.add(Pools.hikari(postgres));
        assertCallersRollbackTakesBackNoToken(pool, new TransactionAwareDataSourceProxy(pool));
    }

    @Test
    void aTransactionAwareProxyBeneathOtherSpringLayersIsSeenThrough() throws Exception {
        HikariDataSource pool = toClose.add(Pools.hikari(postgres));
        assertCallersRollbackTakesBackNoToken(pool,
                new LazyConnectionDataSourceProxy(new TransactionAwareDataSourceProxy(pool)));
    }

    /**
     * A lock taken and released inside a caller's transaction on {@code pool} that rolls back, by a client
     * built on {@code given}: the next holder's token is higher, so the take was committed on its own. The
     * row exists beforehand, so a take rolled back with the caller's transaction would repeat its token.
     */
    private void assertCallersRollbackTakesBackNoToken(HikariDataSource pool, DataSource given) throws Exception {
        LockClient client = toClose.add(JdbcLockClient.builder(given).createTableIfMissing().build());
        String name = "tx-aware-" + System.nanoTime();
        client.lock(name).tryAcquire().orElseThrow().release();
        long inside = new TransactionTemplate(new DataSourceTransactionManager(pool)).execute(status -> {
            new JdbcTemplate(pool).queryForObject("SELECT 1", Integer.class);
            status.setRollbackOnly();
            try (LockHandle handle = client.lock(name).tryAcquire().orElseThrow()) {
                return handle.fencingToken();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        try (LockHandle after = client.lock(name).tryAcquire().orElseThrow()) {
            assertThat(after.fencingToken()).as("the caller's rollback took back no token").isGreaterThan(inside);
        }
    }

    @Test
    void aJdbcUrlWhoseDriverIsMissingSaysSo() {
        assertThatThrownBy(() -> LockClients.connect(URI.create("jdbc:nosuchdriver://db:1/app?password=secret")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("no JDBC driver on the class path accepts jdbc:nosuchdriver://db:1/app: add the"
                        + " database's driver")
                .hasMessageNotContaining("secret");
    }

    @Test
    void aTableThatCannotBeCreatedSaysWhyTheCreateFailed() {
        HikariDataSource pool = toClose.add(Pools.hikari(postgres));
        assertThatThrownBy(() -> JdbcLockClient.builder(pool).tableName("information_schema.distkit_lock")
                .createTableIfMissing().build())
                .isInstanceOf(LockBackendException.class)
                .hasMessageStartingWith("the lock table information_schema.distkit_lock does not exist in "
                        + postgres.jdbcUrl() + " and creating it failed: ERROR: permission denied for schema"
                        + " information_schema")
                .hasMessageNotContaining("SELECT");
    }

    private HikariDataSource h2Pool() {
        return toClose.add(Pools.hikari(h2));
    }

    private static List<String> tables(HikariDataSource pool) {
        return new JdbcTemplate(pool).queryForList(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'PUBLIC'", String.class);
    }
}
