package io.distkit.testkit.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Properties;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The MariaDB fixture against a real mariadbd: user and grants, kill, restart, pause, clock. */
class MariaDbServerTest {

    @RegisterExtension
    static MariaDbServer db = MariaDbServer.builder().fakeTime().build();

    @Test
    @DisplayName("tests connect as the configured user, with privileges on their database only")
    void connectsAsConfiguredUser() throws SQLException {
        try (Connection c = db.connection()) {
            assertThat(query(c, "SELECT CURRENT_USER()")).isEqualTo("distkit@%");
            assertThat(query(c, "SELECT DATABASE()")).isEqualTo("distkit");
            assertThat(query(c, "SELECT @@innodb_flush_log_at_trx_commit")).isEqualTo("1");
            assertThat(query(c, "SELECT @@skip_grant_tables")).isIn("0", "OFF"); // grants are enforced
            try (Statement s = c.createStatement()) {
                assertThatThrownBy(() -> s.execute("CREATE DATABASE not_ours")).isInstanceOf(SQLException.class);
            }
        }
        try (Connection c = db.dataSource().getConnection()) {
            assertThat(query(c, "SELECT 1")).isEqualTo("1");
        }
        assertThat(db.jdbcUrl()).isEqualTo("jdbc:mariadb://127.0.0.1:" + db.port() + "/distkit");
        assertThat(db.port()).isNotEqualTo(3306);
    }

    @Test
    @DisplayName("killed, it refuses connections; restarted, committed InnoDB rows are there")
    void killAndRestartKeepCommittedRows() throws Exception {
        try (Connection c = db.connection(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS survivors (id INT) ENGINE=InnoDB");
            s.execute("INSERT INTO survivors VALUES (42)"); // autocommit: acknowledged = committed
        }
        Connection open = db.connection();
        long pid = db.pid();

        db.kill();

        assertThat(db.isRunning()).isFalse();
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).isNotEqualTo(java.util.Optional.of(true));
        assertThatThrownBy(() -> query(open, "SELECT 1")).isInstanceOf(SQLException.class);
        assertThatThrownBy(() -> db.connection(timeouts()).close()).isInstanceOf(SQLException.class);

        db.restart();
        try (Connection c = db.connection()) {
            assertThat(query(c, "SELECT COUNT(*) FROM survivors WHERE id = 42")).isEqualTo("1");
        }
    }

    @Test
    @DisplayName("paused, an open connection and a new one both time out; resumed, queries work again")
    void pauseAndResume() throws Exception {
        try (Connection open = db.connection(timeouts())) {
            assertThat(query(open, "SELECT 1")).isEqualTo("1");

            db.pause();
            try {
                long t0 = System.nanoTime();
                assertThatThrownBy(() -> query(open, "SELECT 1")).isInstanceOf(SQLException.class);
                assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
                assertThatThrownBy(() -> db.connection(timeouts()).close()).isInstanceOf(SQLException.class);
            } finally {
                db.resume();
            }
        }
        try (Connection c = db.connection(timeouts())) {
            assertThat(query(c, "SELECT 1")).isEqualTo("1");
        }
    }

    @Test
    @DisplayName("under the clock shift, UNIX_TIMESTAMP() moves with shiftClock while the JVM clock does not")
    void clockShift() throws SQLException {
        assertThat(Math.abs(serverSeconds() - jvmSeconds())).isLessThan(5);

        db.shiftClock(Duration.ofSeconds(60));

        assertThat(serverSeconds() - jvmSeconds()).isBetween(55L, 65L);
    }

    @Test
    @DisplayName("after close the server process is gone and its directory removed")
    void closeLeavesNothing() throws SQLException {
        long pid;
        java.nio.file.Path dataDir;
        try (MariaDbServer own = MariaDbServer.builder().user("alice").password("it's a \\ secret").database("wonderland").build()) {
            own.start();
            try (Connection c = own.connection()) {
                assertThat(query(c, "SELECT DATABASE()")).isEqualTo("wonderland");
            }
            pid = own.pid();
            dataDir = own.dataDir();
        }
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).isNotEqualTo(java.util.Optional.of(true));
        assertThat(dataDir.getParent()).doesNotExist();
    }

    /** Connector/J timeouts are in milliseconds. */
    private static Properties timeouts() {
        Properties properties = new Properties();
        properties.setProperty("connectTimeout", "1000");
        properties.setProperty("socketTimeout", "1000");
        return properties;
    }

    private static long serverSeconds() throws SQLException {
        try (Connection c = db.connection()) {
            return Long.parseLong(query(c, "SELECT UNIX_TIMESTAMP()"));
        }
    }

    private static long jvmSeconds() {
        return System.currentTimeMillis() / 1000;
    }

    private static String query(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
