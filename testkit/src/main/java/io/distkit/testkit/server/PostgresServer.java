package io.distkit.testkit.server;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A private PostgreSQL cluster: {@code initdb} into a temp directory, then {@code postgres} on a free
 * loopback port with its unix socket in that directory. {@code fsync} and {@code synchronous_commit}
 * are on (and set explicitly), because the crash scenarios (F17, F22) rely on an acknowledged commit
 * surviving {@link #kill()}. Tests connect as a non-superuser ({@code distkit}/{@code distkit} by
 * default) that owns its database and may create others.
 *
 * <pre>{@code
 * @RegisterExtension static PostgresServer pg = PostgresServer.builder().fakeTime().build();
 * ... pg.dataSource() ... pg.kill(); pg.restart(); pg.pause(); pg.shiftClock(Duration.ofSeconds(60));
 * }</pre>
 *
 * <p>PostgreSQL refuses to run as root. When the JVM is root, {@code initdb} and {@code postgres}
 * run as the {@code postgres} OS user through {@code setpriv}, which {@code exec}s rather than
 * forking: the child process of this JVM <em>is</em> the postmaster, so {@link #pid()} is the
 * postmaster's pid and signals reach it directly ({@code runuser} would stay in between as a parent,
 * and turn a SIGTERM into a SIGKILL two seconds later).
 *
 * <p>Faults act on the whole server, not on the postmaster alone: every connection is served by a
 * child process of the postmaster, so {@link #pause()} stops the postmaster <em>and</em> its
 * children, and {@link #kill()} SIGKILLs them all (PostgreSQL's "immediate" crash: no shutdown
 * checkpoint, recovery from the WAL on the next start).
 *
 * <p>Where the server comes from, in order: the URL in {@value #URL_ENV} (an external database; no
 * process, so faults throw {@link UnsupportedOperationException}); the {@code postgres} binary from
 * {@value #BIN_ENV} (the binary or its {@code bin} directory), {@code PATH}, or the highest
 * {@code /usr/lib/postgresql/<version>/bin}; a Testcontainers container when the binary is missing
 * and a Docker engine answers (faults unsupported there too); otherwise the test fails or is skipped
 * as {@link Servers#unavailable} decides.
 */
public final class PostgresServer extends LocalServer implements JdbcServer {

    /** A JDBC URL of an external database to use instead of starting one. */
    public static final String URL_ENV = "DISTKIT_POSTGRES_URL";
    /** The {@code postgres} binary, or the {@code bin} directory holding it, {@code initdb} and friends. */
    public static final String BIN_ENV = "DISTKIT_POSTGRES_BIN";
    public static final String DEFAULT_USER = "distkit";
    public static final String DEFAULT_PASSWORD = "distkit";
    public static final String DEFAULT_DATABASE = "distkit";
    /** The image used by the Testcontainers fallback: the major version the Debian machines have. */
    public static final String CONTAINER_IMAGE = "postgres:15";

    private static final String OS_USER = "postgres";
    private static final String SUPERUSER = "postgres";
    private static final Pattern IDENTIFIER = Pattern.compile("[a-z_][a-z0-9_]{0,62}");
    private static final Duration ADMIN_SOCKET_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration CHILD_EXIT_TIMEOUT = Duration.ofSeconds(10);

    private final Path dataDir;
    private final int port;
    private final String user;
    private final String password;
    private final String database;
    private final Map<String, String> settings;
    private final @Nullable String externalUrl;
    // the bootstrap superuser only creates the test user; random, so no test can lean on it
    private final String superuserPassword = UUID.randomUUID().toString();
    private final boolean asPostgresUser = Servers.runningAsRoot();
    private @Nullable Path binDir;
    private @Nullable Path setpriv;
    private boolean userCreated;

    private PostgresServer(Builder b, Path dir) {
        super("postgres", dir, "postgres.log", b.fakeTime);
        this.dataDir = dir.resolve("data");
        this.port = Servers.freePort();
        this.user = b.user;
        this.password = b.password;
        this.database = b.database;
        this.settings = Map.copyOf(b.settings);
        this.externalUrl = b.externalUrl;
    }

    public static Builder builder() {
        return new Builder();
    }

    // ---------------------------------------------------------------- lifecycle

    /**
     * Finds the binaries, or starts the container when they are missing and Docker answers; on the
     * first start runs {@code initdb}. For an external database there is nothing to start (the first
     * query tells whether it answers).
     */
    @Override
    boolean prepareStart() {
        if (externalUrl != null) {
            return false;
        }
        if (binDir == null) {
            Optional<Path> postgres = findPostgres();
            if (postgres.isEmpty() && ContainerFallback.dockerAvailable()) {
                useContainer(ContainerFallback.start(CONTAINER_IMAGE, 5432, Map.of(
                                "POSTGRES_USER", user,
                                "POSTGRES_PASSWORD", password,
                                "POSTGRES_DB", database),
                        ".*database system is ready to accept connections.*\\s"));
                return false;
            }
            Path found = postgres.orElseGet(() -> {
                Servers.unavailable("postgres not found in " + BIN_ENV + ", on PATH or in /usr/lib/postgresql/*/bin,"
                        + " and no Docker engine for the Testcontainers fallback; install it with"
                        + " 'apt-get install postgresql' (or run scripts/install-test-servers.sh)");
                throw new AssertionError("unreachable");
            });
            if (asPostgresUser) {
                setpriv = Servers.requireBinary("setpriv", "DISTKIT_SETPRIV_BIN", "util-linux");
                handOverTo(OS_USER);
            }
            binDir = found.getParent(); // last: set means everything above succeeded
        }
        if (!Files.exists(dataDir.resolve("PG_VERSION"))) {
            initdb();
        }
        return true;
    }

    /** Creates the test user and database, once. */
    @Override
    void afterStart() {
        if (!userCreated) {
            createUserAndDatabase();
            userCreated = true;
        }
    }

    @Override
    protected List<String> command() {
        List<String> command = launcher(true);
        command.addAll(List.of(binDir.resolve("postgres").toString(), "-D", dataDir.toString(),
                "-p", Integer.toString(port),
                "-c", "listen_addresses=127.0.0.1",
                "-c", "unix_socket_directories=" + dir(),
                // the defaults, spelled out because the crash tests are meaningless without them
                "-c", "fsync=on",
                "-c", "synchronous_commit=on",
                "-c", "full_page_writes=on",
                // small: several clusters share a 2-core machine with everything else
                "-c", "shared_buffers=32MB",
                "-c", "max_connections=100",
                "-c", "logging_collector=off"));
        // last, so that a test may override even the durability settings (negative controls)
        settings.forEach((name, value) -> command.addAll(List.of("-c", name + "=" + value)));
        return command;
    }

    /**
     * The prefix that runs a PostgreSQL program: as the {@code postgres} OS user when we are root,
     * with the temp directory as working directory (the JVM's may be unreadable to that user) and,
     * for the server, the clock-shift environment. The environment is put on the command line
     * through {@code env} so that no user-switching tool in between can drop it.
     */
    private List<String> launcher(boolean withClock) {
        List<String> prefix = new ArrayList<>();
        if (asPostgresUser) {
            prefix.addAll(List.of(setpriv.toString(), "--reuid=" + OS_USER, "--regid=" + OS_USER, "--init-groups", "--"));
        }
        prefix.addAll(List.of("env", "-C", dir().toString()));
        FakeTime fakeTime = fakeTime();
        if (withClock && fakeTime != null) {
            fakeTime.environment().forEach((name, value) -> prefix.add(name + "=" + value));
        }
        return prefix;
    }

    /** None: the clock's environment goes on the command line instead (see {@code launcher}). */
    @Override
    protected Map<String, String> environment() {
        return Map.of();
    }

    /** Waits until the bootstrap superuser can run a query (refused, "starting up", crash recovery in progress: not yet). */
    @Override
    protected void awaitReady(Duration timeout) throws Exception {
        pollUntilReady(timeout, () -> {
            try (Connection c = superuserConnection(); Statement s = c.createStatement()) {
                s.execute("SELECT 1");
                return true;
            }
        });
    }

    @Override
    @Nullable String noProcessReason() {
        String standIn = standIn();
        return standIn == null ? null : "PostgreSQL at " + jdbcUrl() + " is " + standIn + ", not a process of this"
                + " fixture; install postgresql and unset " + URL_ENV + " to inject faults";
    }

    // ---------------------------------------------------------------- faults

    /**
     * A clean, fast shutdown (SIGINT: active sessions are disconnected, a shutdown checkpoint is
     * written), escalating to SIGKILL of the postmaster and its children after 10 s. The base
     * class's SIGTERM would be a "smart" shutdown, which waits for every client to disconnect.
     */
    @Override
    public synchronized void stop() {
        if (standIn() != null) {
            return;
        }
        List<ProcessHandle> children = List.of();
        if (isRunning()) {
            resumeIfPaused();
            children = children();
            try {
                sendSignal(ProcessHandle.of(pid()).orElseThrow(), "INT");
            } catch (RuntimeException e) {
                // it died meanwhile; super.stop() finds it dead
            }
        }
        super.stop();
        killAndAwait(children);
    }

    /**
     * SIGKILL to the postmaster and then to every child it had: a crash with no shutdown
     * checkpoint. The postmaster goes first so that it cannot fork replacements. Returns when all
     * of them are gone, so that {@link #restart()} finds the port and the shared memory free.
     *
     * @throws UnsupportedOperationException for an external database or a container
     */
    @Override
    public synchronized void kill() {
        requireOwnProcess("kill");
        List<ProcessHandle> children = isRunning() ? children() : List.of();
        super.kill();
        killAndAwait(children);
    }

    /**
     * SIGSTOP to the postmaster, then to each child (the backends serving open connections among
     * them): existing connections and new ones both hang. The postmaster goes first so that it
     * cannot fork a backend that escapes the pause.
     *
     * @throws UnsupportedOperationException for an external database or a container
     */
    @Override
    public synchronized void pause() {
        super.pause(); // throws first for an external database or a container
        signalAll(children(), "STOP");
    }

    /**
     * SIGCONT to the children, then to the postmaster.
     *
     * @throws UnsupportedOperationException for an external database or a container
     */
    @Override
    public synchronized void resume() {
        requireOwnProcess("resume");
        signalAll(children(), "CONT");
        super.resume();
    }

    /** Whether the postmaster is alive; for an external database, whether it is started; for a container, whether it runs. */
    @Override
    public synchronized boolean isRunning() {
        return externalUrl != null ? isStarted() : super.isRunning();
    }

    /**
     * Shifts the server's wall clock ({@code now()}, {@code clock_timestamp()}); needs
     * {@link Builder#fakeTime()}. Backends forked later inherit the shift, running ones see it at once.
     *
     * @throws IllegalStateException if built without fakeTime() or not started
     * @throws UnsupportedOperationException for an external database or a container
     */
    public synchronized void shiftClock(Duration offset) {
        shiftFakeClock(offset);
    }

    // ---------------------------------------------------------------- connecting

    /** {@code jdbc:postgresql://127.0.0.1:<port>/<database>}, or the external URL, or the container's. */
    public synchronized String jdbcUrl() {
        if (externalUrl != null) {
            return externalUrl;
        }
        if (container() != null) {
            return "jdbc:postgresql://" + host() + ":" + port() + "/" + database;
        }
        return "jdbc:postgresql://" + host() + ":" + port + "/" + database;
    }

    /** The host in {@link #jdbcUrl()}: where a TCP proxy for this server should point. */
    public synchronized String host() {
        if (externalUrl != null) {
            return URI.create(externalUrl.substring("jdbc:".length())).getHost();
        }
        return container() != null ? container().host() : "127.0.0.1";
    }

    /** The port in {@link #jdbcUrl()} (5432 for an external URL that names none). */
    public synchronized int port() {
        if (externalUrl != null) {
            int external = URI.create(externalUrl.substring("jdbc:".length())).getPort();
            return external == -1 ? 5432 : external;
        }
        return container() != null ? container().port() : port;
    }

    /**
     * The test user: a login role that owns {@link #database()} and may create databases, not a
     * superuser (in the Testcontainers fallback, the image makes it a superuser).
     */
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
        PGSimpleDataSource dataSource = new PGSimpleDataSource();
        dataSource.setURL(jdbcUrl());
        dataSource.setUser(user);
        dataSource.setPassword(password);
        return dataSource;
    }

    /**
     * Whether WAL has been inserted that is not yet written out to the operating system, read on a
     * connection of its own. A SIGKILL ({@link #kill()}) loses exactly that WAL (written WAL sits in the
     * page cache, which outlives the processes); the WAL writer writes asynchronous commits whenever
     * one completes a page, so a test that wants a crash to lose an acknowledged asynchronous commit
     * must check this just before the kill, and repeat the run when it is false.
     */
    public boolean hasUnwrittenWal() throws SQLException {
        try (Connection c = connection(); Statement s = c.createStatement();
                java.sql.ResultSet lsn = s.executeQuery("SELECT pg_current_wal_insert_lsn() > pg_current_wal_lsn()")) {
            lsn.next();
            return lsn.getBoolean(1);
        }
    }

    /** A new connection as the test user. */
    public Connection connection() throws SQLException {
        return connection(new Properties());
    }

    /**
     * A new connection as the test user with further pgjdbc properties, e.g. {@code socketTimeout}
     * and {@code connectTimeout} (seconds) for talking to a paused server.
     */
    public Connection connection(Properties properties) throws SQLException {
        Properties all = new Properties();
        all.putAll(properties);
        all.setProperty("user", user);
        all.setProperty("password", password);
        return DriverManager.getConnection(jdbcUrl(), all);
    }

    /** The cluster's data directory (what survives {@link #restart()}). */
    public Path dataDir() {
        return dataDir;
    }

    /** Whether this is an external database or a container rather than a process of ours. */
    public synchronized boolean isExternal() {
        return standIn() != null;
    }

    @Override
    public String toString() {
        String standIn = standIn();
        return "postgres " + (standIn != null ? jdbcUrl() + " (" + standIn + ")" : "127.0.0.1:" + port + " (" + dataDir + ")");
    }

    // ---------------------------------------------------------------- internals

    /** What stands in for a process of ours, or null if none does. */
    private @Nullable String standIn() {
        if (externalUrl != null) {
            return "an external database from " + URL_ENV;
        }
        if (container() != null) {
            return "a Testcontainers container, started because the postgres binary is missing";
        }
        return null;
    }

    private List<ProcessHandle> children() {
        return ProcessHandle.of(pid()).map(pm -> pm.descendants().toList()).orElse(List.of());
    }

    private static void signalAll(List<ProcessHandle> processes, String signal) {
        for (ProcessHandle process : processes) {
            try {
                if (signal.equals("STOP")) {
                    ServerProcess.sigstop(process);
                } else {
                    sendSignal(process, signal);
                }
            } catch (IllegalStateException e) {
                if (process.isAlive()) {
                    throw e;
                }
                // a backend whose client hung up exited meanwhile: nothing left to signal
            }
        }
    }

    private static void killAndAwait(List<ProcessHandle> processes) {
        processes.forEach(ProcessHandle::destroyForcibly);
        long deadline = System.nanoTime() + CHILD_EXIT_TIMEOUT.toNanos();
        for (ProcessHandle process : processes) {
            try {
                process.onExit().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (ExecutionException | TimeoutException e) {
                throw new IllegalStateException("postgres child process " + process.pid() + " still alive "
                        + CHILD_EXIT_TIMEOUT + " after SIGKILL", e);
            }
        }
    }

    private Connection superuserConnection() throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("user", SUPERUSER);
        properties.setProperty("password", superuserPassword);
        properties.setProperty("connectTimeout", "2");
        properties.setProperty("socketTimeout", Long.toString(ADMIN_SOCKET_TIMEOUT.toSeconds()));
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres", properties);
    }

    private void initdb() {
        Path passwordFile = dir().resolve("superuser-password");
        try {
            Files.writeString(passwordFile, superuserPassword + "\n", StandardCharsets.UTF_8);
            List<String> command = launcher(false);
            command.addAll(List.of(binDir.resolve("initdb").toString(), "-D", dataDir.toString(),
                    "--username=" + SUPERUSER, "--pwfile=" + passwordFile, "--auth=scram-sha-256",
                    "--locale=C", "--encoding=UTF8",
                    // initdb's final sync guards only against an OS crash; the tests crash processes
                    "--no-sync"));
            runSetupProgram("initdb", command);
        } catch (IOException e) {
            throw new UncheckedIOException("could not write " + passwordFile, e);
        } finally {
            try {
                Files.deleteIfExists(passwordFile);
            } catch (IOException ignored) {
                // the whole directory goes at close()
            }
        }
    }

    private void createUserAndDatabase() {
        try (Connection c = superuserConnection(); Statement s = c.createStatement()) {
            // identifiers are checked by the builder; the password is a literal
            s.execute("CREATE ROLE " + user + " LOGIN CREATEDB PASSWORD '" + password.replace("'", "''") + "'");
            s.execute("CREATE DATABASE " + database + " OWNER " + user);
        } catch (SQLException e) {
            throw new IllegalStateException("could not create user " + user + " and database " + database + " on " + this, e);
        }
    }

    /** Gives the temp directory to the OS user the server will run as, which must be able to create the data dir in it. */
    private void handOverTo(String osUser) {
        UserPrincipalLookupService users = FileSystems.getDefault().getUserPrincipalLookupService();
        try {
            PosixFileAttributeView view = Files.getFileAttributeView(dir(), PosixFileAttributeView.class);
            view.setOwner(users.lookupPrincipalByName(osUser));
            view.setGroup(users.lookupPrincipalByGroupName(osUser));
        } catch (UserPrincipalNotFoundException e) {
            Servers.unavailable("PostgreSQL refuses to run as root and there is no '" + osUser + "' OS user to run it as;"
                    + " installing the postgresql package creates it");
        } catch (IOException e) {
            throw new UncheckedIOException("could not give " + dir() + " to " + osUser, e);
        }
    }

    private static Optional<Path> findPostgres() {
        String configured = System.getenv(BIN_ENV);
        if (configured != null && !configured.isBlank() && Files.isDirectory(Path.of(configured))) {
            Path inDir = Path.of(configured, "postgres");
            return Files.isExecutable(inDir) ? Optional.of(inDir) : Optional.empty();
        }
        return Servers.findBinary("postgres", BIN_ENV, versionedBinDirs())
                .map(path -> {
                    try {
                        return path.toRealPath(); // initdb lives beside the real binary, not beside a symlink
                    } catch (IOException e) {
                        return path;
                    }
                });
    }

    /** {@code /usr/lib/postgresql/<version>/bin}, highest version first (Debian installs several side by side). */
    private static Path[] versionedBinDirs() {
        Path root = Path.of("/usr/lib/postgresql");
        if (!Files.isDirectory(root)) {
            return new Path[0];
        }
        try (Stream<Path> versions = Files.list(root)) {
            return versions.filter(v -> v.getFileName().toString().matches("\\d+(\\.\\d+)?"))
                    .sorted(Comparator.comparingDouble((Path v) -> Double.parseDouble(v.getFileName().toString())).reversed())
                    .map(v -> v.resolve("bin"))
                    .toArray(Path[]::new);
        } catch (IOException e) {
            return new Path[0];
        }
    }

    /** Configures a {@link PostgresServer}. */
    public static final class Builder {
        private String user = DEFAULT_USER;
        private String password = DEFAULT_PASSWORD;
        private String database = DEFAULT_DATABASE;
        private final Map<String, String> settings = new LinkedHashMap<>();
        private boolean fakeTime;
        private @Nullable String externalUrl = blankToNull(System.getenv(URL_ENV));

        private Builder() {}

        /** The test user's name: a lower-case SQL identifier. */
        public Builder user(String user) {
            this.user = identifier(user, "user");
            return this;
        }

        public Builder password(String password) {
            this.password = Servers.checkPassword(password);
            return this;
        }

        /** The test database's name: a lower-case SQL identifier. */
        public Builder database(String database) {
            this.database = identifier(database, "database");
            return this;
        }

        /** A server setting passed as {@code -c name=value}; applied after (and so overriding) the fixture's own. */
        public Builder setting(String name, String value) {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(value, "value");
            if (!name.matches("[a-z_][a-z0-9_.]*")) {
                throw new IllegalArgumentException("setting name must be a PostgreSQL parameter name, was '" + name + "'");
            }
            settings.put(name, value);
            return this;
        }

        /** Runs the server with the clock-shift preload library so that {@link PostgresServer#shiftClock} works. */
        public Builder fakeTime() {
            this.fakeTime = true;
            return this;
        }

        /**
         * Uses an existing database instead of starting one (default: {@value #URL_ENV}, when set).
         * It must accept this builder's user and password; faults are then unsupported.
         */
        public Builder external(String jdbcUrl) {
            Objects.requireNonNull(jdbcUrl, "jdbcUrl");
            if (!jdbcUrl.startsWith("jdbc:postgresql://")) {
                throw new IllegalArgumentException("jdbcUrl must start with jdbc:postgresql://, was '" + jdbcUrl + "'");
            }
            this.externalUrl = jdbcUrl;
            return this;
        }

        /** The server, not yet started (the JUnit extension or {@link PostgresServer#start()} starts it). */
        public PostgresServer build() {
            if (externalUrl != null && !externalUrl.startsWith("jdbc:postgresql://")) {
                throw new IllegalArgumentException(URL_ENV + " must start with jdbc:postgresql://, was '" + externalUrl + "'");
            }
            return new PostgresServer(this, Servers.tempDir("postgres"));
        }

        private static String identifier(String value, String what) {
            Objects.requireNonNull(value, what);
            if (!IDENTIFIER.matcher(value).matches()) {
                throw new IllegalArgumentException(what + " must be a lower-case SQL identifier ([a-z_][a-z0-9_]*, at most 63),"
                        + " was '" + value + "'");
            }
            return value;
        }

        private static @Nullable String blankToNull(@Nullable String value) {
            return value == null || value.isBlank() ? null : value.trim();
        }
    }
}
