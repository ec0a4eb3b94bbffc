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
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.mariadb.jdbc.MariaDbDataSource;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.utility.DockerImageName;

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
 * SIGSTOP, SIGCONT) reach the whole server. When the binary is missing and a Docker engine
 * answers, a Testcontainers container of {@value #CONTAINER_IMAGE} is used instead and every
 * fault throws {@link UnsupportedOperationException}.
 */
public final class MariaDbServer extends ServerProcess implements TestServer {

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

    private final Path dir;
    private final Path dataDir;
    private final int port;
    private final String user;
    private final String password;
    private final String database;
    private final List<String> extraArgs;
    private final boolean wantsFakeTime;
    private final boolean asRoot = runningAsRoot();
    private @Nullable Path binary;
    private @Nullable Path installDb;
    private @Nullable FakeTime fakeTime;
    private @Nullable GenericContainer<?> container;
    private boolean userCreated;
    private boolean started;

    private MariaDbServer(Builder b, Path dir) {
        super("mariadbd", dir.resolve("mariadbd.log"));
        this.dir = dir;
        this.dataDir = dir.resolve("data");
        this.port = Servers.freePort();
        this.user = b.user;
        this.password = b.password;
        this.database = b.database;
        this.extraArgs = List.copyOf(b.extraArgs);
        this.wantsFakeTime = b.fakeTime;
    }

    public static Builder builder() {
        return new Builder();
    }

    // ---------------------------------------------------------------- lifecycle

    /**
     * Starts the server and waits until the test user can connect; on the first start also runs
     * {@code mariadb-install-db} and creates the test user and database. Idempotent.
     */
    @Override
    public synchronized void start() {
        if (container != null) {
            started = true;
            return;
        }
        if (binary == null) {
            Optional<Path> found = Servers.findBinary("mariadbd", BIN_ENV);
            if (found.isEmpty() && dockerAvailable()) {
                startContainer();
                started = true;
                return;
            }
            Path mariadbd = Servers.requireBinary("mariadbd", BIN_ENV, "mariadb-server");
            Path binDir = mariadbd.toAbsolutePath().getParent();
            installDb = Servers.requireBinary("mariadb-install-db", INSTALL_DB_ENV, "mariadb-server",
                    binDir, binDir.resolveSibling("bin"), binDir.resolveSibling("scripts"));
            binary = mariadbd;
        }
        if (wantsFakeTime && fakeTime == null) {
            fakeTime = FakeTime.in(dir);
        }
        if (!Files.isDirectory(dataDir.resolve("mysql"))) {
            installDb();
        }
        super.start();
        userCreated = true;
        started = true;
    }

    @Override
    protected List<String> command() {
        List<String> command = new ArrayList<>(List.of(binary.toString(),
                "--no-defaults", // must come first; a distribution's my.cnf would bind 3306 and log elsewhere
                "--datadir=" + dataDir,
                "--port=" + port,
                "--bind-address=127.0.0.1",
                "--socket=" + dir.resolve("mariadbd.sock"),
                "--pid-file=" + dir.resolve("mariadbd.pid"),
                "--tmpdir=" + dir,
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
            command.add("--init-file=" + dir.resolve("create-user.sql"));
        }
        command.addAll(extraArgs);
        return command;
    }

    @Override
    protected Map<String, String> environment() {
        return fakeTime == null ? Map.of() : fakeTime.environment();
    }

    @Override
    protected void awaitReady(Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        SQLException last = null;
        while (System.nanoTime() - deadline < 0) {
            if (!isRunning()) {
                throw new IllegalStateException("mariadbd exited");
            }
            // as the test user: it exists once the init file has run, and it is what the tests need
            try (Connection c = connection(timeouts(1000, 5000)); Statement s = c.createStatement()) {
                s.execute("SELECT 1");
                return;
            } catch (SQLException e) {
                last = e; // refused, or InnoDB still recovering: not yet
            }
            Thread.sleep(20); // polling a child process that has no readiness signal
        }
        throw new IllegalStateException("no connection" + (last == null ? "" : ": " + last.getMessage()));
    }

    /** Resumes a paused server, restarts a killed one, and puts its clock back. */
    @Override
    public synchronized void heal() {
        if (container != null) {
            return;
        }
        resumeIfPaused();
        if (!isRunning()) {
            start();
        }
        if (fakeTime != null) {
            fakeTime.shift(Duration.ZERO);
        }
    }

    @Override
    public synchronized boolean isStarted() {
        return started;
    }

    /** Stops the server (or the container) and removes the temp directory. */
    @Override
    public synchronized void close() {
        started = false;
        if (container != null) {
            container.stop();
            container = null;
        }
        stop();
        Servers.deleteRecursively(dir);
    }

    // ---------------------------------------------------------------- faults

    /**
     * SIGKILL: InnoDB recovers from its redo log on the next start.
     *
     * @throws UnsupportedOperationException for a container
     */
    @Override
    public synchronized void kill() {
        requireOwnProcess("kill");
        super.kill();
    }

    /**
     * SIGSTOP to the whole server.
     *
     * @throws UnsupportedOperationException for a container
     */
    @Override
    public synchronized void pause() {
        requireOwnProcess("pause");
        super.pause();
    }

    /**
     * SIGCONT.
     *
     * @throws UnsupportedOperationException for a container
     */
    @Override
    public synchronized void resume() {
        requireOwnProcess("resume");
        super.resume();
    }

    /**
     * Stops (or finds dead) and starts on the same port with the same data.
     *
     * @throws UnsupportedOperationException for a container
     */
    @Override
    public synchronized void restart() {
        requireOwnProcess("restart");
        super.restart();
    }

    /**
     * The pid of {@code mariadbd}.
     *
     * @throws UnsupportedOperationException for a container
     */
    @Override
    public synchronized long pid() {
        requireOwnProcess("pid");
        return super.pid();
    }

    @Override
    public synchronized boolean isRunning() {
        return container != null ? container.isRunning() : super.isRunning();
    }

    /**
     * Shifts the server's wall clock ({@code NOW()}, {@code UNIX_TIMESTAMP()}); needs {@link Builder#fakeTime()}.
     *
     * @throws IllegalStateException if built without fakeTime() or not started
     * @throws UnsupportedOperationException for a container
     */
    public synchronized void shiftClock(Duration offset) {
        requireOwnProcess("shiftClock");
        if (fakeTime == null) {
            throw new IllegalStateException("build the server with fakeTime() and start it to shift its clock");
        }
        fakeTime.shift(Objects.requireNonNull(offset, "offset"));
    }

    // ---------------------------------------------------------------- connecting

    /** {@code jdbc:mariadb://127.0.0.1:<port>/<database>}, or the container's. */
    public synchronized String jdbcUrl() {
        return "jdbc:mariadb://" + host() + ":" + port() + "/" + database;
    }

    /** Where a TCP proxy for this server should point. */
    public synchronized String host() {
        return container != null ? container.getHost() : "127.0.0.1";
    }

    public synchronized int port() {
        return container != null ? container.getMappedPort(3306) : port;
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
        return "mariadbd " + (container != null ? jdbcUrl() + " (Testcontainers)" : "127.0.0.1:" + port + " (" + dataDir + ")");
    }

    // ---------------------------------------------------------------- internals

    private void requireOwnProcess(String fault) {
        if (container != null) {
            throw new UnsupportedOperationException(fault + " is unsupported: MariaDB at " + jdbcUrl() + " is a Testcontainers"
                    + " container, started because mariadbd is missing; install mariadb-server to inject faults");
        }
    }

    private static Properties timeouts(int connectMillis, int socketMillis) {
        Properties properties = new Properties();
        properties.setProperty("connectTimeout", Integer.toString(connectMillis));
        properties.setProperty("socketTimeout", Integer.toString(socketMillis));
        return properties;
    }

    private void installDb() {
        try {
            Files.writeString(dir.resolve("create-user.sql"), createUserSql(), StandardCharsets.UTF_8);
            List<String> command = new ArrayList<>(List.of(installDb.toString(), "--no-defaults",
                    // the install prefix, so that a tarball's server finds its own share files
                    "--basedir=" + binary.toRealPath().getParent().getParent(),
                    "--datadir=" + dataDir,
                    "--skip-name-resolve", "--skip-test-db", "--auth-root-authentication-method=socket"));
            command.addAll(SMALL_INNODB);
            if (asRoot) {
                command.add("--user=root");
            }
            Process install = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile().toFile())).start();
            if (!install.waitFor(60, TimeUnit.SECONDS)) {
                install.destroyForcibly();
                throw new IllegalStateException("mariadb-install-db did not finish within 60 s; log " + logFile()
                        + ":\n" + logTail(30));
            }
            if (install.exitValue() != 0) {
                throw new IllegalStateException("mariadb-install-db failed (exit " + install.exitValue() + "): "
                        + String.join(" ", command) + "; log " + logFile() + ":\n" + logTail(30));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not run mariadb-install-db in " + dataDir, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running mariadb-install-db", e);
        }
    }

    /** Idempotent, so that a first start that failed after running it can simply be repeated. */
    private String createUserSql() {
        String literal = "'" + password.replace("\\", "\\\\").replace("'", "''") + "'";
        return "CREATE USER IF NOT EXISTS '" + user + "'@'%' IDENTIFIED BY " + literal + ";\n"
                + "CREATE DATABASE IF NOT EXISTS `" + database + "`;\n"
                + "GRANT ALL PRIVILEGES ON `" + database + "`.* TO '" + user + "'@'%';\n";
    }

    private static boolean runningAsRoot() {
        try {
            return Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "root".equals(System.getProperty("user.name"));
        }
    }

    private static boolean dockerAvailable() {
        try {
            return DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    private void startContainer() {
        GenericContainer<?> started = new GenericContainer<>(DockerImageName.parse(CONTAINER_IMAGE))
                .withEnv("MARIADB_USER", user)
                .withEnv("MARIADB_PASSWORD", password)
                .withEnv("MARIADB_DATABASE", database)
                .withEnv("MARIADB_RANDOM_ROOT_PASSWORD", "yes")
                .withExposedPorts(3306)
                // the entrypoint runs a temporary server (no networking) for initialisation first
                .waitingFor(Wait.forLogMessage(".*ready for connections.*\\s", 2).withStartupTimeout(Duration.ofMinutes(2)));
        started.start();
        container = started;
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
            Objects.requireNonNull(password, "password");
            if (password.isEmpty()) {
                throw new IllegalArgumentException("password must not be empty");
            }
            this.password = password;
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
