package io.distkit.id.backends.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.testkit.Closer;
import io.distkit.testkit.server.EtcdCluster;
import io.distkit.testkit.server.Servers;
import io.etcd.jetcd.Client;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * {@link EtcdWorkerMarkStore} by itself (the fencing the assigner contract relies on, the held-lock hint, a
 * foreign value) and {@link EtcdWorkerIdAssigner}'s builder checks.
 */
class EtcdWorkerMarkStoreTest {

    static EtcdCluster etcd;
    static Client client;
    private final Closer toClose = new Closer();

    @BeforeAll
    static void start() {
        etcd = EtcdTests.started();
        client = EtcdTests.client(etcd);
    }

    @AfterAll
    static void stop() {
        if (client != null) {
            client.close();
        }
        if (etcd != null) {
            etcd.close();
        }
    }

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    private static EtcdWorkerMarkStore store(String prefix) {
        return new EtcdWorkerMarkStore(client.getKVClient(), prefix + "worker-mark/", prefix + "worker-lock/",
                new EtcdCalls(Duration.ofSeconds(5), "etcd test"));
    }

    @Test
    @DisplayName("a read with a higher token fences off the lower one: its saves and reads change nothing")
    void fencedByTheHighestToken() {
        EtcdWorkerMarkStore marks = store("fence/");
        assertThat(marks.read("worker-0", 10)).hasValue(0);
        assertThat(marks.save("worker-0", 10, 500)).isTrue();
        assertThat(marks.save("worker-0", 10, 400)).as("lower: kept at 500").isTrue();
        assertThat(marks.read("worker-0", 20)).as("the next holder reads the maximum").hasValue(500);
        assertThat(marks.save("worker-0", 10, 900)).as("the old holder is fenced off").isFalse();
        assertThat(marks.read("worker-0", 10)).isEqualTo(OptionalLong.empty());
        assertThat(marks.save("worker-0", 20, 600)).isTrue();
        assertThat(marks.read("worker-0", 30)).hasValue(600);
    }

    @Test
    @DisplayName("heldLockNames: one range read finds the worker-id locks held now, by name")
    void heldLockNames() {
        WorkerIdAssigner assigner = toClose.add(EtcdWorkerIdAssigner.builder(client).keyPrefix("held")
                .leaseTime(Duration.ofSeconds(10)).build());
        WorkerLease zero = assigner.acquire(8);
        WorkerLease one = assigner.acquire(8);
        assertThat(store("held/").heldLockNames("worker-")).containsExactlyInAnyOrder("worker-0", "worker-1");
        zero.close();
        assertThat(store("held/").heldLockNames("worker-")).containsExactly("worker-1");
        assertThat(store("held/").heldLockNames("other-")).isEmpty();
        assertThat(one.workerId()).isEqualTo(1);
    }

    @Test
    @DisplayName("names with '/' and '%' are encoded as lock-etcd encodes them, and decoded back")
    void encoding() {
        assertThat(EtcdWorkerMarkStore.encode("a/b%c")).isEqualTo("a%2Fb%25c");
        assertThat(EtcdWorkerMarkStore.decode("a%2Fb%25c")).isEqualTo("a/b%c");
        assertThat(EtcdWorkerMarkStore.decode("worker-1%rw")).as("a read-write lock's keys: no lock name").isNull();
    }

    @Test
    @DisplayName("a mark key holding something else is an IdGenerationException naming the key")
    void foreignValue() throws Exception {
        client.getKVClient().put(EtcdCalls.bytes("foreign/worker-mark/worker-0"), EtcdCalls.bytes("hello"))
                .get(10, TimeUnit.SECONDS);
        assertThatThrownBy(() -> store("foreign/").read("worker-0", 1)).isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("foreign/worker-mark/worker-0").hasMessageContaining("'hello'");
    }

    @Test
    @DisplayName("the assigner's lease is whole seconds, at least 2 s; an unreachable endpoint is an IdSourceUnavailableException within the bound")
    void assignerBuilderAndUnreachable() {
        assertThatThrownBy(() -> EtcdWorkerIdAssigner.builder(client).leaseTime(Duration.ofMillis(2500)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("whole seconds");
        assertThatThrownBy(() -> EtcdWorkerIdAssigner.builder(client).leaseTime(Duration.ofSeconds(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 2 s");
        assertThatThrownBy(() -> EtcdWorkerIdAssigner.builder(client).credentials("u", "p"))
                .isInstanceOf(IllegalStateException.class);
        WorkerIdAssigner nowhere = toClose.add(EtcdWorkerIdAssigner.builder("127.0.0.1:" + Servers.freePort())
                .commandTimeout(Duration.ofSeconds(1)).build());
        long start = System.nanoTime();
        assertThatThrownBy(() -> nowhere.acquire(4)).isInstanceOf(IdSourceUnavailableException.class)
                .hasMessageContaining("127.0.0.1");
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(5_000);
    }
}
