package io.distkit.id.backends.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.testkit.server.H2Database;
import io.distkit.testkit.server.Pools;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/** An in-memory H2 database and a pool on it for one test class: {@code @RegisterExtension static H2Pool h2 = new H2Pool();}. */
final class H2Pool implements BeforeAllCallback, AfterAllCallback {

    private @Nullable H2Database database;
    private @Nullable HikariDataSource pool;
    /** The class that registered the extension: its @Nested classes call beforeAll and afterAll too, and share it. */
    private @Nullable Class<?> owner;

    @Override
    public void beforeAll(ExtensionContext context) {
        if (owner != null) {
            return; // a nested class of the owner
        }
        owner = context.getRequiredTestClass();
        database = H2Database.builder().build();
        database.start();
        pool = Pools.hikari(database);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (context.getRequiredTestClass() != owner) {
            return;
        }
        owner = null;
        try {
            if (pool != null) {
                pool.close();
            }
        } finally {
            if (database != null) {
                database.close();
            }
        }
    }

    HikariDataSource pool() {
        return Objects.requireNonNull(pool, "the H2 pool exists from beforeAll on");
    }
}
