package io.distkit.lock.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.testkit.Closer;
import io.distkit.testkit.server.EtcdCluster;
import io.distkit.testkit.server.Servers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * F23: the cluster is restored from an older snapshot, so its revision goes back and create revisions
 * (fencing tokens) handed out before would be handed out again. A client that has seen the later revisions
 * refuses to grant; a new client, which has seen nothing, cannot tell (the negative control).
 */
class EtcdRevisionRewindFailureTest {

    @RegisterExtension
    static EtcdCluster etcd = EtcdCluster.builder().build();

    private final Closer closer = new Closer();

    @AfterEach
    void close() throws Exception {
        closer.close();
    }

    @Test
    void aClientRefusesTokensAfterTheClusterWentBackToAnOlderSnapshot() throws Exception {
        EtcdCluster.Member member = etcd.member(0);
        Path snapshot = etcd.dir().resolve("snapshot-" + UUID.randomUUID() + ".db");
        etcdctl("--endpoints=" + member.endpoint(), "snapshot", "save", snapshot.toString());

        LockClient client = closer.add(EtcdLockClient.builder(member.endpoint()).build());
        String name = "rewind-" + UUID.randomUUID();
        long highest = 0;
        for (int i = 0; i < 20; i++) {
            LockHandle handle = client.lock(name).acquire();
            highest = handle.fencingToken();
            handle.release();
        }

        member.kill();
        Path dataDir = member.dataDir();
        Servers.deleteRecursively(dataDir);
        etcdctl("snapshot", "restore", snapshot.toString(), "--data-dir", dataDir.toString(), "--name", member.name(),
                "--initial-cluster", member.name() + "=" + member.peerUrl(),
                "--initial-advertise-peer-urls", member.peerUrl());
        member.start();

        String other = "rewind-other-" + UUID.randomUUID();
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).untilAsserted(() ->
                assertThatThrownBy(() -> client.lock(other).tryAcquire()).isInstanceOf(LockBackendException.class)
                        .hasMessageContaining("went back"));

        Optional<LockHandle> fresh = closer.add(EtcdLockClient.builder(member.endpoint()).build()).lock(other).tryAcquire();
        assertThat(fresh).as("a client that saw nothing before cannot tell").isPresent();
        assertThat(fresh.orElseThrow().fencingToken()).as("the token repeats one handed out before the restore")
                .isLessThanOrEqualTo(highest);
    }

    private static void etcdctl(String... args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Servers.requireBinary("etcdctl", "DISTKIT_ETCDCTL_BIN", "etcd-client").toString());
        command.addAll(List.of(args));
        Path log = Files.createTempFile("etcdctl", ".log");
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile())
                .start();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException("etcdctl " + command + " did not finish within 30 s");
        }
        String output = Files.readString(log);
        Files.deleteIfExists(log);
        if (process.exitValue() != 0) {
            throw new IllegalStateException("etcdctl " + command + " failed (" + process.exitValue() + "): " + output);
        }
    }
}
