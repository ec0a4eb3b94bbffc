package io.distkit.id.backends.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import io.distkit.jdbc.SqlDialect;
import io.distkit.testkit.Closer;
import io.distkit.testkit.server.H2Database;
import io.distkit.testkit.server.Pools;
import io.distkit.testkit.server.Servers;
import io.distkit.testkit.server.SilentPort;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.postgresql.ds.PGSimpleDataSource;
import org.springframework.jdbc.core.JdbcTemplate;

/** The builder, the table checks, bad input and owner values (H2). */
class JdbcWorkerIdAssignerTest {

    private static final long MS = 1_000_000L;

    @RegisterExtension
    final H2Database h2 = H2Database.builder().build();

    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    // ---- the table ---------------------------------------------------------------------------------------

    @Test
    void aMissingTableIsAnErrorThatCarriesTheDdlAndCreatesNothing() {
        HikariDataSource pool = pool();
        assertThatThrownBy(() -> JdbcWorkerIdAssigner.builder(pool).tableName("my_workers").build())
                .isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("the worker-id table my_workers does not exist")
                .hasMessageContaining("CREATE TABLE my_workers (")
                .hasMessageContaining("last_timestamp BIGINT")
                .hasMessageContaining("expires_at     TIMESTAMP WITH TIME ZONE NOT NULL")
                .hasMessageContaining("createTableIfMissing()");
        assertThat(tables(pool)).as("nothing half-made").doesNotContain("MY_WORKERS");
    }

    @Test
    void createTableIfMissingCreatesTheTableOnceAndTheNextAssignerUsesIt() {
        HikariDataSource pool = pool();
        WorkerIdAssigner first = toClose.add(JdbcWorkerIdAssigner.builder(pool).createTableIfMissing().build());
        WorkerIdAssigner second = toClose.add(JdbcWorkerIdAssigner.builder(pool).createTableIfMissing().build());
        assertThat(first.acquire(2).workerId()).isZero();
        assertThat(second.acquire(2).workerId()).isEqualTo(1);
        assertThat(tables(pool)).contains("DISTKIT_WORKER");
    }

    @Test
    void aTableWithoutDistkitsColumnsIsRefusedWithTheExpectedDdl() {
        HikariDataSource pool = pool();
        new JdbcTemplate(pool).execute("CREATE TABLE distkit_worker (worker_id INT PRIMARY KEY, holder VARCHAR(64))");
        assertThatThrownBy(() -> JdbcWorkerIdAssigner.builder(pool).createTableIfMissing().build())
                .isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("the worker-id table distkit_worker")
                .hasMessageContaining("cannot be used")
                .hasMessageContaining("distkit expects")
                .hasMessageContaining("last_timestamp");
    }

