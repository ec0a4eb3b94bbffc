package io.distkit.testkit.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.DisabledIfEnvironmentVariable;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.postgresql.PGProperty;

/**
 * The PostgreSQL fixture against a real postgres: user, durability settings, kill, restart, pause,
 * clock, cleanup. Off when {@value PostgresServer#URL_ENV} points every fixture at an external
 * database: these tests are about our own process ({@link #externalDatabase()} covers that mode).
 */
@DisabledIfEnvironmentVariable(named = PostgresServer.URL_ENV, matches = ".+")
class PostgresServerTest {

    @RegisterExtension
    static PostgresServer pg = PostgresServer.builder().fakeTime().build();

    @Test
    @DisplayName("tests connect as the configured non-superuser to their own database on a private port")
    void connectsAsConfiguredUser() throws SQLException {
        try (Connection c = pg.connection(); Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT current_user, current_database(),"
                        + " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)")) {
            rs.next();
            assertThat(rs.getString(1)).isEqualTo(pg.user()).isEqualTo("distkit");
            assertThat(rs.getString(2)).isEqualTo(pg.database()).isEqualTo("distkit");
            assertThat(rs.getBoolean(3)).isFalse();
        }
        try (Connection c = pg.dataSource().getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS owned_by_test_user (id int)"); // PG15: only the owner may create in public
        }
        assertThat(pg.jdbcUrl()).isEqualTo("jdbc:postgresql://127.0.0.1:" + pg.port() + "/distkit");
        assertThat(pg.port()).isNotEqualTo(5432);
    }

    @Test
    @DisplayName("fsync and synchronous_commit are on, so acknowledged commits survive a crash")
    void durableByDefault() throws SQLException {
        assertThat(show("synchronous_commit")).isEqualTo("on");
        assertThat(show("fsync")).isEqualTo("on");
    }

    @Test
    @DisplayName("pid() is the postmaster itself, not a user-switching wrapper")
    void pidIsThePostmaster() throws Exception {
        String firstLine = Files.readAllLines(pg.dataDir().resolve("postmaster.pid")).get(0).trim();
        assertThat(pg.pid()).isEqualTo(Long.parseLong(firstLine));
    }

    @Test
    @DisplayName("killed, it refuses connections and leaves no child behind; restarted, committed rows are there")
    void killAndRestartKeepCommittedRows() throws Exception {
        try (Connection c = pg.connection(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS survivors (id int)");
            s.execute("INSERT INTO survivors VALUES (42)"); // autocommit: acknowledged = committed
        }
        Connection open = pg.connection();
        List<ProcessHandle> processes = serverProcesses();
        assertThat(processes).hasSizeGreaterThan(1); // the postmaster, its auxiliaries and our backend

        pg.kill();

        assertThat(pg.isRunning()).isFalse();
        assertThat(processes).noneMatch(ProcessHandle::isAlive);
        assertThatThrownBy(() -> query(open, "SELECT 1")).isInstanceOf(SQLException.class);
        assertThatThrownBy(pg::connection).isInstanceOf(SQLException.class);

        pg.restart();
        try (Connection c = pg.connection(); Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT count(*) FROM survivors WHERE id = 42")) {
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(1);
        }
    }

    @Test
    @DisplayName("paused, an open connection and a new one both time out; resumed, queries work again")
    void pauseAndResume() throws Exception {
        Properties timeouts = new Properties();
        PGProperty.SOCKET_TIMEOUT.set(timeouts, 1);
        PGProperty.CONNECT_TIMEOUT.set(timeouts, 1);
        PGProperty.LOGIN_TIMEOUT.set(timeouts, 2);
        // opened before the pause: it is served by a backend, a child of the postmaster, so a
        // timeout here shows that the children are paused, not only the postmaster
        try (Connection open = pg.connection(timeouts)) {
            assertThat(query(open, "SELECT 1")).isEqualTo("1");

            pg.pause();
            try {
                long t0 = System.nanoTime();
                assertThatThrownBy(() -> query(open, "SELECT 1")).isInstanceOf(SQLException.class);
                assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
                assertThatThrownBy(() -> pg.connection(timeouts).close()).isInstanceOf(SQLException.class);
            } finally {
                pg.resume();
            }
        }
        try (Connection c = pg.connection(timeouts)) {
            assertThat(query(c, "SELECT 1")).isEqualTo("1");
        }
    }

    @Test
    @DisplayName("under the clock shift, now() moves with shiftClock while the JVM clock does not")
    void clockShift() throws SQLException {
        assertThat(Duration.between(Instant.now(), serverNow()).abs()).isLessThan(Duration.ofSeconds(5));

        pg.shiftClock(Duration.ofSeconds(60));

        Duration ahead = Duration.between(Instant.now(), serverNow());
        assertThat(ahead).isBetween(Duration.ofSeconds(55), Duration.ofSeconds(65));
    }

    @Test
    @DisplayName("an external database is used as is, and faults on it are refused")
    void externalDatabase() throws SQLException {
        try (PostgresServer external = PostgresServer.builder().external(pg.jdbcUrl()).build()) {
            external.start();
            try (Connection c = external.connection()) {
                assertThat(query(c, "SELECT current_user")).isEqualTo("distkit");
            }
            assertThat(external.isExternal()).isTrue();
            assertThatThrownBy(external::kill).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining(PostgresServer.URL_ENV);
            assertThatThrownBy(external::pause).isInstanceOf(UnsupportedOperationException.class);
            assertThatThrownBy(() -> external.shiftClock(Duration.ZERO)).isInstanceOf(UnsupportedOperationException.class);
        }
        assertThat(pg.isRunning()).isTrue(); // closing the external view stopped nothing
    }

    @Test
    @DisplayName("a configured instance gets its user, database and settings; after close no process of it is left")
    void configuredInstanceAndClose() throws Exception {
        List<ProcessHandle> processes;
        java.nio.file.Path dataDir;
        try (PostgresServer own = PostgresServer.builder().user("alice").password("it's secret").database("wonderland")
                .setting("synchronous_commit", "off").build()) {
            own.start();
            try (Connection c = own.connection()) {
                assertThat(query(c, "SELECT current_database()")).isEqualTo("wonderland");
                assertThat(query(c, "SHOW synchronous_commit")).isEqualTo("off"); // a negative control can turn it off
            }
            processes = new ArrayList<>(List.of(ProcessHandle.of(own.pid()).orElseThrow()));
            processes.addAll(ProcessHandle.of(own.pid()).orElseThrow().descendants().toList());
            dataDir = own.dataDir();
        }
        assertThat(processes).noneMatch(ProcessHandle::isAlive);
        Process pgrep = new ProcessBuilder("pgrep", "-f", dataDir.toString()).start();
        assertThat(pgrep.waitFor()).as("pgrep -f " + dataDir + " finds nothing").isEqualTo(1);
        assertThat(dataDir.getParent()).doesNotExist();
    }

    private static List<ProcessHandle> serverProcesses() {
        ProcessHandle postmaster = ProcessHandle.of(pg.pid()).orElseThrow();
        List<ProcessHandle> all = new ArrayList<>(List.of(postmaster));
        all.addAll(postmaster.descendants().toList());
        return all;
    }

    private static String show(String setting) throws SQLException {
        try (Connection c = pg.connection()) {
            return query(c, "SHOW " + setting);
        }
    }

    private static Instant serverNow() throws SQLException {
        try (Connection c = pg.connection(); Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT now()")) {
            rs.next();
            return rs.getTimestamp(1).toInstant();
        }
    }

    private static String query(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
