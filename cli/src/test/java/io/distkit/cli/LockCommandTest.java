package io.distkit.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.jdbc.JdbcLockClient;
import io.distkit.testkit.process.ChildJvm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LockCommandTest {

    private final String db = Cli.h2Url();

    @TempDir
    Path dir;

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
    void stopsTheCommandWhenTheLockIsLost() throws Exception {
        Path pidFile = dir.resolve("pid");
        CompletableFuture<Cli.Result> run = CompletableFuture.supplyAsync(() -> Cli.run("lock", "--backend", db,
                "--name", "job", "--lease", "1s", "--grace", "5s", "--",
                "sh", "-c", "echo $$ > '" + pidFile + "'; exec sleep 60"));
        await().atMost(Duration.ofSeconds(20)).until(() -> Files.exists(pidFile) && !Files.readString(pidFile).isBlank());
        long pid = Long.parseLong(Files.readString(pidFile).strip());
        assertThat(ProcessHandle.of(pid)).get().matches(ProcessHandle::isAlive);

        // another owner takes the row: the next renewal (every third of the 1 s lease) finds the lock gone
        assertThat(steal("job")).isEqualTo(1);

        Cli.Result r = await().atMost(Duration.ofSeconds(10)).until(() -> run.getNow(null), result -> result != null);
        assertThat(r.code()).as("%s", r).isEqualTo(128 + 15); // the command's own code: killed by SIGTERM
        assertThat(r.err()).contains("lost lock 'job'").contains("stopping the command (pid " + pid + ")");
        Optional<ProcessHandle> child = ProcessHandle.of(pid);
        assertThat(child.isEmpty() || !child.get().isAlive()).as("child %d gone", pid).isTrue();
    }

    @Test
    void holderPausedPastItsLeaseStopsTheCommandWhenItWakes() {
        Duration lease = Duration.ofSeconds(2);
        String file = "jdbc:h2:file:" + dir.resolve("locks").toAbsolutePath();
        try (ChildJvm distkit = ChildJvm.builder(Main.class)
                .args("lock", "--backend", file, "--name", "paused", "--lease", "2s", "--grace", "5s", "--",
                        "sh", "-c", "echo pid $$; exec sleep 60")
                .start()) {
            long pid = Long.parseLong(distkit.awaitLine(l -> l.startsWith("pid "), Duration.ofSeconds(30)).substring(4));

            distkit.pause(); // a GC pause, as far as the lock can tell: no renewal runs
            long pausedAt = System.nanoTime();
            await().atMost(Duration.ofSeconds(10)).until(() -> System.nanoTime() - pausedAt > lease.toNanos() * 3 / 2);
            assertThat(ProcessHandle.of(pid)).get().matches(ProcessHandle::isAlive); // nobody has told it yet
            distkit.resume();

            assertThat(distkit.awaitExit(Duration.ofSeconds(15))).hasValue(128 + 15);
            Optional<ProcessHandle> child = ProcessHandle.of(pid);
            assertThat(child.isEmpty() || !child.get().isAlive()).as("child %d gone", pid).isTrue();
            assertThat(distkit.logTail(10)).contains("lost lock 'paused'", "warning: lock 'paused'");
        }
    }

    @Test
    void commandThatCannotBeStartedExits127AndReleasesTheLock() {
        Cli.Result r = Cli.run("lock", "--backend", db, "--name", "x", "--", "/nonexistent/command");

        assertThat(r.code()).as("%s", r).isEqualTo(LockCommand.EXIT_CANNOT_RUN);
        assertThat(r.errLines()).singleElement().asString().contains("cannot run /nonexistent/command");
        assertThat(Cli.run("lock", "--backend", db, "--name", "x", "--wait", "0", "true").code()).isZero();
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
}
