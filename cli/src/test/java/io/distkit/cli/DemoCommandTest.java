package io.distkit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.testkit.process.ChildJvm;
import io.distkit.testkit.server.ServerProcess;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoCommandTest {

    @Test
    void defaultRunOnEmbeddedH2PassesEveryCheckWellWithinThirtySeconds() {
        long start = System.nanoTime();
        Cli.Result r = Cli.run("demo");
        Duration took = Duration.ofNanos(System.nanoTime() - start);

        assertThat(r.code()).as("%s", r).isZero();
        assertThat(took).isLessThan(Duration.ofSeconds(30));
        assertThat(r.out())
                .contains("embedded H2 database")
                .containsPattern("lock acquisitions +[\\d,]+ in 1\\d\\.\\d s \\(client 1: [\\d,]+, client 2: [\\d,]+\\) +ok")
                .containsPattern("lock wait p50 / p99 +[\\d.]+ ms / [\\d.]+ ms")
                .containsPattern("fencing tokens +[\\d,]+ strictly increasing, \\d+ \\.\\. \\d+ +ok")
                .containsPattern("lost updates +0 \\(register ([\\d,]+); acquisitions \\1 - refused 0\\) +ok")
                .containsPattern("snowflake ids +2,000,000 in [\\d.]+ s: [\\d,]+ ids/s +ok")
                .containsPattern("snowflake duplicates +0 .* ok")
                .containsPattern("segment ids +2,000,000 in [\\d.]+ s: [\\d,]+ ids/s +ok")
                .containsPattern("segment duplicates +0 .* ok")
                .contains("All 7 checks passed.");
        assertThat(r.err()).isEmpty();
    }

    @Test
    void shortRunPrintsPlainProgressLinesWhenNotOnATerminal() {
        Cli.Result r = Cli.run("demo", "--duration", "2s", "--ids", "100000", "--workers", "4");

        assertThat(r.code()).as("%s", r).isZero();
        assertThat(r.out()).doesNotContain("\r").containsPattern("(?m)^ +\\d+\\.\\d s \\| lock: [\\d,]+ acquisitions \\| snowflake: .+ \\| segment: .+$");
        assertThat(r.out()).containsPattern("snowflake ids +100,000 in ").contains("All 7 checks passed.");
    }

    @Test
    void stoppedDemoDeletesItsDatabase(@TempDir Path tmp) throws IOException {
        try (ChildJvm demo = ChildJvm.builder(Main.class)
                .jvmArgs("-Djava.io.tmpdir=" + tmp)
                .args("demo", "--duration", "1m", "--ids", "10000", "--workers", "2")
                .start()) {
            demo.awaitLine(l -> l.contains(" | lock: "), Duration.ofSeconds(30)); // running: a progress line
            assertThat(demoDirs(tmp)).hasSize(1);

            ServerProcess.sendSignal(ProcessHandle.of(demo.pid()).orElseThrow(), "TERM"); // as Ctrl-C would

            assertThat(demo.awaitExit(Duration.ofSeconds(30))).hasValue(128 + 15);
            assertThat(demoDirs(tmp)).isEmpty();
        }
    }

    private static List<Path> demoDirs(Path tmp) throws IOException {
        try (Stream<Path> files = Files.list(tmp)) {
            return files.filter(p -> p.getFileName().toString().startsWith("distkit-demo-")).toList();
        }
    }
}
