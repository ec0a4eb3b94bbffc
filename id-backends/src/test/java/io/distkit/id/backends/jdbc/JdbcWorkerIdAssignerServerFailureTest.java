package io.distkit.id.backends.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.jdbc.SqlDialect;
import io.distkit.testkit.server.Pools;
import io.distkit.testkit.server.PostgresServer;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Durability on PostgreSQL: the server is SIGKILLed (postmaster and every backend) and restarted on
 * its data directory. The test role's default is {@code synchronous_commit = off}, and the server runs
 * with {@code wal_writer_delay = 10s}, so a commit that does not ask for durability itself is lost by
 * the crash unless the WAL writer happened to write it out first (it does when a commit completes a
 * WAL page; the control runs until it catches a crash before that, and shows the loss). Claims, saves
 * and renewals ask for durability, so every acknowledged one survives.
 */
@Timeout(120)
class JdbcWorkerIdAssignerServerFailureTest extends WorkerTableTestSupport {

    @RegisterExtension
    static PostgresServer postgres = PostgresServer.builder().setting("wal_writer_delay", "10s").build();

    private boolean roleAltered;

    @Override
    HikariDataSource newPool() {
        return Pools.hikari(postgres);
    }

    @Override
    SqlDialect dialect() {
        return SqlDialect.POSTGRESQL;
    }

    @AfterEach
    void resetRole() throws SQLException {
        if (roleAltered) {
            postgres.heal(); // a test that failed between kill and restart left it down
            try (Connection c = postgres.connection(); Statement s = c.createStatement()) {
                s.execute("ALTER ROLE " + postgres.user() + " RESET synchronous_commit");
            }
            roleAltered = false;
        }
    }

    @Test
    @DisplayName("F17: acknowledged claims and saves survive a crash even where synchronous_commit is off by default")
    void acknowledgedClaimsAndSavesSurviveACrash() {
        createTableDurably();
        alterRoleSynchronousCommitOff();
        WorkerIdAssigner assigner = assigner(b -> b); // 30 s leases; its pool connects after the role change
        List<WorkerLease> leases = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            WorkerLease lease = assigner.acquire(64);
            lease.saveLastTimestamp(1_000 + lease.workerId());
            leases.add(lease);
        }
        WorkerLease recycled = leases.remove(9); // and one claim of an existing (released) row
        recycled.close();
        leases.add(assigner.acquire(64));

        postgres.kill();
        postgres.restart();

