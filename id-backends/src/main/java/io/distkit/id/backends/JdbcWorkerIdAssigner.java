package io.distkit.id.backends;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Objects;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.support.SQLExceptionSubclassTranslator;

/**
 * Worker ids for snowflake-style generators, leased from one table of a database you already have
 * (PostgreSQL, MySQL/MariaDB, H2).
 *
 * <pre>{@code
 * WorkerIdAssigner workers = JdbcWorkerIdAssigner.builder(dataSource).build();  // table distkit_worker must exist
 * WorkerLease lease = workers.acquire(1024);   // the lowest free worker id in [0, 1024), renewed in the background
 * ... generator uses lease.workerId(), starts above lease.lastTimestamp(), calls lease.saveLastTimestamp(t) ...
 * workers.close();                             // releases every lease it handed out
 * }</pre>
 *
 * <p>One row per worker id ever leased: {@code (worker_id, owner, last_timestamp, expires_at)}. A row
 * is free when its owner is null or its {@code expires_at} has passed by the <em>database's</em>
 * clock. {@link WorkerIdAssigner#acquire} takes the lowest id in range that is free or not in the
 * table yet: a conditional {@code UPDATE} claims a free row (the row lock and the re-checked condition
 * let only one of two concurrent claimers through), an {@code INSERT} claims an id not in the table
 * (the primary key lets only one through); a claimer that loses a race looks again, a bounded number
 * of times. Each lease gets an owner value of its own ({@link Builder#ownerPrefix} plus a random part,
 * so operators can tell whose a row is); renewals, {@link WorkerLease#saveLastTimestamp} and release
 * are conditional on it, so a lease that lost its row can change nothing. Rows are never deleted: a
 * recycled id keeps its {@code last_timestamp}, which the next lease reports as
 * {@link WorkerLease#lastTimestamp()}.
 *
 * <p>Leases are renewed by one background pass per renew interval, one JDBC batch for all leases of
 * the assigner. A lease is lost when a renewal or a save finds its row no longer its own, or when no
 * renewal succeeded by its local deadline: the send time of the last successful claim or renewal,
 * plus the lease time, minus a drift allowance ({@value #DRIFT_PERCENT}% of the lease plus
 * {@value #DRIFT_FIXED_MILLIS} ms), on a monotonic ticker. That deadline is watched by a thread that
 * never waits for the database, so a lease cut off from an unreachable database is declared lost
 * before its row can expire there.
 *
 * <p>On PostgreSQL the table must be logged (an {@code UNLOGGED} one is refused: a crash empties it),
 * and every claim, renewal and save commits with {@code synchronous_commit = on}, so an acknowledged
 * one survives a crash of the server; releases commit without waiting for the disk (a release lost
 * in a crash only leaves the row to expire).
 */
public final class JdbcWorkerIdAssigner {

    /** The table used unless {@link Builder#tableName} names another. */
    public static final String DEFAULT_TABLE = "distkit_worker";
    /** The lease unless {@link Builder#leaseTime} sets another: 30 seconds. */
    public static final Duration DEFAULT_LEASE_TIME = Duration.ofSeconds(30);
    /** Renewals run every {@code leaseTime / DEFAULT_RENEW_DIVISOR} unless {@link Builder#renewInterval} is set. */
    public static final int DEFAULT_RENEW_DIVISOR = 3;
    /** Shortest lease accepted: a claim or renewal must fit in it several times over. */
    public static final Duration MIN_LEASE_TIME = Duration.ofMillis(100);
    /** Longest lease accepted: a lease bounds how long a crashed process keeps its worker id. */
    public static final Duration MAX_LEASE_TIME = Duration.ofDays(1);
    /** How long one statement may take unless {@link Builder#commandTimeout} sets another: 5 seconds. */
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(5);
    /** Longest owner prefix: with {@code '#'} and 22 random characters it fills the 64-character owner column. */
    public static final int MAX_OWNER_PREFIX_LENGTH = 41;

