package io.distkit.lock.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.lock.LockClientContract;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.springframework.jdbc.core.JdbcTemplate;

/** The lock contract on one database: each client has a pool of its own; "deleting the state" deletes the row. */
abstract class JdbcLockContractSupport extends LockClientContract {

    private final List<HikariDataSource> pools = new ArrayList<>();

    /** A new pool on the database under test. */
    abstract HikariDataSource newPool();

    @Override
    protected LockClient newClient(LockOptions defaults) {
        HikariDataSource pool = newPool();
        pools.add(pool);
        return JdbcLockClient.builder(pool).createTableIfMissing().defaultOptions(defaults).build();
    }

    @Override
    protected void deleteLockState(String lockName) {
        DataSource admin = pools.isEmpty() ? newPool() : pools.get(0);
        new JdbcTemplate(admin).update("DELETE FROM " + JdbcLockClient.DEFAULT_TABLE + " WHERE lock_name = ?", lockName);
    }

    @AfterEach
    void closePools() {
        // runs after the contract closed its clients (subclass @AfterEach methods run first... see JUnit: superclass last)
        pools.forEach(HikariDataSource::close);
        pools.clear();
    }
}
