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

/** The builder, the table checks, bad input, owner values and the local deadline on an injected ticker (H2). */
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
        for (Duration bad : List.of(Duration.ZERO, Duration.ofMillis(-1), Duration.ofMillis(99), Duration.ofDays(2))) {
            assertThatIllegalArgumentException().as(bad.toString()).isThrownBy(() -> builder.leaseTime(bad))
                    .withMessage("leaseTime must be between 100 ms and PT24H, was " + bad);
        }
        assertThatNullPointerException().isThrownBy(() -> builder.renewInterval(null)).withMessage("renewInterval");
        assertThatIllegalArgumentException().isThrownBy(() -> builder.renewInterval(Duration.ZERO))
                .withMessage("renewInterval must be at least 1 ms, was PT0S");
        assertThatIllegalArgumentException().isThrownBy(() -> builder.commandTimeout(Duration.ofSeconds(-1)))
                .withMessage("commandTimeout must be positive, was PT-1S");
        assertThatNullPointerException().isThrownBy(() -> builder.commandTimeout(null)).withMessage("commandTimeout");
        assertThatNullPointerException().isThrownBy(() -> builder.dialect(null)).withMessage("dialect");
        assertThatNullPointerException().isThrownBy(() -> builder.ticker(null)).withMessage("ticker");
        assertThatNullPointerException().isThrownBy(() -> builder.ownerPrefix(null)).withMessage("ownerPrefix");
        for (String bad : List.of("", "two words", "tab\there", "caf\u00e9", "x".repeat(42))) {
            assertThatIllegalArgumentException().as(bad).isThrownBy(() -> builder.ownerPrefix(bad))
                    .withMessageContaining("ownerPrefix must be 1 to 41 printable ASCII characters without spaces")
                    .withMessageContaining("'" + bad + "'");
        }
        assertThat(builder.ownerPrefix("x".repeat(41))).isSameAs(builder);

        builder.createTableIfMissing().leaseTime(Duration.ofSeconds(1)).renewInterval(Duration.ofMillis(501));
        assertThatIllegalArgumentException().isThrownBy(builder::build)
                .withMessageContaining("renewInterval must be at most half the leaseTime PT1S")
                .withMessageContaining("was PT0.501S");
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
        assertThat(prefix).endsWith("/" + ProcessHandle.current().pid()).hasSizeLessThanOrEqualTo(41);
        List<String> owners = admin.queryForList("SELECT owner FROM distkit_worker ORDER BY worker_id", String.class);
        assertThat(owners).hasSize(2).doesNotHaveDuplicates().allSatisfy(owner -> assertThat(owner)
                .startsWith(prefix + "#").hasSize(prefix.length() + 1 + 22).hasSizeLessThanOrEqualTo(64));

        WorkerLease named = assigner(b -> b.ownerPrefix("billing-7")).acquire(8);
        assertThat(admin.queryForObject("SELECT owner FROM distkit_worker WHERE worker_id = ?", String.class,
                named.workerId())).startsWith("billing-7#");
        assertThat(named.toString()).contains("worker id 2").contains("billing-7#").contains("valid");
        leases.forEach(WorkerLease::close);
    }

    // ---- the local deadline on an injected ticker --------------------------------------------------------

    @Test
    void theLocalDeadlineRunsOnTheTickerFromTheSendTimeOfTheLastSuccessfulRenewal() throws Exception {
        AtomicLong ticker = new AtomicLong(0);
        SlowRenewalDataSource database = new SlowRenewalDataSource(pool(), ticker);
        WorkerIdAssigner assigner = toClose.add(JdbcWorkerIdAssigner.builder(database).createTableIfMissing()
                .leaseTime(Duration.ofSeconds(1)).renewInterval(Duration.ofMillis(50)).ticker(ticker::get).build());
        TableWorkerLease lease = (TableWorkerLease) assigner.acquire(1);
        long drift = 10 * MS + 2 * MS; // 1% of the lease + 2 ms
        assertThat(lease.deadline()).as("claim sent at 0").isEqualTo(1000 * MS - drift);
        CountDownLatch lost = new CountDownLatch(1);
        AtomicReference<String> listenerThread = new AtomicReference<>();
        lease.onLost(() -> {
            listenerThread.set(Thread.currentThread().getName());
            lost.countDown();
        });

        ticker.set(900 * MS); // no real time needs to pass: the renewals (every 50 ms) now send at 900 ms
        await().atMost(Duration.ofSeconds(5)).until(() -> lease.deadline() == 1900 * MS - drift);

        // one more renewal, sent at 900 ms, whose reply takes 400 ms by the ticker; then the database is gone
        database.slowOnceThenFail(400 * MS);
        await().atMost(Duration.ofSeconds(5)).until(() -> database.slowBatches() == 1 && database.failedBatches() > 0);
        assertThat(ticker.get()).isEqualTo(1300 * MS);
        assertThat(lease.deadline()).as("from the send time of the slow renewal, not from its reply (2300 ms)")
                .isEqualTo(1900 * MS - drift);

        ticker.set(1900 * MS - drift - 1);
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).until(lease::isValid);
        assertThat(lost.getCount()).isOne();

        ticker.set(1900 * MS - drift);
        assertThat(lease.isValid()).as("lost at the deadline on the ticker, whatever the real time").isFalse();
        assertThat(lost.await(2, TimeUnit.SECONDS)).isTrue();
        assertThat(listenerThread.get()).startsWith("distkit-worker-lease-");
        assertThatThrownBy(() -> lease.saveLastTimestamp(1)).isInstanceOf(WorkerLeaseLostException.class)
                .hasMessageContaining("local lease deadline");
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
