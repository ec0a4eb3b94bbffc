package io.distkit.id.backends.jdbc;

import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.backends.SnowflakeOnAssignerContract;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The id contract for snowflake generators leasing worker ids from {@link JdbcWorkerIdAssigner} on H2. */
class H2SnowflakeContractTest extends SnowflakeOnAssignerContract {

    @RegisterExtension
    static final H2Pool h2 = new H2Pool();

    @Override
    protected WorkerIdAssigner newAssigner() {
        return JdbcWorkerIdAssigner.builder(h2.pool()).createTableIfMissing().build();
    }
}
