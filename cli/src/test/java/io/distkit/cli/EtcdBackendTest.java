package io.distkit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.testkit.server.EtcdCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The command on an etcd backend, found by its {@code etcd://} URI: lock-etcd is on the command's class path. */
class EtcdBackendTest {

    @RegisterExtension
    static final EtcdCluster ETCD = EtcdCluster.builder().members(1).build();

    private static String uri() {
        return ETCD.endpoints().get(0).replace("http://", "etcd://") + "/distkit-cli/";
    }

    @Test
    void theDemoRunsOnEtcdAndPassesItsLockChecks() {
        Cli.Result r = Cli.run("demo", "--backend", uri(), "--duration", "2s", "--ids", "100000", "--workers", "4");

        assertThat(r.code()).as("%s", r).isZero();
        assertThat(r.out())
                .containsPattern("fencing tokens +[\\d,]+ strictly increasing, \\d+ \\.\\. \\d+ +ok")
                .containsPattern("lost updates +0 .* ok")
                .contains("checks passed.");
    }

    @Test
    void aCommandRunsUnderAnEtcdLock(@TempDir Path tmp) throws Exception {
        Path seen = tmp.resolve("ran");
        Cli.Result r = Cli.run("lock", "--backend", uri(), "--name", "nightly-report", "--wait", "5s", "--",
                "sh", "-c", "echo ran > '" + seen + "'");

        assertThat(r.code()).as("%s", r).isZero();
        assertThat(Files.readString(seen)).isEqualTo("ran\n");
    }

    @Test
    void idsOfEveryKindComeFromTheStore() {
        IdStoresBackendTest.idsOfEveryKindComeFrom(uri());
    }
}
