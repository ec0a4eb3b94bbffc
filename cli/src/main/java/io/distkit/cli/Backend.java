package io.distkit.cli;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.IdStore;
import io.distkit.id.IdStores;
import io.distkit.id.backends.jdbc.JdbcIdStore;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockClients;
import io.distkit.lock.jdbc.JdbcLockClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.Deque;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The backend a command runs on, opened from its {@code --backend} URI: lock clients on demand and,
 * when the backend is a database, the data source the id sources use. {@code jdbc:} URLs get one
 * HikariCP pool shared by everything the command opens, and distkit's tables are created when
 * missing (the library leaves that to migrations; a command line tool should just work). Any other
 * scheme goes to {@link LockClients#connect}, which finds the backend module on the class path.
 *
 * <p>Closing closes every client handed out (releasing their locks), then the pool, then deletes
 * the embedded database's files if this backend made them. It never throws: what fails is logged as
 * a warning, so that it cannot replace a command's result. It may be called from a shutdown hook
 * while the command's thread closes too: the first call does the work, a second waits for it.
 */
final class Backend implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Backend.class);

    /** Statement threads of each JDBC lock client, each borrowing a connection while its statement runs. */
    static final int LOCK_CLIENT_STATEMENTS = 4;
    /** Connections the id stores may hold at once: the worker-id lease and its renewal, segment fetches. */
    static final int ID_STORE_CONNECTIONS = 4;

    private final String description;
    private final @Nullable String uri;
    private final @Nullable HikariDataSource pool;
    private final @Nullable Path deleteOnClose;
    private final Deque<AutoCloseable> opened = new ArrayDeque<>();
    private @Nullable LockClient spare;
    private boolean closed; // guarded by this

    private Backend(String description, @Nullable String uri, @Nullable HikariDataSource pool,
            @Nullable Path deleteOnClose) {
        this.description = description;
        this.uri = uri;
        this.pool = pool;
        this.deleteOnClose = deleteOnClose;
    }

    /**
     * Connections a {@code jdbc:} backend's pool needs so that nobody waits for one: the JDBC lock
     * client runs a waiting caller's first attempt and its release on the caller's thread, and its
     * other statements on {@value #LOCK_CLIENT_STATEMENTS} threads of its own; the id stores take up
     * to {@value #ID_STORE_CONNECTIONS} more.
     *
     * @param callers threads calling the lock clients (the demo's workers; 1 for a command)
     * @param lockClients lock clients the command opens
     */
    static int poolSize(int callers, int lockClients) {
        return callers + lockClients * LOCK_CLIENT_STATEMENTS + ID_STORE_CONNECTIONS;
    }

    /**
     * Opens the backend named by {@code uri}. For a lock backend other than a database this connects
     * a first client at once, so that a bad URI is reported here.
     *
     * @param poolSize connections of the pool if it is a database: {@link #poolSize}
     * @throws IllegalArgumentException if the URI has no scheme, no backend handles it, or it is
     *     malformed for its backend: the message says which
     * @throws io.distkit.lock.LockBackendException if the backend cannot be reached
     */
    static Backend open(String uri, int poolSize) {
        String scheme = scheme(uri);
        if (scheme.equals("jdbc")) {
            return new Backend(redact(uri), null, pool(uri, poolSize), null);
        }
        Backend backend = new Backend(redact(uri), uri, null, null);
        backend.spare = LockClients.connect(uri);
        return backend;
    }

    /**
     * A new H2 database in a directory of its own under the temp dir, deleted again at {@link #close()}.
     *
     * @param poolSize connections of its pool: {@link #poolSize}
     */
    static Backend embeddedH2(int poolSize) {
        Path dir;
        try {
            dir = Files.createTempDirectory("distkit-demo-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a directory for the demo database under "
                    + System.getProperty("java.io.tmpdir") + ": " + e.getMessage(), e);
        }
        Path file = dir.resolve("demo");
        // closed with the pool, not by H2's own shutdown hook: at Ctrl-C, ours closes the pool and deletes the files
        String url = "jdbc:h2:file:" + file.toAbsolutePath() + ";DB_CLOSE_ON_EXIT=FALSE";
        try {
            return new Backend("embedded H2 database " + file + ".mv.db", null, pool(url, poolSize), dir);
        } catch (RuntimeException e) {
            deleteTree(dir);
            throw e;
        }
    }

    /** What this backend is, for people: the URI without its password, or the embedded database's file. */
    String description() {
        return description;
    }

    /** Whether the backend is a database, whose data source the id sources can share. */
    Optional<DataSource> dataSource() {
        return Optional.ofNullable(pool);
    }

    /**
     * The backend as an id store, closed with this backend: the database's on its pool, any other through
     * {@link IdStores#connect}.
     *
     * @throws IllegalArgumentException if no id store handles the backend's scheme (Redlock has none)
     * @throws io.distkit.id.IdSourceUnavailableException if the store cannot be reached, or refuses to serve
     *     ids (a Redis that could rewind)
     */
    IdStore openIdStore() {
        IdStore store = pool != null ? JdbcIdStore.of(pool) : IdStores.connect(java.util.Objects.requireNonNull(uri, "uri"));
        return register(store);
    }

    /**
     * A new lock client, closed with this backend.
     *
     * @throws io.distkit.lock.LockBackendException if the backend cannot be reached
     * @throws IllegalStateException if the backend is closed
     */
    synchronized LockClient newLockClient() {
        if (closed) {
            throw new IllegalStateException("the backend is closed: distkit is stopping");
        }
        LockClient client;
        if (spare != null) {
            client = spare;
            spare = null;
        } else if (pool != null) {
            client = JdbcLockClient.builder(pool)
                    .maxConcurrentStatements(LOCK_CLIENT_STATEMENTS)
                    .createTableIfMissing()
                    .build();
        } else {
            client = LockClients.connect(java.util.Objects.requireNonNull(uri, "uri"));
        }
        return register(client);
    }

    /**
     * Closes {@code resource} with this backend, before the pool, in reverse order of registration.
     *
     * @throws IllegalStateException if the backend is closed (distkit is stopping); the resource is then closed
     */
    synchronized <T extends AutoCloseable> T register(T resource) {
        if (closed) {
            closeQuietly(resource);
            throw new IllegalStateException("the backend is closed: distkit is stopping");
        }
        opened.push(resource);
        return resource;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (spare != null) {
            opened.push(spare);
            spare = null;
        }
        while (!opened.isEmpty()) {
            closeQuietly(opened.pop());
        }
        if (pool != null) {
            pool.close();
        }
        if (deleteOnClose != null) {
            deleteTree(deleteOnClose);
        }
    }

    private static void closeQuietly(AutoCloseable resource) {
        try {
            resource.close();
        } catch (Exception e) {
            LOG.warn("closing {} failed: {}", resource, DistkitCommand.describe(e));
        }
    }

    /** The scheme, lower case: {@code jdbc}, {@code redis}, ... */
    static String scheme(String uri) {
        int colon = uri.indexOf(':');
        if (colon <= 0 || !uri.substring(0, colon).matches("[A-Za-z][A-Za-z0-9+.-]*")) {
            throw new IllegalArgumentException("'" + uri + "' is not a backend URI; use e.g. redis://localhost:6379"
                    + " or jdbc:postgresql://localhost/app?user=app");
        }
        return uri.substring(0, colon).toLowerCase(Locale.ROOT);
    }

    /** The URI for messages: a password in the user info or a {@code password=} parameter is starred out. */
    static String redact(String uri) {
        return uri.replaceAll("(?i)(password=)[^&;]*", "$1***").replaceAll("(//[^/@:]*:)[^/@]*@", "$1***@");
    }

    private static HikariDataSource pool(String url, int poolSize) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setPoolName("distkit-cli");
        config.setMaximumPoolSize(poolSize);
        config.setMinimumIdle(1);
        config.setConnectionTimeout(5_000);
        config.setInitializationFailTimeout(-1); // the builders' first contact reports failures, in their words
        if (url.startsWith("jdbc:postgresql:")) {
            config.addDataSourceProperty("socketTimeout", "30"); // seconds: a silent server fails, not hangs
        } else if (url.startsWith("jdbc:mariadb:") || url.startsWith("jdbc:mysql:")) {
            config.addDataSourceProperty("socketTimeout", "30000"); // milliseconds
        }
        try {
            return new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("no JDBC driver for " + redact(url)
                    + " (distkit comes with H2, PostgreSQL and MariaDB/MySQL drivers)", e);
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | UncheckedIOException e) {
            // a temp dir left behind is no reason to fail a run that worked
        }
    }
}
