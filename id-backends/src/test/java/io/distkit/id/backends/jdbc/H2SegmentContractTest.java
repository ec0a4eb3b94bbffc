package io.distkit.id.backends.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The id contract on {@link JdbcSegmentAllocator} and H2 in memory. */
class H2SegmentContractTest extends JdbcSegmentContractSupport {

    @RegisterExtension
    static final H2Pool h2 = new H2Pool();

    @Override
    HikariDataSource pool() {
        return h2.pool();
    }
}