    @Test
    void everyDialectShipsItsDdl() {
        assertThat(JdbcWorkerIdAssigner.createTableSql(SqlDialect.POSTGRESQL, "w"))
                .startsWith("-- distkit worker-id table for PostgreSQL")
                .contains("CREATE TABLE w (").contains("TIMESTAMPTZ").doesNotContain("${table}");
        assertThat(JdbcWorkerIdAssigner.createTableSql(SqlDialect.MYSQL, "ids.w")).contains("CREATE TABLE ids.w (")
                .contains("DATETIME(3)").contains("ENGINE = InnoDB");
        assertThat(JdbcWorkerIdAssigner.createTableSql(SqlDialect.H2, "w")).contains("TIMESTAMP WITH TIME ZONE");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> JdbcWorkerIdAssigner.createTableSql(SqlDialect.H2, "w; DROP TABLE x"))
                .withMessageContaining("tableName");
    }

    @Test
    void h2InACompatibilityModeUsesTheH2Dialect() {
        H2Database postgresMode = toClose.add(H2Database.builder().mode(H2Database.Mode.POSTGRESQL).build());
        postgresMode.start();
        HikariDataSource pool = toClose.add(Pools.hikari(postgresMode.jdbcUrl(), postgresMode.user(),
                postgresMode.password()));
        WorkerIdAssigner assigner = toClose.add(JdbcWorkerIdAssigner.builder(pool).createTableIfMissing().build());
        assertThat(assigner.toString()).contains("H2");
        WorkerLease lease = assigner.acquire(1);
        lease.saveLastTimestamp(42);
        lease.close();
        assertThat(assigner.acquire(1).lastTimestamp()).isEqualTo(42);
    }

    // ---- bad input ---------------------------------------------------------------------------------------

    @Test
    void tableNamesMustBePlainSqlIdentifiers() {
        JdbcWorkerIdAssigner.Builder builder = JdbcWorkerIdAssigner.builder(pool());
        assertThatNullPointerException().isThrownBy(() -> builder.tableName(null)).withMessage("tableName");
        for (String bad : List.of("", " ", "1workers", "w;DROP TABLE x", "a.b.c", "\"quoted\"", "worker-table",
                "x".repeat(64), "schema.")) {
            assertThatIllegalArgumentException().as(bad).isThrownBy(() -> builder.tableName(bad))
                    .withMessageContaining("tableName must be an unquoted SQL identifier")
                    .withMessageContaining("'" + bad + "'");
        }
        assertThat(builder.tableName("ids.distkit_worker")).isSameAs(builder);
        assertThat(builder.tableName("_x" + "y".repeat(61))).isSameAs(builder);
    }

    @Test
    void builderArgumentsAreCheckedWithTheirNameAndValue() {
        assertThatNullPointerException().isThrownBy(() -> JdbcWorkerIdAssigner.builder(null)).withMessage("dataSource");
        JdbcWorkerIdAssigner.Builder builder = JdbcWorkerIdAssigner.builder(pool());
        assertThatNullPointerException().isThrownBy(() -> builder.leaseTime(null)).withMessage("leaseTime");
        for (Duration bad : List.of(Duration.ZERO, Duration.ofMillis(-1), Duration.ofMillis(499))) {
            assertThatIllegalArgumentException().as(bad.toString()).isThrownBy(() -> builder.leaseTime(bad))
                    .withMessageStartingWith("leaseTime must be at least 500 ms, was " + bad);
        }
        assertThatIllegalArgumentException().isThrownBy(() -> builder.leaseTime(Duration.ofDays(31)))
                .withMessageStartingWith("leaseTime must be at most PT720H, was PT744H");
        assertThatNullPointerException().isThrownBy(() -> builder.renewInterval(null)).withMessage("renewInterval");
        assertThatIllegalArgumentException().isThrownBy(() -> builder.renewInterval(Duration.ZERO))
                .withMessage("renewInterval must be positive, was PT0S");
        assertThatIllegalArgumentException().isThrownBy(() -> builder.commandTimeout(Duration.ofSeconds(-1)))
                .withMessage("commandTimeout must be positive, was PT-1S");
        assertThatNullPointerException().isThrownBy(() -> builder.commandTimeout(null)).withMessage("commandTimeout");
        assertThatNullPointerException().isThrownBy(() -> builder.dialect(null)).withMessage("dialect");
        assertThatNullPointerException().isThrownBy(() -> builder.ownerPrefix(null)).withMessage("ownerPrefix");
        for (String bad : List.of("", "two words", "tab\there", "caf\u00e9", "x".repeat(25))) {
            assertThatIllegalArgumentException().as(bad).isThrownBy(() -> builder.ownerPrefix(bad))
                    .withMessageContaining("ownerPrefix must be 1 to 24 printable ASCII characters without spaces")
                    .withMessageContaining("'" + bad + "'");
        }
        assertThat(builder.ownerPrefix("x".repeat(24))).isSameAs(builder);

        builder.createTableIfMissing().leaseTime(Duration.ofSeconds(1)).renewInterval(Duration.ofMillis(501));
        assertThatIllegalArgumentException().isThrownBy(builder::build)
                .withMessageContaining("renewInterval (PT0.501S) must be at most half the leaseTime (PT1S)");
        assertThatIllegalArgumentException().isThrownBy(() -> SqlDialect.of("Oracle"))
                .withMessageContaining("no SQL for the database 'Oracle'").withMessageContaining("PostgreSQL");
    }

    @Test
    void leaseArgumentsAreChecked() {
        WorkerIdAssigner assigner = assigner(b -> b);
        for (int bad : List.of(0, -1, Integer.MIN_VALUE)) {
            assertThatIllegalArgumentException().isThrownBy(() -> assigner.acquire(bad))
                    .withMessage("maxWorkerIds must be at least 1, was " + bad);
        }
        WorkerLease lease = assigner.acquire(1);
        assertThatIllegalArgumentException().isThrownBy(() -> lease.saveLastTimestamp(-1))
                .withMessage("timestamp must not be negative, was -1");
        assertThatNullPointerException().isThrownBy(() -> lease.onLost(null)).withMessage("listener");
        assertThat(lease.isValid()).isTrue();
    }

    @Test
    void anUnreachableDatabaseIsAnIdSourceUnavailableExceptionWithTheCause() {
        PGSimpleDataSource nowhere = new PGSimpleDataSource();
        nowhere.setURL("jdbc:postgresql://127.0.0.1:" + Servers.freePort() + "/distkit");
        nowhere.setUser("distkit");
        nowhere.setPassword("distkit");
        nowhere.setConnectTimeout(2);
        assertThatThrownBy(() -> JdbcWorkerIdAssigner.builder(nowhere).build())
                .isInstanceOf(IdSourceUnavailableException.class)
                .hasMessageContaining("'distkit_worker' unavailable")
                .hasMessageContaining("cannot connect")
                .hasCauseInstanceOf(java.sql.SQLException.class);
    }

    @Test
    void aBuildAgainstAPortThatAcceptsAndNeverAnswersEndsInBoundedTime() throws Exception {
        try (SilentPort silent = SilentPort.open()) {
            PGSimpleDataSource plain = silent.postgresDataSource(); // no pool: the driver logs in on every call
            long start = System.nanoTime();
            assertThatThrownBy(() -> JdbcWorkerIdAssigner.builder(plain).commandTimeout(Duration.ofSeconds(1)).build())
                    .isInstanceOf(IdSourceUnavailableException.class)
                    .hasMessageContaining("cannot connect to " + silent.postgresUrl() + ": no connection within 2000 ms");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
        }
    }

    // ---- owner values ------------------------------------------------------------------------------------

    @Test
    void ownerValuesNameTheProcessAndDifferPerLease() {
        JdbcTemplate admin = new JdbcTemplate(pool());
        WorkerIdAssigner byDefault = assigner(b -> b);
        List<WorkerLease> leases = List.of(byDefault.acquire(8), byDefault.acquire(8));
        String prefix = JdbcWorkerIdAssigner.defaultOwnerPrefix();
        assertThat(prefix).endsWith("/" + ProcessHandle.current().pid()).hasSizeLessThanOrEqualTo(24);
        List<String> owners = admin.queryForList("SELECT owner FROM distkit_worker ORDER BY lock_name", String.class);
        assertThat(owners).hasSize(2).doesNotHaveDuplicates().allSatisfy(owner -> assertThat(owner)
                .startsWith(prefix + "#").hasSizeLessThanOrEqualTo(64));

        WorkerLease named = assigner(b -> b.ownerPrefix("billing-7")).acquire(8);
        assertThat(admin.queryForObject("SELECT owner FROM distkit_worker WHERE lock_name = ?", String.class,
                "worker-" + named.workerId())).startsWith("billing-7#");
        assertThat(named.toString()).contains("worker id 2").contains("lock worker-2").contains("valid");
        leases.forEach(WorkerLease::close);
    }

    // ---- support -----------------------------------------------------------------------------------------

    private WorkerIdAssigner assigner(java.util.function.UnaryOperator<JdbcWorkerIdAssigner.Builder> configure) {
        return toClose.add(configure.apply(JdbcWorkerIdAssigner.builder(pool()).createTableIfMissing()).build());
    }

    private HikariDataSource pool() {
        return toClose.add(Pools.hikari(h2));
    }

    private static List<String> tables(HikariDataSource pool) {
        return new JdbcTemplate(pool).queryForList(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'PUBLIC'", String.class);
    }
}
