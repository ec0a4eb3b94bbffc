package io.distkit.testkit.server;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.mariadb.jdbc.MariaDbDataSource;

/**
 * A private MariaDB server: {@code mariadb-install-db} into a temp directory, then {@code mariadbd}
 * on a free loopback port with its socket, pid file and temp files in that directory, and no
 * {@code my.cnf} read from anywhere ({@code --no-defaults}). InnoDB flushes its log at every commit
 * ({@code innodb_flush_log_at_trx_commit=1}, set explicitly), so an acknowledged commit survives
 * {@link #kill()}. Start-up is kept short: a small buffer pool and redo log, no performance schema,
 * no name resolution, no buffer-pool dump.
 *
 * <pre>{@code
 * @RegisterExtension static MariaDbServer db = MariaDbServer.builder().build();
 * ... db.dataSource() ... db.kill(); db.restart(); db.pause(); db.resume();
 * }</pre>
 *
 * <p>The test user ({@code distkit}/{@code distkit} by default, allowed from any host, with all
 * privileges on its database) is created on the first start by an {@code --init-file}, which the
 * server runs with the grant tables in force, before it serves its first client. The grant tables
 * stay on: a fixture that skipped them would hide every privilege a backend forgot it needs. As
 * root, {@code mariadbd} runs with {@code --user=root}, which it accepts.
 *
 * <p>{@code mariadbd} is one process with many threads, so the base class's signals (SIGKILL,
 * SIGSTOP, SIGCONT) reach the whole server; after {@link #kill()} InnoDB recovers from its redo log
 * on the next start. When the binary is missing and a Docker engine answers, a Testcontainers
 * container of {@value #CONTAINER_IMAGE} is used instead and every fault throws
 * {@link UnsupportedOperationException}.
 */
public final class MariaDbServer extends LocalServer implements JdbcServer {

    /** The {@code mariadbd} binary. */
    public static final String BIN_ENV = "DISTKIT_MARIADB_BIN";
    /** The {@code mariadb-install-db} script, when it is neither beside the binary nor on PATH. */
    public static final String INSTALL_DB_ENV = "DISTKIT_MARIADB_INSTALL_DB_BIN";
    public static final String DEFAULT_USER = "distkit";
    public static final String DEFAULT_PASSWORD = "distkit";
    public static final String DEFAULT_DATABASE = "distkit";
    /** The image used by the Testcontainers fallback: the version the Debian machines have. */
    public static final String CONTAINER_IMAGE = "mariadb:10.11";

    private static final Pattern IDENTIFIER = Pattern.compile("[a-z_][a-z0-9_]{0,63}");
    // both install-db and the server get these: a redo log size that differs between them makes
    // the server rebuild the log at every first start
    private static final List<String> SMALL_INNODB = List.of("--innodb-buffer-pool-size=16M", "--innodb-log-file-size=16M");

    private final Path dataDir;
    private final int port;
    private final String user;
    private final String password;
    private final String database;
    private final List<String> extraArgs;
    private final boolean asRoot = Servers.runningAsRoot();
    private @Nullable Path binary;
    private @Nullable Path installDb;
    private boolean userCreated;

    private MariaDbServer(Builder b, Path dir) {
        super("mariadbd", dir, "mariadbd.log", b.fakeTime);
        this.dataDir = dir.resolve("data");
        this.port = Servers.freePort();
        this.user = b.user;
        this.password = b.password;
        this.database = b.database;
        this.extraArgs = List.copyOf(b.extraArgs);
    }

    public static Builder builder() {
        return new Builder();
    }

    // ---------------------------------------------------------------- lifecycle

