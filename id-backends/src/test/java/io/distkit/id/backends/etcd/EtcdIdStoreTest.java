package io.distkit.id.backends.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.id.IdGenerator;
import io.distkit.id.IdStore;
import io.distkit.id.IdStores;
import io.distkit.id.Segment;
import io.distkit.id.SegmentAllocator;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.testkit.server.EtcdCluster;
import io.etcd.jetcd.Client;
import java.net.URI;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** {@link EtcdIdStore} opened by {@link IdStores#connect} from etcd:// URIs: its three parts, on one client. */
class EtcdIdStoreTest {

    static EtcdCluster etcd;
    static Client admin;

    @BeforeAll
    static void start() {
        etcd = EtcdTests.started();
        admin = EtcdTests.client(etcd);
    }

    @AfterAll
    static void stop() {
        if (admin != null) {
            admin.close();
        }
        if (etcd != null) {
            etcd.close();
        }
    }

    private static String uri(String path) {
        return "etcd://127.0.0.1:" + etcd.member(0).clientPort() + path;
    }

    @Test
    @DisplayName("etcd:// opens a store whose counter, allocator and assigner work under the URI's key prefix; close ends them all")
    void storeFromUri() throws Exception {
        IdStore store = IdStores.connect(uri("/app1"));
        assertThat(store).isInstanceOf(EtcdIdStore.class);
        assertThat(store.describe()).contains("127.0.0.1:" + etcd.member(0).clientPort()).contains("app1/");

        IdGenerator orders = store.counter("orders");
        long a = orders.nextId();
        long[] batch = orders.nextIds(10);
        assertThat(batch[0]).isGreaterThan(a);
        assertThat(store.counter("orders").nextId()).as("another counter on the same sequence").isGreaterThan(batch[9]);
        assertThat(admin.getKVClient().get(EtcdCalls.bytes("app1/counter/orders")).get(10, TimeUnit.SECONDS).getKvs())
                .hasSize(1);

        SegmentAllocator allocator = store.segmentAllocator();
        assertThat(store.segmentAllocator()).isSameAs(allocator);
        assertThat(allocator.allocate("items", 10)).isEqualTo(new Segment("items", 1, 11));

        WorkerIdAssigner assigner = store.workerIdAssigner();
        assertThat(store.workerIdAssigner()).as("one assigner per store").isSameAs(assigner);
        WorkerLease lease = assigner.acquire(16);
        assertThat(lease.workerId()).isZero();
        lease.saveLastTimestamp(42);

        store.close();
        store.close(); // idempotent
        assertThat(lease.isValid()).as("closed with the store").isFalse();
        assertThatThrownBy(orders::nextId).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThatThrownBy(() -> store.counter("x")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(store::segmentAllocator).isInstanceOf(IllegalStateException.class);

        try (IdStore again = IdStores.connect(uri("/app1"))) {
            WorkerLease next = again.workerIdAssigner().acquire(16);
            assertThat(next.workerId()).as("released by the close").isZero();
            assertThat(next.lastTimestamp()).isEqualTo(42);
            assertThat(again.segmentAllocator().allocate("items", 10)).isEqualTo(new Segment("items", 11, 21));
        }
    }

    @Test
    @DisplayName("a store on your jetcd client does not close it")
    void storeOnYourClient() throws Exception {
        try (Client client = EtcdTests.client(etcd)) {
            EtcdIdStore store = EtcdIdStore.of(client, "app2");
            store.counter("c").nextId();
            store.close();
            assertThat(client.getKVClient().get(EtcdCalls.bytes("app2/counter/c")).get(10, TimeUnit.SECONDS).getCount())
                    .as("the client still works").isEqualTo(1);
        }
    }

    @Test
    @DisplayName("malformed etcd URIs are IllegalArgumentExceptions that say what is wrong and show the form")
    void malformedUris() {
        for (String bad : new String[] {"etcd:///prefix", "etcd://host:99999", "etcd://host:port", "etcd://h1,,h2",
                "etcd://host?ca=/tmp/ca.pem", "etcds://host?x=1", "etcd://host?watermarks=",
                "etcd://host?watermarks=/tmp&watermarks=/tmp", "etcd://user@host", "etcd:host", "etcd://host#frag"}) {
            assertThatThrownBy(() -> IdStores.connect(URI.create(bad))).as(bad)
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected etcd://");
        }
        assertThatThrownBy(() -> IdStores.connect("etcd://host?watermarks=/no/such/directory"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("/no/such/directory")
                .hasMessageContaining("create it");
        assertThatThrownBy(() -> IdStores.connect("nosuch://x")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("etcd").hasMessageContaining("etcds");
        assertThatThrownBy(() -> new EtcdIdStoreProvider().connect(URI.create(uri("")))
                .counter(" ")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    @DisplayName("the URI's parts reach the connection: hosts, default port, credentials, prefix")
    void uriParts() {
        EtcdConnection connection = EtcdIdStoreProvider.parse(URI.create("etcd://u%40x:p%3Aw@h1:1234,h2/my%2Fapp"));
        assertThat(connection.endpoints).extracting(URI::toString).containsExactly("http://h1:1234", "http://h2:2379");
        assertThat(connection.user).isEqualTo("u@x");
        assertThat(connection.password).isEqualTo("p:w");
        assertThat(connection.keyPrefix).isEqualTo("my/app/");
        assertThat(EtcdIdStoreProvider.parse(URI.create("etcds://h1")).endpoints).extracting(URI::toString)
                .containsExactly("https://h1:2379");
        assertThat(EtcdIdStoreProvider.parse(URI.create("etcd://h1")).keyPrefix).isEqualTo("distkit/id/");
        assertThat(EtcdIdStoreProvider.parse(URI.create("etcd://h1?watermarks=/tmp")).watermarkDirectory)
                .isEqualTo(java.nio.file.Path.of("/tmp"));
        assertThat(EtcdIdStore.watermarkFile(java.nio.file.Path.of("/w"), "p/counter/" + "x".repeat(300)).getFileName()
                .toString()).as("too long a name: hashed").startsWith("sha256-").hasSize(7 + 64 + 10);
    }
}
