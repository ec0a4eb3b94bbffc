package io.distkit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

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
                .containsPattern("lost updates +0 \\(register ([\\d,]+), increments \\1\\) +ok")
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
        assertThat(r.out()).doesNotContain("\r").containsPattern("(?m)^ +1\\.0 s \\| lock: [\\d,]+ acquisitions \\| snowflake: .+ \\| segment: .+$");
        assertThat(r.out()).containsPattern("snowflake ids +100,000 in ").contains("All 7 checks passed.");
    }
}
