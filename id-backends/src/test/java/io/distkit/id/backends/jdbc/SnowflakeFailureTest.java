package io.distkit.id.backends.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.id.snowflake.SnowflakeIdGenerator;
import io.distkit.id.snowflake.SnowflakeLayout;
import io.distkit.jdbc.SqlDialect;
import io.distkit.jdbc.internal.DialectSql;
import io.distkit.testkit.Closer;
import io.distkit.testkit.id.IdChecks;
import io.distkit.testkit.server.FakeTime;
import io.distkit.testkit.server.H2Database;
import io.distkit.testkit.server.Pools;
import io.distkit.testkit.server.PostgresServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import java.util.stream.LongStream;
import org.h2.tools.Server;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * docs/failures.md, F20, F21 and F8, for {@link SnowflakeIdGenerator} on the JDBC worker-id assigner, and
 * four JVMs churning through worker ids, on PostgreSQL and on H2, with the id checker (checker 5)
 * over every id the generators returned, and a negative control that the checker catches.
 *
 * <p>Generators run in child JVMs ({@link GeneratorMain}, driven by {@link GeneratorProcess}), so that
 * they can be paused (SIGSTOP) and run on a wall clock of their own ({@link FakeTime}: CLOCK_REALTIME
 * shifted, the monotonic clock untouched; each scenario first checks that the child's
 * {@code currentTimeMillis()} and {@code Instant.now()} really are off by the shift). The children
 * share the database: PostgreSQL is a server anyway; the H2 fixture is an in-memory database of this
 * JVM, which H2's own TCP server ({@code org.h2.tools.Server}, in the h2 jar) serves to the children
 * ({@code jdbc:h2:tcp://127.0.0.1:<port>/mem:<name>}) while this JVM uses it directly. Every child
 * leases its worker id through {@code JdbcWorkerIdAssigner.builder(dataSource)} with the dialect
 * detected from the driver, as an application would.
 *
 * <p>What makes F20 bite: the paused holder A's wall clock is {@value #SKEW_MILLIS} ms <em>ahead</em>
 * of its successor B's. B starts above the mark it reads from the worker table; A's ids are all at
 * or below the mark A reserved before issuing them, so B's are above A's, however far behind B's
 * clock is. The negative control runs the same history with A's and B's leases persisting nothing
 * (their {@code saveLastTimestamp} does nothing): B starts at its own clock, which is behind the
 * timestamps A used, and the checker finds the ids B repeats.
 *
 * <p>Seeded schedules print their seed ({@code -Ddistkit.seed=N} reruns one). Every wait is bounded;
 * the only sleeps are the faults themselves (a pause's length).
 */
@Timeout(120)
class SnowflakeFailureTest {

    @RegisterExtension
    static PostgresServer postgres = PostgresServer.builder().build();

    @RegisterExtension
    static H2Database h2 = H2Database.builder().build();

    private static Server h2Tcp;

    static final SnowflakeLayout LAYOUT = SnowflakeLayout.TWITTER;
    static final Duration LEASE = Duration.ofSeconds(1);
    static final Duration PERSIST = Duration.ofMillis(100);
    static final long SKEW_MILLIS = 3_000;
    static final int WORKER = 7;
    static final long SEED = Long.getLong("distkit.seed", 20261126L);

    /** The two databases: the URL children connect to, and a pool of this JVM's. */
    enum Db {
        POSTGRESQL, H2;

        String childUrl() {
            return this == POSTGRESQL ? postgres.jdbcUrl()
                    : "jdbc:h2:tcp://127.0.0.1:" + h2Tcp.getPort() + "/mem:" + h2.name();
        }

        String user() {
            return this == POSTGRESQL ? postgres.user() : h2.user();
        }

        String password() {
            return this == POSTGRESQL ? postgres.password() : h2.password();
        }

        HikariDataSource pool() {
            return this == POSTGRESQL ? Pools.hikari(postgres.jdbcUrl(), user(), password())
                    : Pools.hikari(h2.jdbcUrl(), user(), password());
        }

        SqlDialect dialect() {
            return this == POSTGRESQL ? SqlDialect.POSTGRESQL : SqlDialect.H2;
        }
    }

    @BeforeAll
    static void serveH2ToChildren() throws SQLException {
        h2Tcp = Server.createTcpServer("-tcpPort", "0", "-tcpDaemon").start();
    }

    @AfterAll
    static void stopServingH2() {
        if (h2Tcp != null) {
            h2Tcp.stop();
        }
    }

    @TempDir
    Path tempDir;

    private final String table = "sf_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    private final Closer toClose = new Closer();
    private final Map<Db, JdbcTemplate> admins = new HashMap<>();

    @AfterEach
    void closeAll() throws Exception {
        toClose.close(); // children first (newest first), then assigners, then pools
    }

    // ---- F20 -----------------------------------------------------------------------------------------------

    /** One run of the F20 history: what A and B returned and reported. */
    record F20Run(Map<String, long[]> ids, GeneratorProcess.Started a, GeneratorProcess.Started b,
            GeneratorProcess.Status aBeforePause, GeneratorProcess.Status aAfterResume, long resumedAt,
            long aMaxTimestamp, long bMinTimestamp, long[] aReleased) {}

    /**
     * F20. Worker ids 0 to 6 are held by this JVM (30 s leases), so A, a child JVM whose wall clock is
     * 3 s ahead, gets worker 7 (lease 1 s, persist interval 100 ms). A issues ids for half a second on a
     * thread, and is paused (SIGSTOP) past its lease. Once worker 7's row has expired by the database
     * clock, B, a child JVM on the true clock, gets worker 7, waits for A's mark, and issues ids until its
     * timestamps pass A's last ones by 300 ms. A is resumed: its next call throws
     * {@code WorkerLeaseLostException} and it issues nothing more under worker 7. No id is repeated across A
     * and B, each one's ids increase, every timestamp A issued under worker 7 is at or below the mark B read,
     * and B started only once its clock had passed that mark. Then A, whose generator leases a worker id again
     * by itself, is run once more: it goes on with worker 8 (7 is B's), its ids still increasing from where
     * it stopped.
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(Db.class)
    @DisplayName("F20: a generator paused past its lease stops on resume; the next holder of worker 7, its clock 3 s behind, never repeats its ids")
    void pausedGeneratorStopsAndItsSuccessorNeverRepeatsItsIds(Db db) {
        F20Run run = f20(db, false);

        IdChecks.distinct(run.ids()).assertNoViolations();
        IdChecks.strictlyIncreasing(run.ids()).assertNoViolations();
        assertThat(run.aAfterResume().state()).as("A after the resume").isEqualTo("lost");
        assertThat(run.aAfterResume().error()).contains("WorkerLeaseLostException", "lease on worker id 7 lost");
        assertThat(run.aAfterResume().lastOkInvoke()).as("A issued nothing asked for after it was resumed")
                .isLessThan(run.resumedAt());
        assertThat(run.aMaxTimestamp()).as("every timestamp A issued is at or below the mark B read (A's reservation)")
                .isLessThanOrEqualTo(run.b().mark());
        assertThat(run.bMinTimestamp()).isGreaterThan(run.b().mark());
        assertThat(run.b().wallMillis()).as("B started only once its own wall clock had passed the mark")
                .isGreaterThan(instantOf(run.b().mark()).toEpochMilli());
        assertThat(run.b().waitedMillis()).as("B waited for A's mark: its clock is behind A's").isPositive();
        assertThat(run.aReleased()).as("A's ids after it leased a worker id again").isNotEmpty();
        assertThat(LongStream.of(run.aReleased()).map(id -> LAYOUT.decode(id).worker()).distinct().toArray())
                .as("A goes on with the next free worker id").containsExactly(WORKER + 1);
    }

    /**
     * Negative control of F20: the same history, with the leases of A and B persisting nothing (their
     * {@code saveLastTimestamp} succeeds without writing). B reads no mark of A's and starts at its own
     * clock, 3 s behind the timestamps A used: the checker finds the ids it repeats.
     */
    @Test
    @DisplayName("F20 control: the same history with persistence of the mark disabled repeats ids, and the checker finds them")
    void withoutPersistenceTheSameHistoryRepeatsIds() {
        F20Run run = f20(Db.POSTGRESQL, true);

        IdChecks.Result result = IdChecks.distinct(run.ids());
        System.out.printf("F20 control: %d duplicated ids; B read mark %d, A issued up to %d%n",
                result.count(IdChecks.Kind.DUPLICATE), run.b().mark(), run.aMaxTimestamp());
        assertThat(result.count(IdChecks.Kind.DUPLICATE)).as("%s", result).isPositive();
        assertThat(result.report()).contains("by A/gen-001-worker-7.ids", "and by B/gen-001-worker-7.ids");
        assertThat(run.aMaxTimestamp()).as("A issued above the mark B read").isGreaterThan(run.b().mark());
        assertThat(run.aAfterResume().state()).as("A still stops on resume").isEqualTo("lost");
    }

    private F20Run f20(Db db, boolean noPersist) {
        long began = System.nanoTime();
        WorkerIdAssigner here = assignerHere(db, Duration.ofSeconds(30));
        List<Integer> held = IntStream.range(0, WORKER).mapToObj(i -> here.acquire(LAYOUT.maxWorkerIds()))
                .map(WorkerLease::workerId).toList();
        assertThat(held).as("this JVM holds worker ids 0 to 6, so the next free one is 7")
                .containsExactly(0, 1, 2, 3, 4, 5, 6);
        FakeTime aheadClock = fakeTime("a-ahead", Duration.ofMillis(SKEW_MILLIS));
        FakeTime trueClock = fakeTime("b-true", Duration.ZERO);
        GeneratorProcess a = launch("A", db, aheadClock);
        GeneratorProcess b = launch("B", db, trueClock);
        a.awaitReady();
        b.awaitReady();
        assertClockOffset(a, Duration.ofMillis(SKEW_MILLIS));
        assertClockOffset(b, Duration.ZERO);
        String settings = "leaseMs=" + LEASE.toMillis() + " persistMs=" + PERSIST.toMillis()
                + (noPersist ? " noPersist" : "");

        GeneratorProcess.Started aStarted = a.start(settings);
        assertThat(aStarted.workerId()).isEqualTo(WORKER);
        a.call("run parkMicros=100");
        GeneratorProcess.Status aBeforePause = await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                .until(a::status, s -> s.count() > 0 && s.last() - s.first() >= 500);
        a.pause();
        long pausedAt = System.nanoTime();
        await().atMost(LEASE.plusSeconds(5)).pollInterval(Duration.ofMillis(20))
                .until(() -> remainingMillis(db, WORKER) <= 0);
        long expiredAfter = System.nanoTime() - pausedAt;

        GeneratorProcess.Started bStarted = b.start(settings + " startupWaitMs=15000");
        assertThat(bStarted.workerId()).as("B gets A's worker id: its row expired, 0 to 6 are held").isEqualTo(WORKER);
        b.call("run parkMicros=100");
        GeneratorProcess.Status bRan = await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(20))
                .until(b::status, s -> s.last() >= aBeforePause.last() + 300);
        b.stop();

        a.resume();
        long resumedAt = System.nanoTime();
        GeneratorProcess.Status aAfter = await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                .until(a::status, s -> !s.state().equals("running"));
        assertThat(a.awaitLost(Duration.ofSeconds(10))).as("A's lease reports its loss").isEqualTo(WORKER);
        a.stop();
        long[] aBeforeRelease = a.ids().values().stream().flatMapToLong(LongStream::of).toArray();
        long[] aReleased = noPersist ? new long[0] : runAgainAfterRelease(a, aAfter.count());

        Map<String, long[]> ids = new LinkedHashMap<>(a.ids());
        Map<String, long[]> bIds = b.ids();
        ids.putAll(bIds);
        // under worker 7; after its loss A may have issued an id under the worker id it leased next
        long aMax = LongStream.of(aBeforeRelease).filter(id -> LAYOUT.decode(id).worker() == WORKER)
                .map(SnowflakeFailureTest::timestampOf).max().orElseThrow();
        long bMin = bIds.values().stream().flatMapToLong(LongStream::of).map(SnowflakeFailureTest::timestampOf)
                .min().orElseThrow();
        System.out.printf("F20 %s%s: A (clock %+d ms) issued %d ids up to timestamp %d (mark at its start %d);"
                        + " paused, row expired %d ms later; B read mark %d, waited %d ms, issued %d ids from %d;"
                        + " A resumed: %s; %.1f s in all%n", db, noPersist ? " (control, no persistence)" : "",
                SKEW_MILLIS, a.ids().values().stream().mapToLong(v -> v.length).sum(), aMax, aStarted.mark(),
                expiredAfter / 1_000_000, bStarted.mark(), bStarted.waitedMillis(), bRan.count(), bMin,
                aAfter.state(), (System.nanoTime() - began) / 1e9);
        return new F20Run(ids, aStarted, bStarted, aBeforePause, aAfter, resumedAt, aMax, bMin, aReleased);
    }

    /**
     * Runs {@code a}, whose lease was lost, again until it has issued 1000 more ids: its generator leases a
     * worker id in the background, and a run started before that ends at once with the loss, so the run is
     * started again until ids come. Returns the ids issued after the first {@code countBefore}.
     */
    private static long[] runAgainAfterRelease(GeneratorProcess a, long countBefore) {
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() -> {
            GeneratorProcess.Status s = a.status();
            if (s.count() >= countBefore + 1000) {
                return true;
            }
            if (!s.state().equals("running")) {
                a.call("run parkMicros=100");
            }
            return false;
        });
        a.stop();
        long[] all = a.ids().values().stream().flatMapToLong(LongStream::of).toArray();
        return Arrays.copyOfRange(all, (int) countBefore, all.length);
    }

    // ---- F21 -----------------------------------------------------------------------------------------------

    /**
     * F21. A generator in this JVM issues ids on worker 0 and closes; the worker table holds its mark.
     * A child JVM whose wall clock is 10 s behind that mark restarts on worker 0: configured with the
     * default {@code maxStartupWait} (5 s) it refuses at once, with {@code ClockMovedBackwardsException}
     * naming the mark and its own timestamp; configured to wait up to 15 s, it waits. While it waits, the
     * test corrects the child's clock to half a second behind the mark (as NTP would; the test does not
     * sit out the full 10 s): the build notices at its next wall-clock re-sync and starts once its clock
     * has passed the mark, above every id of the first life.
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(Db.class)
    @DisplayName("F21: a restart with the wall clock 10 s behind the persisted mark refuses, or waits until the clock passes it")
    void restartWithTheClockBehindThePersistedMarkRefusesOrWaits(Db db) {
        long began = System.nanoTime();
        HikariDataSource pool = toClose.add(db.pool());
        long[] firstLife;
        try (WorkerIdAssigner assigner = JdbcWorkerIdAssigner.builder(pool).tableName(table).createTableIfMissing()
                .leaseTime(LEASE).build();
                SnowflakeIdGenerator generator = SnowflakeIdGenerator.builder(LAYOUT).workerIdAssigner(assigner)
                        .persistInterval(PERSIST).build()) {
            assertThat(generator.workerId()).isZero();
            firstLife = generator.nextIds(10_000);
        }
        long mark = rowMark(db, 0);
        assertThat(mark).as("the mark covers the first life").isGreaterThanOrEqualTo(timestampOf(firstLife[9_999]));
        Instant markInstant = instantOf(mark);

        Duration tenSecondsBehindTheMark = Duration.between(Instant.now(), markInstant).minusSeconds(10);
        FakeTime behind = fakeTime("behind", tenSecondsBehindTheMark);
        GeneratorProcess restarted = launch("restarted", db, behind).awaitReady();
        assertClockOffset(restarted, tenSecondsBehindTheMark);

        long sent = System.nanoTime();
        String refused = restarted.await(restarted.send("start leaseMs=1000 persistMs=100"), Duration.ofSeconds(30));
        long refusedAfter = (System.nanoTime() - sent) / 1_000_000;
        assertThat(refused).startsWith("error ClockMovedBackwardsException: clock moved backwards by ")
                .contains("not past the last timestamp " + mark + " (" + markInstant + ") persisted for worker id 0")
                .contains("maxStartupWait PT5S", "refusing to start");
        Matcher reading = Pattern.compile("\\(timestamp (\\d+)\\), not past").matcher(refused);
        assertThat(reading.find()).as("the child's own timestamp in: %s", refused).isTrue();
        long behindBy = mark - Long.parseLong(reading.group(1));
        assertThat(behindBy).as("its clock was about 10 s behind the mark").isBetween(7_000L, 10_500L);
        assertThat(refusedAfter).as("refused at once, without waiting").isLessThan(3_000);

        CompletableFuture<String> waiting = restarted.send("start leaseMs=1000 persistMs=100 startupWaitMs=15000");
        await().during(Duration.ofMillis(1_500)).atMost(Duration.ofSeconds(5)).until(() -> !waiting.isDone());
        behind.shift(Duration.between(Instant.now(), markInstant).minusMillis(500)); // NTP corrects the clock
        long correctedAt = System.nanoTime();
        GeneratorProcess.Started started = GeneratorProcess.parseStarted(restarted.await(waiting, Duration.ofSeconds(10)));
        long startedAfterCorrection = (System.nanoTime() - correctedAt) / 1_000_000;

        assertThat(started.workerId()).isZero();
        assertThat(started.mark()).isEqualTo(mark);
        assertThat(started.wallMillis()).as("it started only once its wall clock had passed the mark")
                .isGreaterThan(markInstant.toEpochMilli());
        assertThat(started.waitedMillis()).as("it waited through the wrong clock").isGreaterThanOrEqualTo(1_500);
        restarted.call("generate 1000");
        long firstAfter = restarted.ids().values().iterator().next()[0];
        IdChecks.noRewindAfterRestart(Map.of("first life", firstLife), "restarted", firstAfter).assertNoViolations();
        assertThat(timestampOf(firstAfter)).isGreaterThan(mark);
        System.out.printf("F21 %s: mark %d; the clock %d ms behind it: refused in %d ms; waiting: started %d ms after"
                        + " the clock was corrected, %d ms in all; %.1f s in all%n", db, mark, behindBy, refusedAfter,
                startedAfterCorrection, started.waitedMillis(), (System.nanoTime() - began) / 1e9);
    }

    // ---- F8 ------------------------------------------------------------------------------------------------

    /**
     * F8. A child JVM issues ids on a thread (one every 50 µs or so) while its wall clock steps +60 s,
     * back to true (-60 s), to 60 s behind (-60 s more), and to 61 s ahead. What the generator's javadoc
     * promises in strict mode: a forward step is followed (at the next re-sync, within a second); after a
     * step back, no id until the time passes the last issued timestamp again, each call throwing
     * {@code ClockMovedBackwardsException} with the size of the step; ids go on when the clock is
     * ahead again. Throughout, the lease stays valid (its deadlines run on the monotonic clock, which
     * the shift leaves alone) and the ids never repeat and never decrease.
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(Db.class)
    @DisplayName("F8: wall clock steps of ±60 s while issuing: followed forward, refused backward, never a duplicate or a decrease; the lease holds")
    void wallClockStepsNeverRepeatNorDecrease(Db db) {
        long began = System.nanoTime();
        assignerHere(db, LEASE).close(); // creates the table
        FakeTime clock = fakeTime("stepped", Duration.ZERO);
        GeneratorProcess g = launch("stepped", db, clock).awaitReady();
        assertClockOffset(g, Duration.ZERO);
        g.start("leaseMs=" + LEASE.toMillis() + " persistMs=" + PERSIST.toMillis());
        g.call("run parkMicros=50");
        GeneratorProcess.Status before = await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                .until(g::status, s -> s.count() > 0 && s.last() - s.first() >= 300);

        clock.shift(Duration.ofSeconds(60));
        GeneratorProcess.Status ahead = await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
                .until(g::status, s -> s.last() >= before.last() + 60_000);

        clock.shift(Duration.ZERO);
        GeneratorProcess.Status back = await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
                .until(g::status, s -> s.clockErrors() > 0);
        assertThat(back.error()).contains("clock moved backwards by");
        assertThat(jumpMillis(back.error())).as("the size of the step, less the time since").isBetween(55_000L, 60_500L);
        long countWhileBehind = back.count();
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(50))
                .until(() -> g.status().count() == countWhileBehind);

        clock.shift(Duration.ofSeconds(-60));
        GeneratorProcess.Status further = await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
                .until(g::status, s -> jumpMillis(s.error()) > 115_000);
        assertThat(further.count()).as("still no id, 120 s behind").isEqualTo(countWhileBehind);

        clock.shift(Duration.ofSeconds(61));
        GeneratorProcess.Status resumed = await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
                .until(g::status, s -> s.count() > countWhileBehind + 1_000);
        GeneratorProcess.Status end = g.stop();

        assertThat(end.state()).as("the lease was never lost: deadlines run on the monotonic clock").isEqualTo("stopped");
        assertThat(g.lostEvents()).isZero();
        assertThat(resumed.last()).isGreaterThan(ahead.last());
        Map<String, long[]> ids = g.ids();
        IdChecks.distinctAndIncreasing(ids).assertNoViolations();
        long maxTimestamp = ids.values().stream().flatMapToLong(LongStream::of).map(SnowflakeFailureTest::timestampOf)
                .max().orElseThrow();
        assertThat(maxTimestamp).as("no id above the persisted mark").isLessThanOrEqualTo(rowMark(db, 0));
        System.out.printf("F8 %s: %d ids; +60 s followed (last %d -> %d); -60 s: %d refusals, no id; -120 s: none;"
                        + " +61 s: resumed at %d; %.1f s in all%n", db, end.count(), before.last(), ahead.last(),
                end.clockErrors(), resumed.last(), (System.nanoTime() - began) / 1e9);
    }

    // ---- churn ---------------------------------------------------------------------------------------------

    /**
     * Four child JVMs, their wall clocks -1 s, -0.3 s, +0.3 s and +1 s off (seeded order), each issue a
     * million ids through a series of generators (lease 500 ms, persist interval 50 ms): each leases a
     * worker id (the lowest free), issues a random number of ids (nextId and nextIds mixed), and is
     * closed, or, one in four, cut off from the database halfway and run until it reports its lease lost
     * (it goes on issuing from its reserve, then gets {@code IdSourceUnavailableException} until its
     * local deadline; the row then expires and another JVM, perhaps one whose clock is behind, may take
     * the id). The test also pauses two of the JVMs (seeded) for 800 ms, past their leases, while their
     * generator is issuing, and checks that every lease a paused JVM held throughout its pause reported
     * its loss (its {@code onLost} listener ran), by the JVM's log of its leases: not by what the
     * generator's calls threw, since a generator leases again by itself after a loss, perhaps the very
     * worker id it lost, and its caller then sees no exception at all. Every id of every generator is
     * distinct, and each generator's ids increase; worker ids passed from generator to generator (between
     * JVMs too in most runs: the count is printed).
     */
    @ParameterizedTest(name = "{0}")
    @EnumSource(Db.class)
    @DisplayName("four JVMs x 1M ids with worker ids churning (closed, cut off, paused past the lease): all distinct")
    void fourJvmsChurningWorkerIdsNeverShareAnId(Db db) {
        long began = System.nanoTime();
        long seed = SEED + db.ordinal();
        Random random = new Random(seed);
        System.out.printf("churn %s: seed %d (-Ddistkit.seed=%d)%n", db, seed, SEED);
        assignerHere(db, LEASE).close(); // creates the table
        List<Long> skews = new ArrayList<>(List.of(-1_000L, -300L, 300L, 1_000L));
        Collections.shuffle(skews, random);
        List<GeneratorProcess> jvms = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            jvms.add(launch("G" + i, db, fakeTime("g" + i, Duration.ofMillis(skews.get(i)))));
        }
        jvms.forEach(GeneratorProcess::awaitReady);
        long total = 1_000_000;
        for (int i = 0; i < 4; i++) {
            jvms.get(i).call("churn total=" + total + " seed=" + (seed * 31 + i) + " leaseMs=500 persistMs=50");
        }
        List<Integer> order = new ArrayList<>(List.of(0, 1, 2, 3));
        Collections.shuffle(order, random);
        List<Pause> pauses = List.of(new Pause(order.get(0), jvms.get(order.get(0)), 100_000 + random.nextInt(200_000)),
                new Pause(order.get(1), jvms.get(order.get(1)), 100_000 + random.nextInt(200_000)));
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(5))
                .until(() -> pauses.stream().map(Pause::step).reduce(true, Boolean::logicalAnd));
        pauses.forEach(p -> System.out.printf("churn %s: %s%n", db, p));
        List<GeneratorProcess.Status> ends = new ArrayList<>();
        for (GeneratorProcess jvm : jvms) {
            ends.add(await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(50))
                    .until(jvm::status, s -> !s.state().equals("churning")));
        }
        for (int i = 0; i < 4; i++) {
            System.out.printf("churn %s: G%d %s; %d lost events%n", db, i, ends.get(i), jvms.get(i).lostEvents());
            assertThat(ends.get(i).state()).as("G%d: %s", i, ends.get(i).error()).isEqualTo("done");
        }

        Map<String, long[]> ids = new LinkedHashMap<>();
        jvms.forEach(jvm -> ids.putAll(jvm.ids()));
        long count = ids.values().stream().mapToLong(v -> v.length).sum();
        long checkStart = System.nanoTime();
        IdChecks.distinct(ids).assertNoViolations();
        IdChecks.strictlyIncreasing(ids).assertNoViolations();
        long checkMillis = (System.nanoTime() - checkStart) / 1_000_000;

        Map<Integer, Set<String>> jvmsByWorker = new HashMap<>();
        ids.keySet().forEach(label -> jvmsByWorker.computeIfAbsent(GeneratorProcess.workerOf(label), w -> new HashSet<>())
                .add(label.substring(0, label.indexOf('/'))));
        long shared = jvmsByWorker.values().stream().filter(s -> s.size() > 1).count();
        int lost = ends.stream().mapToInt(GeneratorProcess.Status::lost).sum();
        assertThat(pauses).as("pauses that happened").anyMatch(p -> p.pausedAt != 0);
        // a lease held all through a pause longer than the lease is lost (its local deadline passes while paused,
        // and no renewal could be sent), and the loss is reported, however the generator went on afterwards
        Map<Pause, List<GeneratorProcess.Lease>> leasesOfPaused = new LinkedHashMap<>();
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(50)).untilAsserted(() -> {
            for (Pause p : pauses) {
                if (p.pausedAt != 0) {
                    leasesOfPaused.put(p, p.jvm.leases());
                    assertThat(p.heldThroughout(leasesOfPaused.get(p)))
                            .as("G%d's leases held all through its pause of %d ms (lease 500 ms)", p.index,
                                    Pause.PAUSE_MILLIS).allMatch(GeneratorProcess.Lease::lost, "reported lost");
                }
            }
        });
        Map<Pause, List<GeneratorProcess.Lease>> heldThroughPauses = new LinkedHashMap<>();
        leasesOfPaused.forEach((p, all) -> {
            List<GeneratorProcess.Lease> held = p.heldThroughout(all);
            heldThroughPauses.put(p, held);
            // a generator that leased the same worker id again after the loss: none of its calls may have told
            System.out.printf("churn %s: G%d held %s all through its pause%n", db, p.index, held.stream()
                    .map(l -> "worker " + l.workerId() + " of generator " + l.generator() + " (reported lost "
                            + (l.lostAt() - p.resumeSentAt) / 1_000_000 + " ms after the SIGCONT; the next lease: "
                            + (all.indexOf(l) + 1 < all.size() ? "worker " + all.get(all.indexOf(l) + 1).workerId()
                                    + " of generator " + all.get(all.indexOf(l) + 1).generator() : "none") + ")")
                    .toList());
        });
        assertThat(heldThroughPauses.values()).as("pauses that came while a lease was held (each waits until a generator"
                + " has 60,000 ids to go)").anyMatch(held -> !held.isEmpty());
        int lostToPauses = heldThroughPauses.values().stream().mapToInt(List::size).sum();
        int cuts = ends.stream().mapToInt(GeneratorProcess.Status::cuts).sum();
        assertThat(count).isGreaterThanOrEqualTo(4 * total);
        assertThat(ids).as("generators").hasSizeGreaterThanOrEqualTo(4 * 4);
        assertThat(lost).as("leases lost (cuts and pauses)").isPositive();
        // worker ids were handed from one generator to the next (closed or lost, then leased again); whether one
        // also moved to another JVM is up to timing (each JVM leases the lowest free id at once after a close), so
        // it is reported, not required: F20 hands worker 7 from one JVM to another, skewed clock and all, every run
        assertThat(ids.size()).as("generators, against the worker ids they used").isGreaterThan(jvmsByWorker.size());
        System.out.printf("churn %s: %,d ids from %d generators in 4 JVMs (clock skews %s ms); %d cuts, %d leases lost"
                        + " (and %d held through the pauses); worker ids %s, %d of them used by several JVMs;"
                        + " checked in %d ms; %.1f s in all%n", db, count, ids.size(), skews, cuts, lost, lostToPauses,
                new java.util.TreeSet<>(
                        jvmsByWorker.keySet()), shared, checkMillis, (System.nanoTime() - began) / 1e9);
    }

    /**
     * A pause of one churning JVM for {@value #PAUSE_MILLIS} ms (past its 500 ms lease), once it has issued
     * {@code threshold} ids and its generator is issuing with at least 60,000 ids to go (so that it is
     * paused mid-stream, not as it closes, nor cut off already and waiting for its loss: at a few hundred
     * thousand ids a second, that is far more than the time the SIGSTOP takes to arrive). Driven by
     * {@link #step()} from one polling loop, so that two pauses can overlap. The {@link System#nanoTime()}
     * readings just before the SIGSTOP was sent and just before the SIGCONT was sent bound the pause:
     * {@link #heldThroughout} the leases the JVM held all through it.
     */
    static final class Pause {
        static final long PAUSE_MILLIS = 800;
        final int index;
        final GeneratorProcess jvm;
        final long threshold;
        GeneratorProcess.Status at;
        long stopSentAt;
        long pausedAt;
        long resumeSentAt;
        boolean over;

        Pause(int index, GeneratorProcess jvm, long threshold) {
            this.index = index;
            this.jvm = jvm;
            this.threshold = threshold;
        }

        /** Moves on when due; true once this pause is over (or the JVM finished before it qualified). */
        boolean step() {
            if (over) {
                return true;
            }
            if (pausedAt == 0) {
                GeneratorProcess.Status s = jvm.status();
                if (!s.state().equals("churning")) {
                    at = s;
                    over = true;
                } else if (s.count() >= threshold && s.phase().equals("issuing") && s.left() >= 60_000) {
                    stopSentAt = System.nanoTime();
                    jvm.pause();
                    pausedAt = System.nanoTime();
                    at = s;
                }
                return over;
            }
            if (System.nanoTime() - pausedAt >= PAUSE_MILLIS * 1_000_000) { // the fault's length
                resumeSentAt = System.nanoTime();
                jvm.resume();
                over = true;
            }
            return over;
        }

        /**
         * The leases of {@code leases} (the JVM's) acquired before the SIGSTOP was sent and not closed before
         * the SIGCONT was: held while the JVM stood still for at least {@value #PAUSE_MILLIS} ms.
         */
        List<GeneratorProcess.Lease> heldThroughout(List<GeneratorProcess.Lease> leases) {
            return leases.stream().filter(l -> l.heldThroughout(stopSentAt, resumeSentAt)).toList();
        }

        @Override
        public String toString() {
            return pausedAt == 0 ? jvm.name() + " finished before it reached " + threshold + " ids mid-stream: not paused"
                    : "paused " + jvm.name() + " for " + PAUSE_MILLIS + " ms at " + at.count() + " ids (" + at.left()
                            + " to go for its generator)";
        }
    }

    // ---- support -------------------------------------------------------------------------------------------

    static long timestampOf(long id) {
        return LAYOUT.decode(id).timestampUnits();
    }

    static Instant instantOf(long timestamp) {
        return LAYOUT.epoch().plus(LAYOUT.timeUnit().multipliedBy(timestamp));
    }

    /** The milliseconds in "clock moved backwards by N ms", or -1. */
    static long jumpMillis(String error) {
        Matcher m = Pattern.compile("clock moved backwards by (\\d+) ms").matcher(error);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    /** An assigner in this JVM on the test's table (created if missing), closed after the test. */
    private WorkerIdAssigner assignerHere(Db db, Duration lease) {
        HikariDataSource pool = toClose.add(db.pool());
        return toClose.add(JdbcWorkerIdAssigner.builder(pool).tableName(table).createTableIfMissing().leaseTime(lease)
                .build());
    }

    private GeneratorProcess launch(String name, Db db, FakeTime clock) {
        try {
            Path out = Files.createDirectory(tempDir.resolve("ids-" + name));
            return toClose.add(GeneratorProcess.launch(name, db.childUrl(), db.user(), db.password(), table, out, clock));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private FakeTime fakeTime(String name, Duration offset) {
        try {
            FakeTime clock = FakeTime.in(Files.createDirectory(tempDir.resolve("clock-" + name)));
            clock.shift(offset);
            return clock;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The child's wall clock (currentTimeMillis and Instant.now) is off this JVM's by {@code expected}, within 1.5 s. */
    private static void assertClockOffset(GeneratorProcess child, Duration expected) {
        long millis = child.clockOffset().toMillis();
        long instantMillis = child.instantOffset().toMillis();
        assertThat(millis).as("%s: System.currentTimeMillis() off ours (FakeTime preload)", child.name())
                .isBetween(expected.toMillis() - 1_500, expected.toMillis() + 1_500);
        assertThat(instantMillis).as("%s: Instant.now() off ours", child.name())
                .isBetween(expected.toMillis() - 1_500, expected.toMillis() + 1_500);
    }

    private JdbcTemplate admin(Db db) {
        return admins.computeIfAbsent(db, d -> new JdbcTemplate(toClose.add(d.pool())));
    }

    /** Milliseconds until the row's lease expires, by the database clock (negative once expired). */
    private long remainingMillis(Db db, int workerId) {
        return admin(db).queryForObject("SELECT " + DialectSql.of(db.dialect()).millisUntil("expires_at") + " FROM "
                + table + " WHERE lock_name = ?", Long.class, "worker-" + workerId);
    }

    /** The high-water mark the worker table holds for {@code workerId}. */
    private long rowMark(Db db, int workerId) {
        return admin(db).queryForObject("SELECT last_timestamp FROM " + table + " WHERE lock_name = ?", Long.class,
                "worker-" + workerId);
    }
}