    static final int DRIFT_PERCENT = 1;
    static final int DRIFT_FIXED_MILLIS = 2;

    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,62}");

    private JdbcWorkerIdAssigner() {}

    /** A builder for an assigner on {@code dataSource}; the data source stays yours (the assigner does not close it). */
    public static Builder builder(DataSource dataSource) {
        return new Builder(Objects.requireNonNull(dataSource, "dataSource"));
    }

    /**
     * Checks a table name: an unquoted SQL identifier, optionally schema-qualified ({@code ids.distkit_worker}),
     * each part a letter or underscore followed by up to 62 letters, digits or underscores.
     *
     * @throws NullPointerException if null
     * @throws IllegalArgumentException otherwise, quoting the name
     */
    static String checkTableName(String table) {
        Objects.requireNonNull(table, "tableName");
        String[] parts = table.split("\\.", -1);
        boolean valid = parts.length <= 2;
        for (String part : parts) {
            valid &= IDENTIFIER.matcher(part).matches();
        }
        if (!valid) {
            throw new IllegalArgumentException("tableName must be an unquoted SQL identifier, optionally"
                    + " schema-qualified (letters, digits, '_', not starting with a digit, at most 63 characters a"
                    + " part), was '" + table + "'");
        }
        return table;
    }

    /** How much earlier than the lease the local deadline falls: 1% of the lease plus 2 ms (as in lock-api). */
    static long driftNanos(long leaseNanos) {
        return leaseNanos / 100 * DRIFT_PERCENT + DRIFT_FIXED_MILLIS * 1_000_000L;
    }

    /** Configures an assigner. Only the data source is required; every setter checks its argument at once. */
    public static final class Builder {
        private final DataSource dataSource;
        private String table = DEFAULT_TABLE;
        private @Nullable JdbcWorkerDialect dialect;
        private Duration leaseTime = DEFAULT_LEASE_TIME;
        private @Nullable Duration renewInterval;
        private boolean createTableIfMissing;
        private Duration commandTimeout = DEFAULT_COMMAND_TIMEOUT;
        private @Nullable String ownerPrefix;
        private LongSupplier ticker = System::nanoTime;
        private boolean unsafeClaimIgnoringLeases;

        private Builder(DataSource dataSource) {
            this.dataSource = dataSource;
        }

        /**
         * The worker table; default {@value JdbcWorkerIdAssigner#DEFAULT_TABLE}. Assigners that must not
         * hand out the same worker id need the same table; generators of separate id spaces may use
         * separate tables.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not an unquoted SQL identifier, optionally schema-qualified
         */
        public Builder tableName(String table) {
            this.table = checkTableName(table);
            return this;
        }

        /** The SQL dialect; by default detected from the database product name the driver reports. */
        public Builder dialect(JdbcWorkerDialect dialect) {
            this.dialect = Objects.requireNonNull(dialect, "dialect");
            return this;
        }

        /**
         * How long the database keeps a worker id of a process that stopped renewing (crashed, paused, cut
         * off); default 30 s. It is the wait before such an id can be leased again.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if under {@link #MIN_LEASE_TIME} or over {@link #MAX_LEASE_TIME}
         */
        public Builder leaseTime(Duration leaseTime) {
            Objects.requireNonNull(leaseTime, "leaseTime");
            if (leaseTime.compareTo(MIN_LEASE_TIME) < 0 || leaseTime.compareTo(MAX_LEASE_TIME) > 0) {
                throw new IllegalArgumentException("leaseTime must be between " + MIN_LEASE_TIME.toMillis() + " ms and "
                        + MAX_LEASE_TIME + ", was " + leaseTime);
            }
            this.leaseTime = leaseTime;
            return this;
        }

        /**
         * Time between renewal passes; default {@code leaseTime / 3}. Checked against the lease in
         * {@link #build()}: at most half of it, so that a failed renewal can be retried before the deadline.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if under 1 ms
         */
        public Builder renewInterval(Duration renewInterval) {
            Objects.requireNonNull(renewInterval, "renewInterval");
            if (renewInterval.compareTo(Duration.ofMillis(1)) < 0) {
                throw new IllegalArgumentException("renewInterval must be at least 1 ms, was " + renewInterval);
            }
            this.renewInterval = renewInterval;
            return this;
        }

        /**
         * Creates the worker table at {@link #build()} if it does not exist (with the DDL of {@link
         * JdbcWorkerDialect#createTable}). Off by default: most teams create tables through their migrations.
         */
        public Builder createTableIfMissing() {
            this.createTableIfMissing = true;
            return this;
        }

        /**
         * How long one statement may take; default 5 s. Enforced as a network timeout of this plus a second
         * on each connection while distkit uses it (the connection's own setting is put back afterwards),
         * which also ends a statement whose server went silent; MySQL/MariaDB and H2 also get it as their
         * query timeout. A {@link WorkerLease#close()} on an unreachable database returns after at most that.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not positive
         */
        public Builder commandTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "commandTimeout");
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("commandTimeout must be positive, was " + timeout);
            }
            this.commandTimeout = timeout;
            return this;
        }

        /**
         * What the {@code owner} column of this assigner's rows starts with, for operators reading the
         * table; a {@code '#'} and a random part follow, different for every lease. Default: the host name
         * and the process id, {@code host/pid}, shortened to fit.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if empty, longer than {@value JdbcWorkerIdAssigner#MAX_OWNER_PREFIX_LENGTH}
         *     characters, or not printable ASCII without spaces
         */
        public Builder ownerPrefix(String prefix) {
            Objects.requireNonNull(prefix, "ownerPrefix");
            if (prefix.isEmpty() || prefix.length() > MAX_OWNER_PREFIX_LENGTH
                    || !prefix.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
                throw new IllegalArgumentException("ownerPrefix must be 1 to " + MAX_OWNER_PREFIX_LENGTH
                        + " printable ASCII characters without spaces, was '" + prefix + "'");
            }
            this.ownerPrefix = prefix;
            return this;
        }

        /**
         * The monotonic clock in nanoseconds that local lease deadlines are measured on; default
         * {@link System#nanoTime()}. Only differences matter. For tests that drive time by hand.
         */
        public Builder ticker(LongSupplier ticker) {
            this.ticker = Objects.requireNonNull(ticker, "ticker");
            return this;
        }

        /**
         * Negative control for tests only: claims ignore whether a row is leased, so two live leases can
         * share a worker id. Never for production.
         */
        Builder unsafeClaimIgnoringLeases() {
            this.unsafeClaimIgnoringLeases = true;
            return this;
        }

        /**
         * Checks the settings, the database and the table, then returns the assigner, which renews its
         * leases on daemon threads named {@code distkit-worker-lease-<n>} until it is closed.
         *
         * @throws IllegalArgumentException if the renew interval is over half the lease, or the database
         *     is not one distkit has SQL for
         * @throws IdSourceUnavailableException if the database cannot be reached
         * @throws IdGenerationException if the table is missing (the message carries the DDL to run), lacks
         *     distkit's columns, or is UNLOGGED or temporary
         */
        public WorkerIdAssigner build() {
            Duration renew = renewInterval != null ? renewInterval : leaseTime.dividedBy(DEFAULT_RENEW_DIVISOR);
            if (renew.compareTo(leaseTime.dividedBy(2)) > 0) {
                throw new IllegalArgumentException("renewInterval must be at most half the leaseTime " + leaseTime
                        + " so that a failed renewal can be retried before the lease runs out, was " + renew);
            }
            int networkBound = (int) Math.min(Integer.MAX_VALUE, commandTimeout.toMillis() + 1000);
            DataSource bounded = new NetworkBoundedDataSource(dataSource, networkBound);
            JdbcTemplate jdbc = new JdbcTemplate(bounded);
            // by exception class and SQL state: the default translator would open a new connection to read
            // error codes on the first failure, when the database may be unreachable
            jdbc.setExceptionTranslator(new SQLExceptionSubclassTranslator());
            String[] database = probe(bounded);
            JdbcWorkerDialect dialect = this.dialect != null ? this.dialect : JdbcWorkerDialect.of(database[0]);
            if (dialect.queryTimeoutIsSafe()) {
                jdbc.setQueryTimeout((int) Math.max(1, (commandTimeout.toMillis() + 999) / 1000));
            }
            String where = database[1];
            WorkerTable.check(jdbc, dialect, table, createTableIfMissing, where);
            return new TableWorkerIdAssigner(jdbc, dialect, table, where, leaseTime, renew,
                    ownerPrefix != null ? ownerPrefix : defaultOwnerPrefix(), ticker, unsafeClaimIgnoringLeases);
        }

        /** The database product name and URL (password masked), from one connection: the clearest first error. */
        private String[] probe(DataSource bounded) {
            try (Connection connection = bounded.getConnection()) {
                DatabaseMetaData meta = connection.getMetaData();
                String url = meta.getURL() != null ? meta.getURL().replaceAll("(?i)(password=)[^&;]*", "$1***") : "?";
                return new String[] {meta.getDatabaseProductName(), url};
            } catch (SQLException e) {
                throw new IdSourceUnavailableException(table, "cannot connect to the database of " + dataSource + ": "
                        + e.getMessage() + " (check the URL and the credentials)", e);
            }
        }
    }

    /** {@code host/pid}, printable ASCII, at most {@link #MAX_OWNER_PREFIX_LENGTH} characters (the pid kept whole). */
    static String defaultOwnerPrefix() {
        String pid = Long.toString(ProcessHandle.current().pid());
        String host = System.getenv("HOSTNAME");
        if (host == null || host.isBlank()) {
            try {
                host = InetAddress.getLocalHost().getHostName();
            } catch (UnknownHostException | SecurityException unresolvable) {
                host = "unknown-host";
            }
        }
        StringBuilder clean = new StringBuilder();
        host.chars().forEach(c -> clean.append(c > 0x20 && c < 0x7f ? (char) c : '_'));
        int room = MAX_OWNER_PREFIX_LENGTH - 1 - pid.length();
        return (clean.length() > room ? clean.substring(0, room) : clean) + "/" + pid;
    }
}