    /**
     * Finds the binaries, or starts the container when they are missing and Docker answers; on the
     * first start runs {@code mariadb-install-db}. The server itself creates the test user and
     * database at its first start (the init file), and the start counts only once that user can connect.
     */
    @Override
    boolean prepareStart() {
        if (binary == null) {
            Optional<Path> found = Servers.findBinary("mariadbd", BIN_ENV);
            if (found.isEmpty() && ContainerFallback.dockerAvailable()) {
                useContainer(ContainerFallback.start(CONTAINER_IMAGE, 3306, Map.of(
                                "MARIADB_USER", user,
                                "MARIADB_PASSWORD", password,
                                "MARIADB_DATABASE", database,
                                "MARIADB_RANDOM_ROOT_PASSWORD", "yes"),
                        ".*ready for connections.*\\s"));
                return false;
            }
            Path mariadbd = Servers.requireBinary("mariadbd", BIN_ENV, "mariadb-server");
            Path binDir = mariadbd.toAbsolutePath().getParent();
            installDb = Servers.requireBinary("mariadb-install-db", INSTALL_DB_ENV, "mariadb-server",
                    binDir, binDir.resolveSibling("bin"), binDir.resolveSibling("scripts"));
            binary = mariadbd;
        }
        if (!Files.isDirectory(dataDir.resolve("mysql"))) {
            installDb();
        }
        return true;
    }

    @Override
    void afterStart() {
        userCreated = true; // by the init file: later starts need not pass it
    }

    @Override
    protected List<String> command() {
        List<String> command = new ArrayList<>(List.of(binary.toString(),
                "--no-defaults", // must come first; a distribution's my.cnf would bind 3306 and log elsewhere
                "--datadir=" + dataDir,
                "--port=" + port,
                "--bind-address=127.0.0.1",
                "--socket=" + dir().resolve("mariadbd.sock"),
                "--pid-file=" + dir().resolve("mariadbd.pid"),
                "--tmpdir=" + dir(),
                "--skip-name-resolve",
                "--performance-schema=OFF",
                "--innodb-flush-log-at-trx-commit=1",
                "--innodb-buffer-pool-load-at-startup=OFF",
                "--innodb-buffer-pool-dump-at-shutdown=OFF",
                "--character-set-server=utf8mb4"));
        command.addAll(SMALL_INNODB);
        if (asRoot) {
            command.add("--user=root");
        }
        if (!userCreated) {
            command.add("--init-file=" + dir().resolve("create-user.sql"));
        }
        command.addAll(extraArgs);
        return command;
    }

    /**
     * Waits until the test user can run a query (a refused connection, or InnoDB still recovering:
     * not yet). As the test user: it exists once the init file has run, and it is what the tests need.
     */
    @Override
    protected void awaitReady(Duration timeout) throws Exception {
        pollUntilReady(timeout, () -> {
            try (Connection c = connection(timeouts(1000, 5000)); Statement s = c.createStatement()) {
                s.execute("SELECT 1");
                return true;
            }
        });
    }

    @Override
    @Nullable String noProcessReason() {
        return container() == null ? null : "MariaDB at " + jdbcUrl() + " is a Testcontainers container, started because"
                + " mariadbd is missing; install mariadb-server to inject faults";
    }

    // ---------------------------------------------------------------- faults

    /**
     * Shifts the server's wall clock ({@code NOW()}, {@code UNIX_TIMESTAMP()}); needs {@link Builder#fakeTime()}.
     *
     * @throws IllegalStateException if built without fakeTime() or not started
     * @throws UnsupportedOperationException for a container
     */
    public synchronized void shiftClock(Duration offset) {
        shiftFakeClock(offset);
    }

    // ---------------------------------------------------------------- connecting

    /** {@code jdbc:mariadb://127.0.0.1:<port>/<database>}, or the container's. */
    public synchronized String jdbcUrl() {
        return "jdbc:mariadb://" + host() + ":" + port() + "/" + database;
    }

    /** Where a TCP proxy for this server should point. */
    public synchronized String host() {
        return container() != null ? container().host() : "127.0.0.1";
    }

    public synchronized int port() {
        return container() != null ? container().port() : port;
    }

    /** The test user: all privileges on {@link #database()}, none elsewhere. */
    public String user() {
        return user;
    }

    public String password() {
        return password;
    }

    public String database() {
        return database;
    }

    /** A new, unpooled data source for the test user on {@link #jdbcUrl()}. */
    public DataSource dataSource() {
        try {
            MariaDbDataSource dataSource = new MariaDbDataSource(jdbcUrl());
            dataSource.setUser(user);
            dataSource.setPassword(password);
            return dataSource;
        } catch (SQLException e) {
            throw new IllegalStateException("bad data source settings for " + jdbcUrl(), e);
        }
    }

    /** A new connection as the test user. */
    public Connection connection() throws SQLException {
        return connection(new Properties());
    }