        for (WorkerLease lease : leases) {
            assertThat(row(lease.workerId())).as("worker id %d after the crash", lease.workerId())
                    .isEqualTo(new Row(owner(lease), 1_000 + lease.workerId()));
            assertThat(remainingMillis(lease.workerId())).as("its lease still runs (DB clock)").isPositive();
        }
    }

    @Test
    @DisplayName("F17: an acknowledged renewal survives a crash: the row keeps the later expiry")
    void acknowledgedRenewalSurvivesACrash() {
        createTableDurably();
        alterRoleSynchronousCommitOff();
        HikariDataSource pool = toClose.add(newPool());
        toClose.add(JdbcWorkerIdAssigner.builder(pool).tableName(table).leaseTime(Duration.ofSeconds(6))
                .renewInterval(Duration.ofMillis(500)).build()).acquire(1);
        String claimed = expiresAt(0);
        // a renewal moves the expiry; nothing else commits meanwhile that could flush the WAL for it
        String renewed = await().atMost(Duration.ofSeconds(3)).until(() -> expiresAt(0), e -> !e.equals(claimed));
        pool.close(); // no more renewals: what the row holds after the crash is what was made durable

        postgres.kill();
        postgres.restart();

        assertThat(expiresAt(0)).as("the renewed expiry, not the claimed one").isGreaterThanOrEqualTo(renewed);
    }

    /**
     * Control for the two tests above. A process crash loses only the WAL that was not yet <em>written</em>
     * (written WAL sits in the OS page cache, which outlives the processes); the WAL writer writes
     * asynchronous commits when one of them completes a WAL page, so whether a given run loses them
     * depends on where the page boundaries fall. A run in which the WAL was already written before the
     * kill proves nothing and is repeated with a fresh row; in a run in which it was not, every save
     * made without the durable form must be lost.
     */
    @Test
    @DisplayName("F17 control: the same crash loses acknowledged asynchronous commits not yet written out")
    void asynchronousCommitsAreLostByTheSameCrash() throws Exception {
        createTableDurably();
        for (int run = 1; run <= 5; run++) {
            int workerId = run;
            try (Connection c = synchronousConnection(); Statement s = c.createStatement()) {
                s.execute("INSERT INTO " + table + " (lock_name, owner, fencing_token, expires_at, last_timestamp)"
                        + " VALUES ('" + lockName(workerId) + "', NULL, 1, clock_timestamp(), 0)");
            }
            alterRoleSynchronousCommitOff();
            boolean unwritten;
            try (Connection c = postgres.connection(); PreparedStatement save = c.prepareStatement("UPDATE " + table
                    + " SET last_timestamp = GREATEST(last_timestamp, ?) WHERE lock_name = ?")) {
                for (int i = 1; i <= 3; i++) {
                    save.setLong(1, i);
                    save.setString(2, lockName(workerId));
                    assertThat(save.executeUpdate()).isEqualTo(1); // autocommit: acknowledged, asynchronously
                }
                unwritten = walNotYetWritten();
                postgres.kill();
            } catch (SQLException closingADeadConnection) {
                unwritten = false; // cannot tell; run again
            }
            postgres.restart();
            resetRole();
            long survived = row(workerId).lastTimestamp();
            System.out.printf("F17 control, run %d: WAL %s before the kill; the mark after the crash is %d of 3%n",
                    run, unwritten ? "not yet written" : "already written", survived);
            if (unwritten) {
                assertThat(survived).as("saves without the durable form, unwritten at the crash, are lost").isZero();
                return;
            }
        }
        throw new AssertionError("in 5 runs the WAL writer always wrote the asynchronous commits before the kill:"
                + " the control could not be run");
    }

    /** Whether WAL has been inserted that is not yet written out to the OS (read on a connection of its own). */
    private static boolean walNotYetWritten() throws SQLException {
        try (Connection c = postgres.connection(); Statement s = c.createStatement(); ResultSet lsn = s.executeQuery(
                "SELECT pg_current_wal_insert_lsn() > pg_current_wal_lsn()")) {
            lsn.next();
            return lsn.getBoolean(1);
        }
    }

    // ---- support -----------------------------------------------------------------------------------------

    /** The table, committed before the role default turns asynchronous. */
    private void createTableDurably() {
        try (Connection c = synchronousConnection(); Statement s = c.createStatement()) {
            s.execute(JdbcWorkerIdAssigner.createTableSql(SqlDialect.POSTGRESQL, table));
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A fresh connection of the test user that commits synchronously whatever the role's default. */
    private static Connection synchronousConnection() throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("options", "-c synchronous_commit=on");
        return postgres.connection(properties);
    }

    private void alterRoleSynchronousCommitOff() {
        roleAltered = true;
        try (Connection c = postgres.connection(); Statement s = c.createStatement()) {
            s.execute("ALTER ROLE " + postgres.user() + " SET synchronous_commit = off");
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        try (Connection c = postgres.connection(); Statement s = c.createStatement();
                ResultSet setting = s.executeQuery("SHOW synchronous_commit")) {
            setting.next();
            assertThat(setting.getString(1)).as("a new connection of the role gets the role's default").isEqualTo("off");
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The row's expiry as text, exact to the microsecond; ISO-like, so text order is time order (one time zone). */
    private String expiresAt(int workerId) {
        return admin().queryForObject("SELECT to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM "
                + table + " WHERE lock_name = ?", String.class, lockName(workerId));
    }
}
