package io.distkit.lock.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.testkit.server.MariaDbServer;
import io.distkit.testkit.server.Pools;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The lock contract on a real MariaDB server (the MySQL dialect), and what only MySQL connections can get wrong. */
class MariaDbLockContractTest extends JdbcLockContractSupport {

    @RegisterExtension
    static MariaDbServer mariadb = MariaDbServer.builder().build();

    @Override
    HikariDataSource newPool() {
        return Pools.hikari(mariadb);
    }

    @Test
    void aConnectionInACharacterSetOtherThanUtf8mb4IsRefused() {
        try (HikariDataSource latin1 = pool("SET NAMES latin1")) {
            assertThatThrownBy(() -> JdbcLockClient.builder(latin1).createTableIfMissing().build())
                    .isInstanceOf(LockBackendException.class)
                    .hasMessageStartingWith("the connection to " + mariadb.jdbcUrl() + " uses the character set latin1"
                            + " (client) and latin1 (connection): locks whose names hold characters outside it would be"
                            + " stored as '?'");
        }
    }

    @Test
    void aNewRowsTokenIsUtcMicrosecondsWhateverTheSessionTimeZone() throws Exception {
        try (HikariDataSource tokyo = pool("SET time_zone = '+09:00'");
                LockClient client = JdbcLockClient.builder(tokyo).createTableIfMissing().build()) {
            long before = ChronoUnit.MICROS.between(Instant.EPOCH, Instant.now());
            try (LockHandle handle = client.lock("utc-seed-" + before).tryAcquire().orElseThrow()) {
                long after = ChronoUnit.MICROS.between(Instant.EPOCH, Instant.now());
                // the server runs on this machine: its clock and ours agree within a second
                assertThat(handle.fencingToken()).isBetween(before - 1_000_000, after + 1_000_000);
            }
        }
    }

    private static HikariDataSource pool(String connectionInitSql) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(mariadb.jdbcUrl());
        config.setUsername(mariadb.user());
        config.setPassword(mariadb.password());
        config.setMaximumPoolSize(Pools.MAX_POOL_SIZE);
        config.setConnectionInitSql(connectionInitSql);
        return new HikariDataSource(config);
    }
}
