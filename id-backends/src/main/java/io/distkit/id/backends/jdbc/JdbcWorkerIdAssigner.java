package io.distkit.id.backends.jdbc;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.jdbc.JdbcTableBuilder;
import io.distkit.jdbc.SqlDialect;
import io.distkit.jdbc.internal.Database;
import io.distkit.jdbc.internal.TableSpec;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.function.LongSupplier;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

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
    public static final Duration DEFAULT_COMMAND_TIMEOUT = JdbcTableBuilder.DEFAULT_COMMAND_TIMEOUT;
    /** Longest owner prefix: with {@code '#'} and 22 random characters it fills the 64-character owner column. */
    public static final int MAX_OWNER_PREFIX_LENGTH = 41;

    static final int DRIFT_PERCENT = 1;
    static final int DRIFT_FIXED_MILLIS = 2;

    /**
     * The worker table for the shared checks: its columns, its DDL ({@code src/main/resources}), an
     * unreachable database an {@link IdSourceUnavailableException}, any other problem an {@link IdGenerationException}.
     */
    private static final TableSpec WORKER_TABLE = TableSpec.builder("worker-id")
            .builtBy("assigner")
            .columns("worker_id", "owner", "last_timestamp", "expires_at")
            .ddl(JdbcWorkerIdAssigner.class, Map.of(SqlDialect.POSTGRESQL, "worker-postgresql.sql",
                    SqlDialect.MYSQL, "worker-mysql.sql", SqlDialect.H2, "worker-h2.sql"))
            .lostInCrash("with it every worker lease and high-water mark while the generators keep going")
            .rows("leases")
            .connectHint("check the URL and the credentials")
            .failures((problem, table, message, cause) -> problem == TableSpec.Problem.UNREACHABLE
                    ? new IdSourceUnavailableException(table, message, cause)
                    : new IdGenerationException(message, cause))
            .build();

    private JdbcWorkerIdAssigner() {}

    /** A builder for an assigner on {@code dataSource}; the data source stays yours (the assigner does not close it). */
    public static Builder builder(DataSource dataSource) {
        return new Builder(Objects.requireNonNull(dataSource, "dataSource"));
    }

    /**
     * The {@code CREATE TABLE} statement of a worker table named {@code table} in {@code dialect}, as this
     * module ships it ({@code io/distkit/id/backends/jdbc/worker-<dialect>.sql}): run it in your migrations, or
     * let {@link Builder#createTableIfMissing()} do it.
     *
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if {@code table} is not an unquoted SQL identifier, optionally
     *     schema-qualified
     */
    public static String createTableSql(SqlDialect dialect, String table) {
        return WORKER_TABLE.createTableSql(dialect, table);
    }

    /** How much earlier than the lease the local deadline falls: 1% of the lease plus 2 ms (as in lock-api). */
    static long driftNanos(long leaseNanos) {
        return leaseNanos / 100 * DRIFT_PERCENT + DRIFT_FIXED_MILLIS * 1_000_000L;
    }

    /**
     * Configures an assigner. Only the data source is required; every setter checks its argument at once.
     * Besides the options of every JDBC builder ({@link JdbcTableBuilder}: table, dialect, table creation,
     * command timeout): the lease, its renewal, the owner prefix and the ticker. A {@link WorkerLease#close()}
     * on an unreachable database returns after at most the command timeout.
     */
    public static final class Builder extends JdbcTableBuilder<Builder> {
        private Duration leaseTime = DEFAULT_LEASE_TIME;
        private @Nullable Duration renewInterval;
        private @Nullable String ownerPrefix;
        private LongSupplier ticker = System::nanoTime;

        private Builder(DataSource dataSource) {
            super(dataSource, DEFAULT_TABLE);
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
            // the network bound on every borrowed connection, the probe, the dialect, the query timeout, the table
            Database database = openDatabase(WORKER_TABLE);
            return new TableWorkerIdAssigner(database, leaseTime, renew,
                    ownerPrefix != null ? ownerPrefix : defaultOwnerPrefix(), ticker);
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
