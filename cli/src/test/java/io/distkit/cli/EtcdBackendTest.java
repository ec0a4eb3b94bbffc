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
        long[] counted = IdStoresBackendTest.ids(Cli.run("id", "--backend", uri(), "--kind", "counter", "--tag", "invoice",
                "--count", "3"));
        assertThat(counted).hasSize(3).doesNotHaveDuplicates().isSorted();
        long[] segment = IdStoresBackendTest.ids(Cli.run("id", "--backend", uri(), "--kind", "segment", "--tag", "order",
                "--count", "5"));
        assertThat(segment).containsExactly(1, 2, 3, 4, 5);
        long[] again = IdStoresBackendTest.ids(Cli.run("id", "--backend", uri(), "--kind", "segment", "--tag", "order"));
        assertThat(again).containsExactly(6);
        long[] snowflakes = IdStoresBackendTest.ids(Cli.run("id", "--backend", uri(), "--kind", "snowflake", "--count", "1000"));
        assertThat(snowflakes).hasSize(1000).doesNotHaveDuplicates().isSorted();
        Cli.Result demo = Cli.run("demo", "--backend", uri(), "--duration", "1s", "--ids", "10000", "--workers", "2");
        assertThat(demo.out()).as("%s", demo).contains("leased from the backend").contains("ranges from the backend");
    }
}
