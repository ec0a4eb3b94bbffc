package io.distkit.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.jdbc.JdbcLockClient;
import io.distkit.testkit.process.ChildJvm;
import io.distkit.testkit.server.ServerProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LockCommandTest {

    /**
     * A command whose whole tree must be SIGKILLed: the shell and a child ignore SIGTERM, and the shell
     * starts one more child when the SIGTERM comes (after any first look at the tree). Each writes its
     * pid to a file in the current directory: {@code sh}, {@code stubborn}, {@code late}.
     */
    private static final String STUBBORN_TREE = "trap 'sleep 60 & echo $! > late' TERM;"
            + " (trap '' TERM; exec sleep 60) & echo $! > stubborn; echo $$ > sh; wait; wait; wait";

    private final String db = Cli.h2Url();
    /** Pid files of commands started by a test: whatever they name is killed after it. */
    private final List<Path> pidFiles = new ArrayList<>();

    @TempDir
    Path dir;

    @AfterEach
    void killLeftovers() {
        for (Path file : pidFiles) {
            pid(file).flatMap(ProcessHandle::of).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    @Test
    void runsTheCommandWithTheFencingTokenAndExitsWithItsCode() throws Exception {
        Path seen = dir.resolve("seen");

        Cli.Result r = Cli.run("lock", "--backend", db, "--name", "report", "--",
                "sh", "-c", "echo \"$DISTKIT_FENCING_TOKEN $DISTKIT_LOCK_NAME\" > '" + seen + "'; exit 3");

        assertThat(r.code()).as("%s", r).isEqualTo(3);
        String[] fields = Files.readString(seen).strip().split(" ");
        assertThat(Long.parseLong(fields[0])).isPositive();
        assertThat(fields[1]).isEqualTo("report");
        assertThat(r.err()).isEmpty();
    }

    @Test
    void tokensOfLaterHoldersAreLargerAndTheLockIsFreeAfterwards() throws Exception {
        Path seen = dir.resolve("seen");
        String append = "echo $DISTKIT_FENCING_TOKEN >> '" + seen + "'";

        assertThat(Cli.run("lock", "--backend", db, "--name", "n", "sh", "-c", append).code()).isZero();
        assertThat(Cli.run("lock", "--backend", db, "--name", "n", "--wait", "0", "sh", "-c", append).code()).isZero();

        List<Long> tokens = Files.readAllLines(seen).stream().map(Long::parseLong).toList();
        assertThat(tokens).hasSize(2);
        assertThat(tokens.get(1)).isGreaterThan(tokens.get(0));
    }

    @Test
    void exitsWith75WhenAnotherClientHoldsTheLock() throws Exception {
        try (LockClient other = JdbcLockClient.builder(h2()).createTableIfMissing().build();
                LockHandle held = other.lock("busy").acquire()) {
            Path ran = dir.resolve("ran");

            Cli.Result r = Cli.run("lock", "--backend", db, "--name", "busy", "--wait", "300ms", "--",
                    "touch", ran.toString());

            assertThat(r.code()).as("%s", r).isEqualTo(LockCommand.EXIT_NOT_ACQUIRED);
            assertThat(r.errLines()).singleElement().asString()
                    .contains("'busy' is held by someone else; gave up after 300 ms");
            assertThat(ran).doesNotExist();
            assertThat(held.isHeld()).isTrue();
        }
    }

    @Test
    void stopsTheCommandWhenTheLockIsTakenOver() throws Exception {
        Path pidFile = track(dir.resolve("pid"));
        CompletableFuture<Cli.Result> run = CompletableFuture.supplyAsync(() -> Cli.run("lock", "--backend", db,
                "--name", "job", "--lease", "1s", "--",
                "sh", "-c", "echo $$ > '" + pidFile + "'; exec sleep 60"));
        long pid = awaitPid(pidFile);
        assertThat(ProcessHandle.of(pid)).get().matches(ProcessHandle::isAlive);

        // another owner takes the row: the next renewal (every third of the 1 s lease) finds the lock gone
        assertThat(steal("job")).isEqualTo(1);

        Cli.Result r = await().atMost(Duration.ofSeconds(10)).until(() -> run.getNow(null), result -> result != null);
        assertThat(r.code()).as("%s", r).isEqualTo(128 + 15); // the command's own code: killed by SIGTERM
        // the reason is the engine's, not a guess: here the lock was taken, not left to expire
        assertThat(r.err()).contains("lost lock 'job' (a renewal found the lock gone from ")
                .contains("stopping the command (pid " + pid + ")")
                .doesNotContain("not renewed");
        assertGone(pid);
    }

    @Test
    void aLostLockStopsTheWholeTreeAlsoWhatIgnoresSigtermOrStartsLater() throws Exception {
        List<Path> files = track(dir, "sh", "stubborn", "late");
        CompletableFuture<Cli.Result> run = CompletableFuture.supplyAsync(() -> Cli.run("lock", "--backend", db,
                "--name", "tree", "--lease", "1s", "--grace", "400ms", "--",
                "sh", "-c", "cd '" + dir + "'; " + STUBBORN_TREE));
        long sh = awaitPid(files.get(0));
        long stubborn = awaitPid(files.get(1));

        assertThat(steal("tree")).isEqualTo(1);

        Cli.Result r = await().atMost(Duration.ofSeconds(20)).until(() -> run.getNow(null), result -> result != null);
        assertThat(r.code()).as("%s", r).isEqualTo(128 + 9); // the shell ignored SIGTERM: SIGKILL
        long late = pid(files.get(2)).orElseThrow(() -> new AssertionError("the TERM trap did not run: " + r));
        // distkit returned only once every one of them was gone
        for (long pid : new long[] {sh, stubborn, late}) {
            assertGone(pid);
        }
    }

    @Test
    void failingRenewalsStopTheCommandByTheLeaseDeadlineEvenIfItIgnoresSigterm() throws Exception {
        List<Path> files = track(dir, "sh", "stubborn", "late");
        CompletableFuture<Cli.Result> run = CompletableFuture.supplyAsync(() -> Cli.run("lock", "--backend", db,
                "--name", "stuck", "--lease", "3s", "--grace", "1s", "--",
                "sh", "-c", "cd '" + dir + "'; " + STUBBORN_TREE));
        long sh = awaitPid(files.get(0));
        long stubborn = awaitPid(files.get(1));

        Instant expiresAt;
        AtomicReference<Instant> lastSeenAlive = new AtomicReference<>(Instant.now());
        try (Connection blocker = DriverManager.getConnection(db)) {
            // the row locked by another transaction: every renewal of it fails (lock timeout) from now on
            blocker.setAutoCommit(false);
            expiresAt = lockRow(blocker, "stuck");

            // sampled every 5 ms: when the last of them was last seen alive
            await().atMost(Duration.ofSeconds(15)).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(5))
                    .until(() -> {
                        Instant now = Instant.now();
                        if (isAlive(sh) || isAlive(stubborn)) {
                            lastSeenAlive.set(now);
                            return false;
                        }
                        return true;
                    });
            blocker.rollback();
        }

        Cli.Result r = await().atMost(Duration.ofSeconds(20)).until(() -> run.getNow(null), result -> result != null);
        assertThat(r.code()).as("%s", r).isEqualTo(128 + 9);
        assertThat(r.err()).contains("lock 'stuck' could not be renewed and its lease")
                .contains("stopping the command (pid " + sh + ") before it does");
        // SIGKILL is aimed at the client's local deadline, drift (1% + 2 ms) before the server's expiry;
        // the allowance is for a loaded machine. Before the watchdog, SIGKILL came a whole grace (1 s) after it.
        assertThat(lastSeenAlive.get()).isBefore(expiresAt.plusMillis(300));
        long late = pid(files.get(2)).orElseThrow(() -> new AssertionError("the TERM trap did not run: " + r));
        assertGone(late);
    }

    @Test
    void holderPausedPastItsLeaseStopsTheCommandWhenItWakes() {
        Duration lease = Duration.ofSeconds(2);
        String file = "jdbc:h2:file:" + dir.resolve("locks").toAbsolutePath();
        Path pidFile = track(dir.resolve("pid"));
        try (ChildJvm distkit = ChildJvm.builder(Main.class)
                .args("lock", "--backend", file, "--name", "paused", "--lease", "2s", "--",
                        "sh", "-c", "echo $$ > '" + pidFile + "'; echo pid $$; exec sleep 60")
                .start()) {
            long pid = Long.parseLong(distkit.awaitLine(l -> l.startsWith("pid "), Duration.ofSeconds(30)).substring(4));

            distkit.pause(); // a GC pause, as far as the lock can tell: no renewal runs
            long pausedAt = System.nanoTime();
            await().atMost(Duration.ofSeconds(10)).until(() -> System.nanoTime() - pausedAt > lease.toNanos() * 3 / 2);
            assertThat(ProcessHandle.of(pid)).get().matches(ProcessHandle::isAlive); // nobody has told it yet
            distkit.resume();

            // past the deadline: SIGTERM and, with no time left of the lease, SIGKILL at once
            assertThat(distkit.awaitExit(Duration.ofSeconds(15))).isPresent();
            assertThat(distkit.exitCode().orElseThrow()).isIn(128 + 15, 128 + 9);
            assertGone(pid);
            String log = distkit.logTail(20);
            assertThat(log).contains("lost lock 'paused'", "warning: lock 'paused'").doesNotContain("\tat ");
        }
    }

    @Test
    void stoppingDistkitStopsTheCommandAndReleasesTheLock() throws Exception {
        // H2 must not close the database in its own shutdown hook, before distkit's releases the lock
        String file = "jdbc:h2:file:" + dir.resolve("locks").toAbsolutePath() + ";DB_CLOSE_ON_EXIT=FALSE";
        List<Path> files = track(dir, "sh", "stubborn", "late");
        try (ChildJvm distkit = ChildJvm.builder(Main.class)
                .args("lock", "--backend", file, "--name", "signalled", "--grace", "500ms", "--",
                        "sh", "-c", "cd '" + dir + "'; echo started; " + STUBBORN_TREE)
                .start()) {
            distkit.awaitLine("started"::equals, Duration.ofSeconds(30));
            long sh = awaitPid(files.get(0));
            long stubborn = awaitPid(files.get(1));

            ServerProcess.sendSignal(ProcessHandle.of(distkit.pid()).orElseThrow(), "TERM");

            assertThat(distkit.awaitExit(Duration.ofSeconds(20))).hasValue(128 + 15);
            for (long pid : new long[] {sh, stubborn}) {
                assertGone(pid);
            }
            assertThat(distkit.logTail(10)).contains("distkit is stopping; stopping the command (pid " + sh + ")");
        }
        JdbcDataSource ds = new JdbcDataSource();
        ds.setURL(file);
        try (LockClient other = JdbcLockClient.builder(ds).build()) {
            // released, not left to its 30 s lease
            assertThat(other.lock("signalled").tryAcquire()).hasValueSatisfying(LockHandle::release);
        }
    }

    @Test
    void killingDistkitWithSigkillKillsTheWholeCommandAtOnceAlsoWhatIgnoresSigterm() {
        String file = "jdbc:h2:file:" + dir.resolve("locks").toAbsolutePath();
        List<Path> files = track(dir, "sh", "stubborn", "late");
        try (ChildJvm distkit = ChildJvm.builder(Main.class)
                .args("lock", "--backend", file, "--name", "oom-killed", "--lease", "30s", "--",
                        "sh", "-c", "cd '" + dir + "'; echo started; " + STUBBORN_TREE)
                .start()) {
            distkit.awaitLine("started"::equals, Duration.ofSeconds(30));
            long sh = awaitPid(files.get(0));
            long stubborn = awaitPid(files.get(1));

            distkit.kill(); // SIGKILL, as the OOM killer sends: no shutdown hook, no stop, no release

            // the lease (30 s) still holds everyone else off: the tree must be gone long before it runs out
            await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(10))
                    .until(() -> !isAlive(sh) && !isAlive(stubborn));
            // SIGKILL to the group at once: no SIGTERM, so the shell's TERM trap never ran
            assertThat(pid(files.get(2))).isEmpty();
        }
    }

    @Test
    void killingDistkitsWholeProcessGroupWithSigkillKillsTheCommandTooAlsoWhatIgnoresSigterm() {
        String file = "jdbc:h2:file:" + dir.resolve("locks").toAbsolutePath();
        List<Path> files = track(dir, "sh", "stubborn", "late");
        // a session of its own, as a shell's job or a CI step: its group is distkit's alone, not this JVM's
        try (ChildJvm distkit = ChildJvm.builder(Main.class).ownSession()
                .args("lock", "--backend", file, "--name", "group-killed", "--lease", "30s", "--",
                        "sh", "-c", "cd '" + dir + "'; echo started; " + STUBBORN_TREE)
                .start()) {
            distkit.awaitLine("started"::equals, Duration.ofSeconds(30));
            long sh = awaitPid(files.get(0));
            long stubborn = awaitPid(files.get(1));

            // kill -s KILL -- -<pgid>, as kill -9 %1, timeout -s KILL, a CI runner or systemd: distkit and
            // everything of its group die at once, the watchdog must not be among them
            distkit.killGroup();

            await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(10))
                    .alias("the command's tree gone after distkit's group was SIGKILLed")
                    .until(() -> !isAlive(sh) && !isAlive(stubborn));
            assertThat(pid(files.get(2))).as("the TERM trap ran: a SIGTERM came first").isEmpty();
        }
    }

    @Test
    void commandThatCannotBeStartedExits127AndReleasesTheLock() {
        Cli.Result r = Cli.run("lock", "--backend", db, "--name", "x", "--", "/nonexistent/command");

        assertThat(r.code()).as("%s", r).isEqualTo(LockCommand.EXIT_CANNOT_RUN);
        assertThat(r.errLines()).singleElement().asString().contains("cannot run /nonexistent/command");
        assertThat(Cli.run("lock", "--backend", db, "--name", "x", "--wait", "0", "true").code()).isZero();
    }

    @Test
    void verboseAfterTheCommandIsTheCommandsArgument() {
        Path seen = dir.resolve("args");

        Cli.Result r = Cli.run("lock", "--backend", db, "--name", "v", "sh", "-c", "echo \"$@\" > '" + seen + "'",
                "sh", "--verbose");

        assertThat(r.code()).as("%s", r).isZero();
        assertThat(seen).content().isEqualToIgnoringNewLines("--verbose");
        assertThat(CliLogging.verbose()).as("distkit's log verbose").isFalse();
    }

    private Path track(Path pidFile) {
        pidFiles.add(pidFile);
        return pidFile;
    }

    private List<Path> track(Path directory, String... names) {
        List<Path> files = new ArrayList<>();
        for (String name : names) {
            files.add(track(directory.resolve(name)));
        }
        return files;
    }

    private static long awaitPid(Path file) {
        return await().atMost(Duration.ofSeconds(20)).until(() -> pid(file), Optional::isPresent).orElseThrow();
    }

    private static Optional<Long> pid(Path file) {
        try {
            String text = Files.exists(file) ? Files.readString(file).strip() : "";
            return text.matches("\\d+") ? Optional.of(Long.parseLong(text)) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Alive and not a zombie: an orphan killed a moment ago may wait a while for init to reap it. */
    private static boolean isAlive(long pid) {
        return ProcessHandle.of(pid).map(LockCommand::running).orElse(false);
    }

    private static void assertGone(long pid) {
        assertThat(isAlive(pid)).as("process %d still running", pid).isFalse();
    }

    private JdbcDataSource h2() {
        JdbcDataSource ds = new JdbcDataSource();
        ds.setURL(db);
        return ds;
    }

    private int steal(String lockName) throws SQLException {
        try (Connection c = DriverManager.getConnection(db);
                PreparedStatement s = c.prepareStatement("UPDATE distkit_lock SET owner = 'thief' WHERE lock_name = ?")) {
            s.setString(1, lockName);
            return s.executeUpdate();
        }
    }

    /** Locks the lock's row in {@code c}'s open transaction and returns its expiry, final from now on. */
    private static Instant lockRow(Connection c, String lockName) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(
                "SELECT expires_at FROM distkit_lock WHERE lock_name = ? FOR UPDATE")) {
            s.setString(1, lockName);
            try (ResultSet rs = s.executeQuery()) {
                assertThat(rs.next()).isTrue();
                return rs.getObject(1, OffsetDateTime.class).toInstant();
            }
        }
    }
}
