package io.distkit.lock.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.jdbc.internal.UrlPool;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.spi.LockClientProvider;
import java.net.URI;
import java.util.Objects;
import java.util.Set;

/**
 * Makes databases reachable through {@link io.distkit.lock.LockClients#connect(URI)} for {@code jdbc:}
 * URLs, e.g. {@code jdbc:postgresql://db:5432/app?user=app&password=secret}: a small HikariCP pool of
 * its own (closed with the client; a 30 s socket timeout unless the URL sets one) and the defaults of
 * {@link JdbcLockClient#builder}; the table
 * {@value JdbcLockClient#DEFAULT_TABLE} must exist. The driver of the database must be on the class path,
 * and so must HikariCP (an optional dependency of this module). Registered in
 * {@code META-INF/services/io.distkit.lock.spi.LockClientProvider}; not for direct use.
 */
public final class JdbcLockClientProvider implements LockClientProvider {

    /** For {@link java.util.ServiceLoader}. */
    public JdbcLockClientProvider() {}

    @Override
    public Set<String> schemes() {
        return Set.of("jdbc");
    }

    /**
     * @throws IllegalStateException if HikariCP, or a JDBC driver for the URL, is not on the class path
     * @throws io.distkit.lock.LockBackendException if the database cannot be reached or the table is missing
     */
    @Override
    public LockClient connect(URI uri) {
        Objects.requireNonNull(uri, "uri");
        if (!UrlPool.available()) {
            throw new IllegalStateException("connecting to a jdbc: URL needs HikariCP on the class path"
                    + " (com.zaxxer:HikariCP); or build the client from your own DataSource with"
                    + " JdbcLockClient.builder(dataSource)");
        }
        return Pooled.connect(uri.toString());
    }

    /** Kept apart so that the provider loads without HikariCP. */
    private static final class Pooled {
        static LockClient connect(String url) {
            // the client's 4 statement threads, plus one
            HikariDataSource pool = UrlPool.open(url, "distkit-jdbc-locks", 5,
                    (message, cause) -> new LockBackendException(null, message, cause));
            try {
                return JdbcLockClient.builder(pool, pool).build();
            } catch (RuntimeException | Error e) {
                pool.close();
                throw e;
            }
        }
    }
}
