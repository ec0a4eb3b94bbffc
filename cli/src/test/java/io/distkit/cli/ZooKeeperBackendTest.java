package io.distkit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.zookeeper.ZooKeeperLockClient;
import io.distkit.testkit.server.Servers;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command on a ZooKeeper backend, found by its {@code zookeeper://} URI: lock-zookeeper is on the command's
 * class path. The server ticks every 2 s, ZooKeeper's default, so that it grants the 30 s session the client asks
 * for and the command's default 30 s lease fits in it.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class ZooKeeperBackendTest {

    private static final String CHROOT = "/distkit-cli";

    @RegisterExtension
    static final ZooKeeperCluster ZK = ZooKeeperCluster.builder().members(1).tickTime(Duration.ofSeconds(2)).build();

    @TempDir
    Path dir;

    private static String uri() {
        return "zookeeper://" + ZK.connectString() + CHROOT;
    }

    @Test
    void theDemoRunsOnZooKeeperAndPassesItsLockChecks() {
        Cli.Result r = Cli.run("demo", "--backend", uri(), "--duration", "2s", "--ids", "100000", "--workers", "4");

        assertThat(r.code()).as("%s", r).isZero();
        assertThat(r.out())
                .contains("distkit demo on " + uri())
                .containsPattern("fencing tokens +[\\d,]+ strictly increasing, \\d+ \\.\\. \\d+ +ok")
                .containsPattern("lost updates +0 .* ok")
                .contains("checks passed.");
    }

    @Test
    void commandsRunUnderAZooKeeperLockWithIncreasingTokens() throws Exception {
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
    void exitsWith75WhileALibraryClientOnTheSameChrootHoldsTheLock() throws Exception {
        try (LockClient other = ZooKeeperLockClient.builder(ZK.connectString() + CHROOT).build();
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
    void anUnreachableEnsembleIsOneLineAndExitCode1() {
        String nobody = "127.0.0.1:" + Servers.freePort();

        Cli.Result r = Cli.run("lock", "--backend", "zookeeper://" + nobody, "--name", "x", "--", "true");

        assertThat(r.code()).as("%s", r).isEqualTo(1);
        assertThat(r.errLines()).singleElement().asString().contains("could not connect to zookeeper " + nobody);
    }

    @Test
    void aLeaseLongerThanTheGrantedSessionIsABadArgument() {
        Path ran = dir.resolve("ran");

        Cli.Result r = Cli.run("lock", "--backend", uri(), "--name", "long", "--lease", "2m", "--",
                "touch", ran.toString());

        assertThat(r.code()).as("%s", r).isEqualTo(2);
        assertThat(r.err()).contains("--lease").contains("session");
        assertThat(ran).doesNotExist();
    }

    @Test
    void idsOfEveryKindComeFromTheStore() {
        IdStoresBackendTest.idsOfEveryKindComeFrom(uri());
    }
}
