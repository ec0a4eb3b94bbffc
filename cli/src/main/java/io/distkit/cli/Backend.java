package io.distkit.cli;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
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
 * a warning, so that it cannot replace a command's result.
 */
final class Backend implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Backend.class);

    /** Connections of one pool: two lock clients of 4 statements each, the worker-id and segment stores. */
    private static final int POOL_SIZE = 12;

    private final String description;
    private final @Nullable String uri;
    private final @Nullable HikariDataSource pool;
    private final @Nullable Path deleteOnClose;
    private final Deque<AutoCloseable> opened = new ArrayDeque<>();
    private @Nullable LockClient spare;

    private Backend(String description, @Nullable String uri, @Nullable HikariDataSource pool,
            @Nullable Path deleteOnClose) {
        this.description = description;
        this.uri = uri;
        this.pool = pool;
        this.deleteOnClose = deleteOnClose;
    }

    /**
     * Opens the backend named by {@code uri}. For a lock backend other than a database this connects
     * a first client at once, so that a bad URI is reported here.
     *
     * @throws IllegalArgumentException if the URI has no scheme, no backend handles it, or it is
     *     malformed for its backend: the message says which
     * @throws io.distkit.lock.LockBackendException if the backend cannot be reached
     */
    static Backend open(String uri) {
        String scheme = scheme(uri);
        if (scheme.equals("jdbc")) {
            return new Backend(redact(uri), null, pool(uri), null);
        }
        Backend backend = new Backend(redact(uri), uri, null, null);
        backend.spare = LockClients.connect(uri);
        return backend;
    }

    /** A new H2 database in a directory of its own under the temp dir, deleted again at {@link #close()}. */
    static Backend embeddedH2() {
        Path dir;
        try {
            dir = Files.createTempDirectory("distkit-demo-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a directory for the demo database under "
                    + System.getProperty("java.io.tmpdir") + ": " + e.getMessage(), e);
        }
        Path file = dir.resolve("demo");
        String url = "jdbc:h2:file:" + file.toAbsolutePath();
        try {
            return new Backend("embedded H2 database " + file + ".mv.db", null, pool(url), dir);
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
     * A new lock client, closed with this backend.
     *
     * @throws io.distkit.lock.LockBackendException if the backend cannot be reached
     */
    LockClient newLockClient() {
        LockClient client;
        if (spare != null) {
            client = spare;
            spare = null;
        } else if (pool != null) {
            client = JdbcLockClient.builder(pool).createTableIfMissing().build();
        } else {
            client = LockClients.connect(java.util.Objects.requireNonNull(uri, "uri"));
        }
        return register(client);
    }

    /** Closes {@code resource} with this backend, before the pool, in reverse order of registration. */
    <T extends AutoCloseable> T register(T resource) {
        opened.push(resource);
        return resource;
    }

    @Override
    public void close() {
        if (spare != null) {
            opened.push(spare);
            spare = null;
        }
        while (!opened.isEmpty()) {
            AutoCloseable resource = opened.pop();
            try {
                resource.close();
            } catch (Exception e) {
                LOG.warn("closing {} failed: {}", resource, DistkitCommand.describe(e));
            }
        }
        if (pool != null) {
            pool.close();
        }
        if (deleteOnClose != null) {
            deleteTree(deleteOnClose);
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

    private static HikariDataSource pool(String url) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setPoolName("distkit-cli");
        config.setMaximumPoolSize(POOL_SIZE);
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
