package io.distkit.testkit.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The in-memory H2 helper: isolation between instances, modes, and dropping at close. */
class H2DatabaseTest {

    @RegisterExtension
    static H2Database first = H2Database.builder().build();

    @RegisterExtension
    static H2Database second = H2Database.builder().build();

    @Test
    @DisplayName("two instances are separate databases")
    void instancesAreIsolated() throws SQLException {
        assertThat(first.jdbcUrl()).isNotEqualTo(second.jdbcUrl());
        try (Connection c = first.connection(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE only_in_first (id INT)");
            s.execute("INSERT INTO only_in_first VALUES (1)");
        }
        // a new connection sees the table: DB_CLOSE_DELAY=-1 keeps the database between connections
        try (Connection c = first.dataSource().getConnection()) {
            assertThat(count(c, "only_in_first")).isEqualTo(1);
        }
        try (Connection c = second.connection()) {
            assertThatThrownBy(() -> count(c, "only_in_first")).isInstanceOf(SQLException.class)
                    .hasMessageContaining("ONLY_IN_FIRST");
        }
    }

    @Test
    @DisplayName("a compatibility mode is set on the database")
    void modeIsApplied() throws SQLException {
        try (H2Database pgLike = H2Database.builder().mode(H2Database.Mode.POSTGRESQL).build();
                H2Database mysqlLike = H2Database.builder().mode(H2Database.Mode.MYSQL).build()) {
            pgLike.start();
            mysqlLike.start();
            assertThat(setting(pgLike, "MODE")).isEqualTo("PostgreSQL");
            assertThat(setting(mysqlLike, "MODE")).isEqualTo("MySQL");
        }
    }

    @Test
    @DisplayName("close drops the database: its connections fail and the name starts empty")
    void closeDropsTheDatabase() throws SQLException {
        H2Database db = H2Database.builder().setting("LOCK_TIMEOUT", "5000").build();
        db.start();
        Connection open = db.connection();
        try (Statement s = open.createStatement()) {
            s.execute("CREATE TABLE dropped (id INT)");
        }

        db.close();
        db.close(); // idempotent

        assertThatThrownBy(() -> count(open, "dropped")).isInstanceOf(SQLException.class);
        try (Connection fresh = db.connection()) {
            assertThatThrownBy(() -> count(fresh, "dropped")).isInstanceOf(SQLException.class);
            try (Statement s = fresh.createStatement()) {
                s.execute("SHUTDOWN"); // the empty database this connection just created
            }
        }
    }

    private static long count(Connection c, String table) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static String setting(H2Database db, String name) throws SQLException {
        try (Connection c = db.connection(); Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT SETTING_VALUE FROM INFORMATION_SCHEMA.SETTINGS WHERE SETTING_NAME = '"
                        + name + "'")) {
            assertThat(rs.next()).as("setting " + name).isTrue();
            return rs.getString(1);
        }
    }
}
