package io.distkit.testkit.server;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import javax.sql.DataSource;
import org.h2.jdbcx.JdbcDataSource;
import org.jspecify.annotations.Nullable;

/**
 * A private in-memory H2 database, for the JDBC backends' fast tests: no process, no faults, gone
 * at {@link #close()}. Each instance has a name of its own, so instances never see each other's
 * tables, also within one JVM; {@code DB_CLOSE_DELAY=-1} keeps the database alive between
 * connections (without it H2 drops an in-memory database when its last connection closes).
 *
 * <pre>{@code
 * @RegisterExtension static H2Database h2 = H2Database.builder().mode(H2Database.Mode.POSTGRESQL).build();
 * ... h2.dataSource() ...
 * }</pre>
 *
 * <p>A compatibility mode changes H2's dialect, not its engine: locking, isolation and timing are
 * H2's own, so a backend that passes on H2 still has to pass on the real server.
 */
public final class H2Database implements TestServer, JdbcServer {

    /** H2's compatibility modes, with the URL settings H2's documentation pairs with each. */
    public enum Mode {
        /** H2's own dialect. */
        REGULAR(""),
        /** {@code MODE=PostgreSQL}: lower-case identifiers, NULLs sorted high. */
        POSTGRESQL(";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH"),
        /** {@code MODE=MySQL}: lower-case identifiers. */
        MYSQL(";MODE=MySQL;DATABASE_TO_LOWER=TRUE"),
        /** {@code MODE=MariaDB}: lower-case identifiers. */
        MARIADB(";MODE=MariaDB;DATABASE_TO_LOWER=TRUE");

        private final String urlSettings;

        Mode(String urlSettings) {
            this.urlSettings = urlSettings;
        }
    }

    public static final String DEFAULT_USER = "distkit";
    public static final String DEFAULT_PASSWORD = "distkit";

    private static final AtomicLong SEQUENCE = new AtomicLong();

    private final String name;
    private final Mode mode;
    private final String url;
    private final String user;
    private final String password;
    // the first connection creates the database with these credentials; it is kept open only to
    // shut the database down at close()
    private @Nullable Connection keeper;
    private boolean started;

    private H2Database(Builder b) {
        // a counter for readable logs, a random part so that two class loaders never collide
        this.name = "distkit_" + SEQUENCE.incrementAndGet() + "_" + UUID.randomUUID().toString().substring(0, 8);
        this.mode = b.mode;
        this.user = b.user;
        this.password = b.password;
        StringBuilder settings = new StringBuilder(mode.urlSettings);
        b.settings.forEach((key, value) -> settings.append(';').append(key).append('=').append(value));
        this.url = "jdbc:h2:mem:" + name + ";DB_CLOSE_DELAY=-1" + settings;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Creates the database. Idempotent. */
    @Override
    public synchronized void start() {
        if (started) {
            return;
        }
        try {
            keeper = DriverManager.getConnection(url, user, password);
        } catch (SQLException e) {
            throw new IllegalStateException("could not create H2 database " + url, e);
        }
        started = true;
    }

    @Override
    public synchronized boolean isStarted() {
        return started;
    }

    /** Nothing to heal: an in-memory database has no faults. */
    @Override
    public void heal() {}

    /**
     * Drops the database ({@code SHUTDOWN}): its tables are gone, and open connections to it fail.
     * A later connection to {@link #jdbcUrl()} would create a new, empty database. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (!started) {
            return;
        }
        started = false;
        try (Statement s = keeper.createStatement()) {
            s.execute("SHUTDOWN");
        } catch (SQLException e) {
            throw new IllegalStateException("could not drop H2 database " + name, e);
        } finally {
            try {
                keeper.close();
            } catch (SQLException ignored) {
                // SHUTDOWN has already closed it
            }
        }
    }

    /** {@code jdbc:h2:mem:<unique name>;DB_CLOSE_DELAY=-1} plus the mode's and the builder's settings. */
    public String jdbcUrl() {
        return url;
    }

    public String user() {
        return user;
    }

    public String password() {
        return password;
    }

    /** The unique database name in {@link #jdbcUrl()}. */
    public String name() {
        return name;
    }

    public Mode mode() {
        return mode;
    }

    /** A new data source for this database. */
    public DataSource dataSource() {
        JdbcDataSource dataSource = new JdbcDataSource();
        dataSource.setURL(url);
        dataSource.setUser(user);
        dataSource.setPassword(password);
        return dataSource;
    }

    /** A new connection to this database. */
    public Connection connection() throws SQLException {
        return DriverManager.getConnection(url, user, password);
    }

    @Override
    public String toString() {
        return "H2 " + url;
    }

    /** Configures an {@link H2Database}. */
    public static final class Builder {
        private Mode mode = Mode.REGULAR;
        private String user = DEFAULT_USER;
        private String password = DEFAULT_PASSWORD;
        private final Map<String, String> settings = new LinkedHashMap<>();

        private Builder() {}

        public Builder mode(Mode mode) {
            this.mode = Objects.requireNonNull(mode, "mode");
            return this;
        }

        public Builder user(String user) {
            Objects.requireNonNull(user, "user");
            if (user.isBlank()) {
                throw new IllegalArgumentException("user must not be blank");
            }
            this.user = user;
            return this;
        }

        public Builder password(String password) {
            this.password = Objects.requireNonNull(password, "password");
            return this;
        }

        /** A further URL setting, e.g. {@code setting("LOCK_TIMEOUT", "10000")}; after, and so overriding, the mode's. */
        public Builder setting(String name, String value) {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(value, "value");
            if (!name.matches("[A-Za-z_]+")) {
                throw new IllegalArgumentException("setting name must be an H2 setting name, was '" + name + "'");
            }
            if (value.contains(";")) {
                throw new IllegalArgumentException("setting value must not contain ';', was '" + value + "'");
            }
            settings.put(name, value);
            return this;
        }

        /** The database, not yet created (the JUnit extension or {@link H2Database#start()} creates it). */
        public H2Database build() {
            return new H2Database(this);
        }
    }
}
