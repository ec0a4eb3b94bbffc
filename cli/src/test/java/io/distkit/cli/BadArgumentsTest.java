package io.distkit.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class BadArgumentsTest {

    /** Arguments split on single spaces. */
    @ParameterizedTest
    @ValueSource(strings = {
        "nosuchcommand",
        "demo --duration banana",
        "demo --duration 1h",
        "demo --workers 1",
        "demo --backend nonsense",
        "demo --backend foo://localhost:1",
        "lock --backend jdbc:h2:mem:bad --name x",
        "lock --backend jdbc:h2:mem:bad -- true",
        "lock --backend jdbc:h2:mem:bad --name x --wait soon -- true",
        "lock --backend jdbc:h2:mem:bad --name x --lease 1ms -- true",
        "lock --backend foo://localhost:1 --name x -- true",
        "lock --backend jdbc:nosuchdriver://x --name x -- true",
        "lock --backend jdbc:nosuchdriver://x --name x -- true --verbose",
        "lock --backend jdbc:nosuchdriver://x --name x true --verbose",
        "lock --backend jdbc:h2:mem:bad --name x --lease 2s --grace 1s -- true",
        "lock --backend jdbc:h2:mem:bad --name x --grace 16s -- true",
        "id --kind uuid --worker-id 1",
        "id --worker-id 1",
        "id --kind snowflake",
        "id --kind snowflake --worker-id 5000",
        "id --kind snowflake --worker-id 1 --count 0",
        "id --kind segment",
        "id --kind segment --backend foo://localhost:1",
        "id --kind counter",
        "id --kind counter --backend jdbc:h2:mem:x --worker-id 1",
        "id decode",
        "id decode not-an-id",
        "id decode 123 --layout hexagonal",
        "id decode -5",
    })
    void oneLineErrorAndExitCode2(String args) {
        Cli.Result r = Cli.run(args.split(" "));

        assertThat(r.code()).as("%s", r).isEqualTo(2);
        assertThat(r.errLines()).as("%s", r).singleElement().asString()
                .startsWith("distkit")
                .contains("--help")
                .doesNotContain("Exception");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void lockWithoutBackendAsksForOne() {
        assumeTrue(System.getenv("DISTKIT_BACKEND") == null, "DISTKIT_BACKEND is set");
        Cli.Result r = Cli.run("lock", "--name", "x", "--", "true");

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--backend is required (or set DISTKIT_BACKEND)");
    }

    @Test
    void graceOfHalfTheLeaseIsRefusedSayingWhy() {
        Cli.Result r = Cli.run("lock", "--backend", "jdbc:h2:mem:bad", "--name", "x", "--lease", "2s", "--grace", "1s",
                "--", "true");

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.errLines()).singleElement().asString()
                .startsWith("distkit lock: --grace must be less than half the --lease (2 s), was 1 s");
    }

    @Test
    void tooLongALockNameIsAnErrorOfTheName() {
        Cli.Result r = Cli.run("lock", "--backend", Cli.h2Url(), "--name", "n".repeat(201), "--", "true");

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.errLines()).singleElement().asString()
                .startsWith("distkit lock: --name: lock name must be at most 200 characters");
    }

    @Test
    void verboseAddsTheStackTrace() {
        Cli.Result r = Cli.run("demo", "--verbose", "--duration", "banana");

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.errLines().size()).isGreaterThan(1);
        assertThat(r.err()).contains("\tat picocli.");
    }

    @Test
    void everyCommandHasHelpWithExamples() {
        for (String[] command : new String[][] {{"--help"}, {"demo", "--help"}, {"lock", "--help"}, {"id", "--help"},
                {"id", "decode", "--help"}}) {
            Cli.Result r = Cli.run(command);
            assertThat(r.code()).as("%s", r).isZero();
            assertThat(r.out()).as(String.join(" ", command)).contains("Usage: distkit", "Examples:");
        }
    }
}
