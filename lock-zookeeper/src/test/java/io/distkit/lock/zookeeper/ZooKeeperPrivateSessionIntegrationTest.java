package io.distkit.lock.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.lock.ReadWriteLockClient;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Locks without auto-renewal live in sessions of their own: closing the client must end every one of them,
 * counted on the server (its {@code srvr} connection count), which has no other client in this class.
 */
@Timeout(60)
class ZooKeeperPrivateSessionIntegrationTest {

    private static final Pattern CONNECTIONS = Pattern.compile("Connections: (\\d+)");

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperLockContractSupport.ensemble(1);

    /** The server's open client connections, not counting this probe's own. */
    private static int connections() throws IOException {
        String hostPort = zk.connectString().split(",")[0];
        int colon = hostPort.lastIndexOf(':');
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(hostPort.substring(0, colon),
                    Integer.parseInt(hostPort.substring(colon + 1))), 5_000);
            socket.setSoTimeout(5_000);
            OutputStream out = socket.getOutputStream();
            out.write("srvr".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String answer = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            Matcher matcher = CONNECTIONS.matcher(answer);
            assertThat(matcher.find()).as("srvr answer %s", answer).isTrue();
            return Integer.parseInt(matcher.group(1)) - 1;
        }
    }

    @Test
    @DisplayName("closing the client closes the private session of every lock without auto-renewal, held or just released")
    void closeEndsEveryPrivateSession() throws Exception {
        int before = connections();
        ReadWriteLockClient client = ZooKeeperLockClient.builder(zk.connectString())
                .sessionTimeout(Duration.ofSeconds(60)).build();
        LockOptions noRenew = LockOptions.builder().leaseTime(Duration.ofSeconds(30)).autoRenew(false).build();
        List<LockHandle> held = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            held.add(client.lock("private-" + UUID.randomUUID(), noRenew).acquire());
        }
        assertThat(connections()).as("the shared session and six private ones").isEqualTo(before + 7);
        for (LockHandle handle : held.subList(0, 3)) {
            handle.release(); // their sessions close in the background
        }

        client.close(); // releases the other three, and must close all six sessions

        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(connections()).isEqualTo(before));
    }

    @Test
    @DisplayName("closing the backend closes private sessions whose close was still queued behind busy backend threads")
    void closeEndsPrivateSessionsWhoseCloseWasQueued() throws Exception {
        int before = connections();
        CuratorFramework shared = CuratorFrameworkFactory.newClient(zk.connectString(), 60_000, 5_000,
                new RetryOneTime(100));
        shared.start();
        try {
            assertThat(shared.blockUntilConnected(10, TimeUnit.SECONDS)).isTrue();
            ZooKeeperCalls calls = new ZooKeeperCalls(Duration.ofSeconds(5), "zookeeper test");
            ZooKeeperLockBackend backend = new ZooKeeperLockBackend(shared, false, "/distkit-private-test", calls,
                    60_000);
            List<PrivateSession> sessions = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                PrivateSession session = backend.openPrivateSession(Duration.ofSeconds(30));
                assertThat(session.curator().blockUntilConnected(10, TimeUnit.SECONDS)).isTrue();
                sessions.add(session);
            }
            assertThat(connections()).isEqualTo(before + 4);
            CountDownLatch busy = new CountDownLatch(2);
            CountDownLatch free = new CountDownLatch(1);
            for (int i = 0; i < 2; i++) { // both backend threads, so that the closes below wait in the queue
                calls.execute(() -> {
                    busy.countDown();
                    try {
                        free.await(2, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
            }
            assertThat(busy.await(10, TimeUnit.SECONDS)).isTrue();
            sessions.forEach(backend::retire); // as releases do: closes queued on the backend's threads

            backend.close();

            assertThat(sessions).allMatch(PrivateSession::isClosed, "closed");
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(connections()).isEqualTo(before + 1));
        } finally {
            shared.close();
        }
    }
}
