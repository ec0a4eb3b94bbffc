package io.distkit.lock.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.Closer;
import io.distkit.testkit.process.ChildJvm;
import io.distkit.testkit.process.LockHolderProcess;
import io.distkit.testkit.server.FakeTime;
import io.distkit.testkit.server.Pools;
import io.distkit.testkit.server.PostgresServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/failures.md, F18: a client whose wall clock is wrong by an hour, either way, changes nothing,
 * because every lease time of the JDBC backend is the database's clock.
 *
 * <p>The skewed clients are child JVMs ({@link LockHolderProcess}) started with the {@link FakeTime}
 * preload library, which shifts CLOCK_REALTIME, {@code gettimeofday} and {@code time} of the
 * process (and with them {@link System#currentTimeMillis()} and {@link Instant#now()});
 * the monotonic clock stays true. The test does not take the shift on trust: a probe JVM started
 * with the same environment must report {@code currentTimeMillis()} an hour off (before and after
 * the offset is changed while it runs), and each holder process must have the library mapped and
 * the same offset file in its environment. If a JVM ignored the preload, the tests fail.
 *
 * <p>Why this would catch a backend that used the client's clock: an expiry computed from a clock an
 * hour behind would be in the database's past, so a contender would take the lock from a live holder
 * at once; one from a clock an hour ahead would outlive a killed holder by an hour, and would show
 * as an {@code expires_at} far beyond the lease. A contender that judged freeness by its own clock
 * would, an hour ahead, see every lease expired, and, an hour behind, never see a killed holder's
 * lease run out: so the contenders are skewed child JVMs too, besides one in this JVM.
 */
@Timeout(120)
class JdbcClockSkewFailureTest {

    @RegisterExtension
    static PostgresServer postgres = PostgresServer.builder().build();

    private static final long MS = 1_000_000L;
    private static final Duration HOUR = Duration.ofHours(1);
    private static final Duration LEASE = Duration.ofSeconds(2);
    private static final Duration CONTENDER_LEASE = Duration.ofSeconds(5);
    private static final String TABLE = JdbcLockClient.DEFAULT_TABLE;
    private static final String PROBE = "clock-probe ";

    @TempDir
    Path tempDir;

    private final String prefix = "f18-" + UUID.randomUUID() + "-";
    private final Closer toClose = new Closer();
    private final List<HikariDataSource> pools = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        try {
            toClose.close(); // children and clients, newest first
        } finally {
            pools.forEach(HikariDataSource::close);
            pools.clear();
        }
    }

    // ---- F18: a skewed holder holds for as long as it renews ---------------------------------------------

    /**
     * F18 while holding. A holder whose clock is an hour behind acquires (lease 2 s, renewed every
     * 667 ms). For three lease lengths neither a contender in this JVM nor a contender JVM whose clock
     * is an hour ahead gets the lock, and the row's {@code expires_at} stays within the lease of the
     * database's now while advancing with the renewals. Then both clocks are stepped two hours the
     * other way while they run (the holder's to an hour ahead, the contender's to an hour behind), and
     * the same holds for three more lease lengths. The holder releases; the skewed contender gets the
     * lock on its first attempt with a greater token, and so does the contender here after it.
     */
    @Test
    @DisplayName("F18: a holder an hour behind (then ahead) keeps the lock by DB time against contenders an hour ahead (then behind) and here")
    void skewedHolderKeepsTheLockWhileItRenews() throws Exception {
        String name = prefix + "held";
        FakeTime holderClock = clock("holder", HOUR.negated());
        FakeTime contenderClock = clock("contender", HOUR);
        ChildJvm holderProbe = probe(holderClock);
        ChildJvm contenderProbe = probe(contenderClock);
        assertClockOffset(holderProbe, HOUR.negated());
        assertClockOffset(contenderProbe, HOUR);
        LockClient local = localClient(); // creates the table the children need

        LockHolderProcess holder = holder("holder-behind", holderClock);
        LockHolderProcess contender = holder("contender-ahead", contenderClock);
        long token = holder.acquire(name, Duration.ZERO).orElseThrow(() -> new AssertionError("the lock is free"));

        Phase first = assertHeldThroughout(name, token, local, contender, LEASE.multipliedBy(3));

        holderClock.shift(HOUR);
        contenderClock.shift(HOUR.negated());
        assertClockOffset(holderProbe, HOUR); // a running JVM follows the step
        assertClockOffset(contenderProbe, HOUR.negated());
        Phase second = assertHeldThroughout(name, token, local, contender, LEASE.multipliedBy(3));
        System.out.printf("F18 hold: %s; after the clocks stepped: %s%n", first, second);
        assertThat(holder.status()).isEqualTo(new LockHolderProcess.Status(token, true));

        holder.release();
        OptionalLong next = contender.acquire(name, Duration.ZERO);
        assertThat(next).as("the contender an hour behind gets the released lock on its first attempt").isPresent();
        assertThat(next.getAsLong()).as("with a greater token").isGreaterThan(token);
        Row taken = row(name);
        assertThat(taken.token()).isEqualTo(next.getAsLong());
        assertThat(taken.remainingMillis()).as("its expiry is a lease from the DB's now, not an hour off")
                .isPositive().isLessThanOrEqualTo(LEASE.toMillis());

        contender.release();
        LockHandle here = local.lock(name).tryAcquire().orElseThrow(() -> new AssertionError("released, so free"));
        assertThat(here.fencingToken()).isGreaterThan(next.getAsLong());
        here.release();
    }

    // ---- F18: a killed skewed holder frees the lock after its lease by DB time ----------------------------

    /**
     * F18 after a crash of the holder. A holder an hour ahead is killed (SIGKILL) while it holds and
     * renews; a contender JVM an hour behind, already waiting, gets the lock within the lease plus
     * 3 s, not before the row's expiry: the database time of the take-over (its new {@code expires_at}
     * less its lease) is at or after the killed holder's {@code expires_at}. The same with the clocks
     * the other way: a holder an hour behind killed, and the contender in this JVM.
     */
    @Test
    @DisplayName("F18: a killed holder an hour ahead or behind frees the lock after about its lease by DB time, not before its expiry")
    void killedSkewedHolderFreesTheLockAfterItsLease() throws Exception {
        FakeTime ahead = clock("ahead", HOUR);
        FakeTime behind = clock("behind", HOUR.negated());
        assertClockOffset(probe(ahead), HOUR);
        assertClockOffset(probe(behind), HOUR.negated());
        LockClient local = localClient();

        // the holder an hour ahead, the contender an hour behind, in another JVM
        String first = prefix + "killed-ahead";
        LockHolderProcess holderAhead = holder("holder-ahead", ahead);
        LockHolderProcess contenderBehind = holder("contender-behind", behind);
        long aheadToken = holderAhead.acquire(first, Duration.ZERO).orElseThrow();
        assertThat(contenderBehind.acquire(first, Duration.ZERO)).as("busy while the holder lives").isEmpty();
        Killed killedAhead = kill(holderAhead, first, aheadToken);
        OptionalLong behindToken = contenderBehind.acquire(first, LEASE.plusSeconds(3));
        long behindAt = System.nanoTime();
        assertThat(behindToken).as("the contender an hour behind gets the lock within lease + 3 s").isPresent();
        assertTakeOver(first, killedAhead, behindToken.getAsLong(), LEASE, behindAt);
        contenderBehind.release();

        // the holder an hour behind, the contender in this JVM
        String second = prefix + "killed-behind";
        LockHolderProcess holderBehind = holder("holder-behind", behind);
        long behindHolderToken = holderBehind.acquire(second, Duration.ZERO).orElseThrow();
        Optional<LockHandle> early = local.lock(second).tryAcquire();
        early.ifPresent(LockHandle::release);
        assertThat(early).as("busy while the holder lives").isEmpty();
        Killed killedBehind = kill(holderBehind, second, behindHolderToken);
        Optional<LockHandle> here = local.lock(second, LockOptions.builder().leaseTime(CONTENDER_LEASE).build())
                .tryAcquire(LEASE.plusSeconds(3));
        long hereAt = System.nanoTime();
        assertThat(here).as("the contender here gets the lock within lease + 3 s").isPresent();
        assertTakeOver(second, killedBehind, here.get().fencingToken(), CONTENDER_LEASE, hereAt);
        here.get().release();
    }

    // ---- the skewed clocks --------------------------------------------------------------------------------

    /** A clock offset file of its own, at {@code offset}. */
    private FakeTime clock(String name, Duration offset) throws IOException {
        FakeTime clock = FakeTime.in(Files.createDirectory(tempDir.resolve(name)));
        clock.shift(offset);
        return clock;
    }

    /** A JVM on {@code clock} that prints its {@link System#currentTimeMillis()} when asked. */
    private ChildJvm probe(FakeTime clock) {
        ChildJvm probe = ChildJvm.builder(ClockProbe.class).name("clock-probe")
                .environment(clock.environment()).start();
        toClose.add(probe);
        probe.awaitLine(l -> l.equals(PROBE + "ready"), Duration.ofSeconds(60));
        return probe;
    }

    /** Asserts that the probe's wall clock is {@code expected} off this JVM's (within 2 s), and prints it. */
    private static void assertClockOffset(ChildJvm probe, Duration expected) {
        long before = System.currentTimeMillis();
        probe.send("now");
        String line = probe.awaitLine(l -> l.startsWith(PROBE + "now "), Duration.ofSeconds(30));
        long after = System.currentTimeMillis();
        String[] millis = line.substring((PROBE + "now ").length()).split(" ");
        long offset = Long.parseLong(millis[0]) - (before + after) / 2;
        long instantOffset = Long.parseLong(millis[1]) - (before + after) / 2;
        System.out.printf("F18: %s's wall clock is %+d ms off ours (expected %+d ms)%n", probe.name(), offset,
                expected.toMillis());
        assertThat(offset).as("System.currentTimeMillis() of a JVM started with the FakeTime preload, off ours")
                .isBetween(expected.toMillis() - 2_000, expected.toMillis() + 2_000);
        assertThat(instantOffset).as("Instant.now() of that JVM, off ours")
                .isBetween(expected.toMillis() - 2_000, expected.toMillis() + 2_000);
    }

    /**
     * A holder JVM on {@code clock} (lease 2 s, renewed), after checking that it really runs with the
     * library: mapped into the process, with the same offset file the probe showed to work.
     */
    private LockHolderProcess holder(String name, FakeTime clock) throws IOException {
        Map<String, String> environment = clock.environment();
        LockHolderProcess holder = LockHolderProcess.builder(holderUri()).leaseTime(LEASE).autoRenew(true)
                .processName(name).environment(environment).start();
        toClose.add(holder);
        List<String> environ = Arrays.asList(
                Files.readString(Path.of("/proc", Long.toString(holder.pid()), "environ"), StandardCharsets.UTF_8)
                        .split("\0"));
        environment.forEach((variable, value) ->
                assertThat(environ).as("environment of %s", name).contains(variable + "=" + value));
        assertThat(Files.readString(Path.of("/proc", Long.toString(holder.pid()), "maps"), StandardCharsets.UTF_8))
                .as("%s has the clock-shift library mapped", name).contains(environment.get("LD_PRELOAD"));
        return holder;
    }

    /** The holder's URI: the JDBC URL with credentials, connected by {@code JdbcLockClientProvider}. */
    private static String holderUri() {
        return postgres.jdbcUrl() + "?user=" + URLEncoder.encode(postgres.user(), StandardCharsets.UTF_8)
                + "&password=" + URLEncoder.encode(postgres.password(), StandardCharsets.UTF_8);
    }

    /** Prints its wall clock for each {@code now} line: the evidence that a preloaded JVM's clock moved. */
    public static final class ClockProbe {
        private ClockProbe() {}

        public static void main(String[] args) throws IOException {
            System.out.println(PROBE + "ready");
            System.out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null) {
                if (line.equals("now")) {
                    System.out.println(PROBE + "now " + System.currentTimeMillis() + " "
                            + Instant.now().toEpochMilli());
                    System.out.flush();
                }
            }
        }
    }

    // ---- holding and taking over --------------------------------------------------------------------------

    /** What a hold phase saw: how many checks, and how far the row's expiry moved (DB clock). */
    record Phase(int checks, double expiryAdvancedMillis, double minRemainingMillis) {}

    /**
     * For {@code duration}, every 250 ms: the local contender's {@code tryAcquire()} and the child
     * contender's zero-wait acquire are busy, and the row still has the holder's token and an expiry
     * between the database's now and a lease after it. Every violation is collected and reported at the
     * end. The expiry must also have moved on with the renewals.
     */
    private Phase assertHeldThroughout(String name, long token, LockClient local, LockHolderProcess contender,
            Duration duration) {
        List<String> violations = new ArrayList<>();
        int[] checks = {0};
        double[] expiry = {Double.NaN, Double.NaN, Double.MAX_VALUE}; // first, last, min remaining
        long end = System.nanoTime() + duration.toNanos();
        await().atMost(duration.plusSeconds(20)).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(250))
                .until(() -> {
                    checks[0]++;
                    Optional<LockHandle> here = local.lock(name).tryAcquire();
                    if (here.isPresent()) {
                        here.get().release();
                        violations.add("the contender here acquired with token " + here.get().fencingToken());
                    }
                    OptionalLong there = contender.acquire(name, Duration.ZERO);
                    if (there.isPresent()) {
                        contender.release();
                        violations.add(contender.processName() + " acquired with token " + there.getAsLong());
                    }
                    Row row = row(name);
                    if (row.owner() == null || row.token() != token) {
                        violations.add("the row changed hands: " + row);
                    }
                    if (row.remainingMillis() <= 0 || row.remainingMillis() > LEASE.toMillis() + 1) {
                        violations.add("expires_at is not within the lease of the DB's now: " + row);
                    }
                    expiry[0] = Double.isNaN(expiry[0]) ? row.expiresAtMillis() : expiry[0];
                    expiry[1] = row.expiresAtMillis();
                    expiry[2] = Math.min(expiry[2], row.remainingMillis());
                    return System.nanoTime() - end >= 0;
                });
        assertThat(violations).as("while the skewed holder held '%s'", name).isEmpty();
        assertThat(checks[0]).as("checks made").isGreaterThanOrEqualTo(5);
        assertThat(expiry[1] - expiry[0]).as("the expiry moved on with the renewals (DB clock)")
                .isGreaterThan((double) duration.minus(LEASE).toMillis());
        return new Phase(checks[0], expiry[1] - expiry[0], expiry[2]);
    }

    /** A killed holder: its token, its row's expiry (DB clock) and when it was killed (nanoTime). */
    record Killed(long token, double expiresAtMillis, long killedAt) {}

    private static Killed kill(LockHolderProcess holder, String name, long token) throws SQLException {
        long killedAt = System.nanoTime();
        holder.kill();
        Row row = row(name);
        assertThat(row.token()).as("the killed holder's row").isEqualTo(token);
        assertThat(row.owner()).isNotNull();
        assertThat(row.remainingMillis()).as("its lease, a lease from the DB's now at most")
                .isLessThanOrEqualTo(LEASE.toMillis() + 1);
        return new Killed(token, row.expiresAtMillis(), killedAt);
    }

    /**
     * The take-over came after the killed holder's expiry by the database clock (the new row's expiry
     * less the new lease is when the taking statement read the clock), within about a lease of the kill
     * on this JVM's monotonic clock, with a greater token.
     */
    private static void assertTakeOver(String name, Killed killed, long newToken, Duration newLease, long acquiredAt)
            throws SQLException {
        Row row = row(name);
        assertThat(row.token()).isEqualTo(newToken);
        assertThat(newToken).as("a greater token than the killed holder's").isGreaterThan(killed.token());
        double takenAtMillis = row.expiresAtMillis() - newLease.toMillis();
        System.out.printf("F18 kill: '%s' taken %.1f ms after the killed holder's expiry (DB clock), %d ms after the kill%n",
                name, takenAtMillis - killed.expiresAtMillis(), (acquiredAt - killed.killedAt()) / MS);
        assertThat(takenAtMillis).as("taken (DB clock) no earlier than the killed holder's expiry, less 5 ms of rounding")
                .isGreaterThanOrEqualTo(killed.expiresAtMillis() - 5);
        assertThat(acquiredAt - killed.killedAt()).as("freed after about the lease from the kill")
                .isLessThan(LEASE.toNanos() + 1_500 * MS);
    }

    // ---- the database -------------------------------------------------------------------------------------

    private LockClient localClient() {
        HikariDataSource pool = Pools.hikari(postgres);
        pools.add(pool);
        LockClient client = JdbcLockClient.builder(pool).createTableIfMissing()
                .defaultOptions(LockOptions.builder().leaseTime(CONTENDER_LEASE).build()).build();
        toClose.add(client);
        return client;
    }

    /** One lock row, its expiry in epoch milliseconds and the lease remaining, both by the database clock. */
    record Row(@Nullable String owner, long token, double expiresAtMillis, double remainingMillis) {}

    private static Row row(String name) throws SQLException {
        Properties properties = new Properties();
        properties.setProperty("connectTimeout", "5");
        properties.setProperty("socketTimeout", "10");
        try (Connection c = postgres.connection(properties); PreparedStatement query = c.prepareStatement(
                "SELECT owner, fencing_token, EXTRACT(EPOCH FROM expires_at) * 1000,"
                        + " EXTRACT(EPOCH FROM (expires_at - clock_timestamp())) * 1000 FROM " + TABLE
                        + " WHERE lock_name = ?")) {
            query.setString(1, name);
            try (ResultSet r = query.executeQuery()) {
                assertThat(r.next()).as("the row of %s", name).isTrue();
                return new Row(r.getString(1), r.getLong(2), r.getDouble(3), r.getDouble(4));
            }
        }
    }
}
