package io.distkit.id.backends.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.IdStore;
import io.distkit.id.spi.IdStoreProvider;
import io.distkit.jdbc.internal.Database;
import io.distkit.jdbc.internal.UrlPool;
import java.net.URI;
import java.util.Objects;
import java.util.Set;

/**
 * Makes {@code jdbc:} URLs open a {@link JdbcIdStore} through {@link io.distkit.id.IdStores#connect}, e.g.
 * {@code jdbc:postgresql://db:5432/app?user=app&password=secret}: on a small HikariCP pool of its own, closed with
 * the store. The database's driver and HikariCP must be on the class path; or pass your own pool to {@link
 * JdbcIdStore#of}. Registered in {@code META-INF/services/io.distkit.id.spi.IdStoreProvider}.
 */
public final class JdbcIdStoreProvider implements IdStoreProvider {

    /** For {@link java.util.ServiceLoader}. */
    public JdbcIdStoreProvider() {}

    @Override
    public Set<String> schemes() {
        return Set.of("jdbc");
    }

    @Override
    public IdStore connect(URI uri) {
        Objects.requireNonNull(uri, "uri");
        if (!UrlPool.available()) {
            throw new IllegalStateException("opening ids on a jdbc: URL needs HikariCP on the class path"
                    + " (com.zaxxer:HikariCP); or pass your own DataSource to JdbcIdStore.of(dataSource)");
        }
        return Pooled.open(uri.toString());
    }

    /** Kept apart so that the provider loads without HikariCP. */
    private static final class Pooled {
        static IdStore open(String url) {
            // the worker-id assigner's statement threads and a caller or two
            HikariDataSource pool = UrlPool.open(url, "distkit-jdbc-ids", 5,
                    (message, cause) -> new IdSourceUnavailableException(Database.shortUrl(url), message, cause));
            return JdbcIdStore.owning(pool, pool);
        }
    }
}
