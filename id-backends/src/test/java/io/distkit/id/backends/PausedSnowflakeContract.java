package io.distkit.id.backends;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.distkit.testkit.Closer;
import io.distkit.testkit.id.IdChecks;
import io.distkit.testkit.process.ChildJvm;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * F20 on a store's worker-id assigner with a real pause: a snowflake generator in a child JVM is stopped with
 * SIGSTOP past its worker lease, a second generator takes the same worker id once the store let the lease go,
 * and the first is resumed while the second keeps generating. The first must fail instead of issuing, and no id
 * may be issued twice. Negative control: the same history with a generator blind to the loss repeats ids, and
 * the same check flags it. Both generators can only lease worker id 0 ({@link PausedSnowflakeMain}).
 */
public abstract class PausedSnowflakeContract {

    private final Closer toClose = new Closer();

    @TempDir
    Path dir;

    /** The factory the child JVMs open the assigner with. */
    protected abstract Class<? extends PausedSnowflakeMain.Factory> factory();

    /** The store's address, as the factory takes it. */
    protected abstract String address();

    /** The worker lease; 2 s unless the store needs another. */
    protected Duration leaseTime() {
        return Duration.ofSeconds(2);
    }

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    @Test
    @DisplayName("F20: a generator paused past its worker lease fails when resumed, while its successor holds the id; no id twice")
    void pausedGeneratorStopsAndItsSuccessorNeverSharesAnId() throws Exception {
        Map<String, long[]> ids = run(false);
        IdChecks.distinct(ids).assertNoViolations();
    }

    @Test
    @DisplayName("F20 negative control: a generator blind to the loss goes on after the pause, and the check flags the repeated ids")
    void aGeneratorBlindToTheLossRepeatsIds() throws Exception {
        Map<String, long[]> ids = run(true);
        assertThat(IdChecks.distinct(ids).count(IdChecks.Kind.DUPLICATE)).as("the same check flags the control").isPositive();
    }

    private Map<String, long[]> run(boolean blind) throws Exception {
        Path first = dir.resolve("paused.ids");
        Path second = dir.resolve("successor.ids");
        ChildJvm paused = start("paused", first, blind);
        paused.awaitLine(line -> line.endsWith("leased"), Duration.ofSeconds(30));
        paused.awaitLine(line -> line.contains("issued"), Duration.ofSeconds(30));
        paused.pause(); // SIGSTOP: no renewal, no id, its clock runs on

        ChildJvm successor = start("successor", second, false);
        successor.awaitLine(line -> line.endsWith("leased"), Duration.ofSeconds(60)); // once the paused lease ran out
        successor.awaitLine(line -> line.contains("issued"), Duration.ofSeconds(30));

        long pausedIssued = issued(paused);
        long pausedWritten = StoreUniquenessContract.read(first).length; // stopped: the file holds every flushed batch
        long successorIssued = issued(successor);
        paused.resume();
        if (blind) {
            await().atMost(Duration.ofSeconds(30)).until(() -> issued(paused) > pausedIssued); // goes on, worker id 0
        } else {
            String failed = paused.awaitLine(line -> line.startsWith(PausedSnowflakeMain.PREFIX + "failed"),
                    Duration.ofSeconds(30));
            System.out.println(getClass().getSimpleName() + ": the resumed generator " + failed);
            assertThat(paused.awaitExit(Duration.ofSeconds(20))).as("it exits on the failure").hasValue(3);
            assertThat(StoreUniquenessContract.read(first).length - pausedWritten)
                    .as("the resumed generator learns that its worker id is gone before another batch (at most the"
                            + " one it had made before the pause)").isLessThanOrEqualTo(100);
        }
        // the successor keeps generating a while after the resume: an id the paused one issued now would collide
        await().atMost(Duration.ofSeconds(30)).until(() -> issued(successor) >= successorIssued + 300_000);
        for (ChildJvm child : new ChildJvm[] {successor, paused}) {
            try {
                child.send("stop");
            } catch (IllegalStateException exited) {
                // it ended by itself (the resumed generator, on its failure)
            }
        }
        assertThat(successor.awaitExit(Duration.ofSeconds(20))).as("successor %s", successor.logTail(20)).hasValue(0);
        assertThat(paused.awaitExit(Duration.ofSeconds(20))).as("the paused generator ended").isPresent();

        Map<String, long[]> ids = new LinkedHashMap<>();
        ids.put("paused", StoreUniquenessContract.read(first));
        ids.put("successor", StoreUniquenessContract.read(second));
        for (Map.Entry<String, long[]> e : ids.entrySet()) {
            assertThat(e.getValue()).as("%s issued ids", e.getKey()).isNotEmpty();
            assertThat(Arrays.stream(e.getValue()).map(id -> (id >>> 12) & 1023).distinct())
                    .as("%s: every id of worker id 0, the one both leased", e.getKey()).containsExactly(0L);
        }
        return ids;
    }

    /** The last count a child reported ({@code issued <n>}); 0 before the first. */
    private static long issued(ChildJvm child) {
        long last = 0;
        String issued = PausedSnowflakeMain.PREFIX + "issued ";
        for (String line : child.lines()) {
            if (line.startsWith(issued)) {
                last = Long.parseLong(line.substring(issued.length()).trim());
            }
        }
        return last;
    }

    private ChildJvm start(String name, Path out, boolean blind) {
        String[] args = blind
                ? new String[] {factory().getName(), address(), Long.toString(leaseTime().toMillis()), out.toString(), "lossBlind"}
                : new String[] {factory().getName(), address(), Long.toString(leaseTime().toMillis()), out.toString()};
        return toClose.add(ChildJvm.builder(PausedSnowflakeMain.class).name(name).args(args).start());
    }
}