    /**
     * A new connection as the test user with further MariaDB Connector/J properties, e.g.
     * {@code socketTimeout} and {@code connectTimeout} (milliseconds) for talking to a paused server.
     */
    public Connection connection(Properties properties) throws SQLException {
        Properties all = new Properties();
        all.putAll(properties);
        all.setProperty("user", user);
        all.setProperty("password", password);
        return DriverManager.getConnection(jdbcUrl(), all);
    }

    /** The data directory (what survives {@link #restart()}). */
    public Path dataDir() {
        return dataDir;
    }

    @Override
    public String toString() {
        return "mariadbd " + (container() != null ? jdbcUrl() + " (Testcontainers)" : "127.0.0.1:" + port + " (" + dataDir + ")");
    }

    // ---------------------------------------------------------------- internals

    private static Properties timeouts(int connectMillis, int socketMillis) {
        Properties properties = new Properties();
        properties.setProperty("connectTimeout", Integer.toString(connectMillis));
        properties.setProperty("socketTimeout", Integer.toString(socketMillis));
        return properties;
    }

    private void installDb() {
        List<String> command;
        try {
            Files.writeString(dir().resolve("create-user.sql"), createUserSql(), StandardCharsets.UTF_8);
            command = new ArrayList<>(List.of(installDb.toString(), "--no-defaults",
                    // the install prefix, so that a tarball's server finds its own share files
                    "--basedir=" + binary.toRealPath().getParent().getParent(),
                    "--datadir=" + dataDir,
                    "--skip-name-resolve", "--skip-test-db", "--auth-root-authentication-method=socket"));
        } catch (IOException e) {
            throw new UncheckedIOException("could not prepare mariadb-install-db in " + dataDir, e);
        }
        command.addAll(SMALL_INNODB);
        if (asRoot) {
            command.add("--user=root");
        }
        runSetupProgram("mariadb-install-db", command);
    }

    /** Idempotent, so that a first start that failed after running it can simply be repeated. */
    private String createUserSql() {
        String literal = "'" + password.replace("\\", "\\\\").replace("'", "''") + "'";
        return "CREATE USER IF NOT EXISTS '" + user + "'@'%' IDENTIFIED BY " + literal + ";\n"
                + "CREATE DATABASE IF NOT EXISTS `" + database + "`;\n"
                + "GRANT ALL PRIVILEGES ON `" + database + "`.* TO '" + user + "'@'%';\n";
    }

    /** Configures a {@link MariaDbServer}. */
    public static final class Builder {
        private String user = DEFAULT_USER;
        private String password = DEFAULT_PASSWORD;
        private String database = DEFAULT_DATABASE;
        private boolean fakeTime;
        private final List<String> extraArgs = new ArrayList<>();

        private Builder() {}

        /** The test user's name: a lower-case identifier. */
        public Builder user(String user) {
            this.user = identifier(user, "user");
            return this;
        }

        public Builder password(String password) {
            this.password = Servers.checkPassword(password);
            return this;
        }

        /** The test database's name: a lower-case identifier. */
        public Builder database(String database) {
            this.database = identifier(database, "database");
            return this;
        }

        /** Runs the server with the clock-shift preload library so that {@link MariaDbServer#shiftClock} works. */
        public Builder fakeTime() {
            this.fakeTime = true;
            return this;
        }

        /** Further {@code --name=value} options for mariadbd, after (and so overriding) the fixture's own. */
        public Builder args(String... args) {
            for (String arg : args) {
                Objects.requireNonNull(arg, "args element");
                if (!arg.startsWith("--")) {
                    throw new IllegalArgumentException("mariadbd options look like --name=value, was '" + arg + "'");
                }
                extraArgs.add(arg);
            }
            return this;
        }

        /** The server, not yet started (the JUnit extension or {@link MariaDbServer#start()} starts it). */
        public MariaDbServer build() {
            return new MariaDbServer(this, Servers.tempDir("mariadb"));
        }

        private static String identifier(String value, String what) {
            Objects.requireNonNull(value, what);
            if (!IDENTIFIER.matcher(value).matches()) {
                throw new IllegalArgumentException(what + " must be a lower-case identifier ([a-z_][a-z0-9_]*, at most 64),"
                        + " was '" + value + "'");
            }
            return value;
        }
    }
}
