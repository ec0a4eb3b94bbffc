package io.distkit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.redlock.RedlockClient;
import io.distkit.testkit.server.RedisServer;
import io.distkit.testkit.server.RedisServer.Persistence;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command on Redlock, found by its {@code redlock://} URI: lock-redlock is on the command's class path. The
 * three masters sync their append-only file before every reply, so the default restart safeguard counts their
 * votes at once although they have just started.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class RedlockBackendTest {

    @RegisterExtension
    static final RedisServer A = RedisServer.builder().persistence(Persistence.AOF_ALWAYS).build();
    @RegisterExtension
    static final RedisServer B = RedisServer.builder().persistence(Persistence.AOF_ALWAYS).build();
    @RegisterExtension
    static final RedisServer C = RedisServer.builder().persistence(Persistence.AOF_ALWAYS).build();

    @TempDir
    Path dir;

    private static String uri() {
        return "redlock://" + Stream.of(A, B, C).map(s -> s.host() + ":" + s.port()).collect(Collectors.joining(","));
    }

    @Test
    void theDemoRunsOnRedlockAndPassesItsLockChecks() {
        Cli.Result r = Cli.run("demo", "--backend", uri(), "--duration", "2s", "--ids", "100000", "--workers", "4");

        assertThat(r.code()).as("%s", r).isZero();
        assertThat(r.out())
                .contains("distkit demo on " + uri())
                .containsPattern("fencing tokens +[\\d,]+ strictly increasing, \\d+ \\.\\. \\d+ +ok")
                .containsPattern("lost updates +0 .* ok")
                .contains("checks passed.");
    }

    @Test
    void commandsRunUnderARedlockWithIncreasingTokens() throws Exception {
        Path seen = dir.resolve("tokens");
        String append = "echo $DISTKIT_FENCING_TOKEN >> '" + seen + "'";

        Cli.Result first = Cli.run("lock", "--backend", uri(), "--name", "nightly-report", "--wait", "5s", "--",
                "sh", "-c", append);
        Cli.Result second = Cli.run("lock", "--backend", uri(), "--name", "nightly-report", "--wait", "0", "--",
                "sh", "-c", append);

        assertThat(first.code()).as("%s", first).isZero();
        assertThat(second.code()).as("%s", second).isZero();
        List<Long> tokens = Files.readAllLines(seen).stream().map(Long::parseLong).toList();
        assertThat(tokens).hasSize(2);
        assertThat(tokens.get(0)).isPositive();
        assertThat(tokens.get(1)).isGreaterThan(tokens.get(0));
    }

    @Test
    void exitsWith75WhileALibraryClientOnTheSameNodesHoldsTheLock() throws Exception {
        try (LockClient other = RedlockClient.builder(uri()).build();
                LockHandle held = other.lock("busy").acquire()) {
            Path ran = dir.resolve("ran");

            Cli.Result r = Cli.run("lock", "--backend", uri(), "--name", "busy", "--wait", "300ms", "--",
                    "touch", ran.toString());

            assertThat(r.code()).as("%s", r).isEqualTo(LockCommand.EXIT_NOT_ACQUIRED);
            assertThat(r.errLines()).singleElement().asString()
                    .contains("'busy' is held by someone else; gave up after 300 ms");
            assertThat(ran).doesNotExist();
            assertThat(held.isHeld()).isTrue();
        }
    }

    @Test
    void aLeaseAboveMaxLeaseTimeIsABadArgumentUnlessTheUriRaisesIt() throws Exception {
        Path ran = dir.resolve("ran");

        Cli.Result refused = Cli.run("lock", "--backend", uri(), "--name", "long", "--lease", "2m", "--",
                "touch", ran.toString());
        Cli.Result raised = Cli.run("lock", "--backend", uri() + "?maxLeaseTime=2m", "--name", "long", "--lease", "2m",
                "--", "touch", ran.toString());

        assertThat(refused.code()).as("%s", refused).isEqualTo(2);
        assertThat(refused.err()).contains("--lease").contains("maxLeaseTime");
        assertThat(raised.code()).as("%s", raised).isZero();
        assertThat(ran).exists();
    }

    @Test
    void aNodeSetOfTwoIsABadArgument() {
        Cli.Result r = Cli.run("lock", "--backend", "redlock://" + A.host() + ":" + A.port() + "," + B.host() + ":"
                + B.port(), "--name", "x", "--", "true");

        assertThat(r.code()).as("%s", r).isEqualTo(2);
        assertThat(r.err()).contains("odd number").contains("at least 3");
    }
}
