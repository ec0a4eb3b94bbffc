package io.distkit.testkit.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.testkit.server.FaultProxy.Direction;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The fault proxy between a real Lettuce client and a real redis-server: each fault as the client
 * sees it, and what the server did meanwhile (checked directly, around the proxy).
 */
class FaultProxyTest {

    /** Command timeout: short, so that a lost request or reply is noticed quickly. */
    private static final Duration TIMEOUT = Duration.ofMillis(500);
    /** Allowance for scheduling on a loaded two-core machine when checking an upper bound. */
    private static final Duration SLACK = Duration.ofMillis(300);
    private static final Duration RECOVERY = Duration.ofSeconds(10);

    @RegisterExtension
    static RedisServer redis = RedisServer.builder().build();

    @RegisterExtension
    static FaultProxy proxy = FaultProxy.builder().target(redis.host(), redis.port()).build();

    private static RedisClient client;

    private StatefulRedisConnection<String, String> connection;
    private RedisCommands<String, String> sync;

    @BeforeAll
    static void createClient() {
        client = RedisClient.create();
        // commands time out after the connection's timeout, which the URI sets and a test may raise
        client.setOptions(ClientOptions.builder().timeoutOptions(TimeoutOptions.enabled()).build());
    }

    @AfterAll
    static void shutdownClient() {
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }

    @BeforeEach
    void connect() {
        connection = client.connect(RedisURI.builder().withHost(proxy.host()).withPort(proxy.port())
                .withTimeout(TIMEOUT).build());
        sync = connection.sync();
        redis.call("FLUSHALL");
    }

    @AfterEach
    void disconnect() {
        connection.close(); // before the extension heals the proxy
    }

    @Test
    @DisplayName("pass-through: commands work and the counters see the traffic")
    void passThrough() {
        assertThat(sync.set("k", "v")).isEqualTo("OK");
        assertThat(sync.get("k")).isEqualTo("v");

        assertThat(redis.call("GET", "k")).isEqualTo("v");
        assertThat(proxy.connectionsAccepted()).isPositive();
        assertThat(proxy.openConnections()).isEqualTo(1);
        assertThat(proxy.chunksForwarded(Direction.CLIENT_TO_SERVER)).isPositive();
        assertThat(proxy.bytesForwarded(Direction.SERVER_TO_CLIENT)).isPositive();
    }

    @Test
    @DisplayName("black-hole: a command times out on an open connection; healed, the client reconnects and works")
    void blackHole() {
        sync.set("k", "before");
        proxy.blackHole();

        assertThatThrownBy(() -> sync.set("k", "during")).isInstanceOf(RedisCommandTimeoutException.class);
        assertThat(connection.isOpen()).isTrue();
        assertThat(redis.call("GET", "k")).isEqualTo("before");

        proxy.heal();
        await().atMost(RECOVERY).ignoreExceptions().until(() -> "OK".equals(sync.set("k", "after")));
        assertThat(redis.call("GET", "k")).isEqualTo("after");
    }

    @Test
    @DisplayName("delay: a reply delayed 300 ms makes a PING take at least 300 ms; both ways, twice that")
    void delay() {
        connection.setTimeout(Duration.ofSeconds(5));
        sync.ping(); // the first command of a connection may pay for class loading

        proxy.delay(Direction.SERVER_TO_CLIENT, Duration.ofMillis(300));
        assertThat(timePing()).isBetween(Duration.ofMillis(300), Duration.ofMillis(300).plus(SLACK));

        proxy.delay(Duration.ofMillis(300));
        assertThat(timePing()).isBetween(Duration.ofMillis(600), Duration.ofMillis(600).plus(SLACK));

        proxy.heal();
        assertThat(timePing()).isLessThan(Duration.ofMillis(300));
    }

    @Test
    @DisplayName("delay keeps order: pipelined increments under delay get replies 1..n in order")
    void delayKeepsOrder() throws Exception {
        connection.setTimeout(Duration.ofSeconds(5));
        proxy.delay(Duration.ofMillis(50));
        RedisAsyncCommands<String, String> async = connection.async();
        List<RedisFuture<Long>> replies = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            replies.add(async.incr("n"));
        }
        for (int i = 0; i < replies.size(); i++) {
            assertThat(replies.get(i).get(5, TimeUnit.SECONDS)).isEqualTo(i + 1L);
        }
    }

    @Test
    @DisplayName("freeze holds bytes both ways without losing them; unfreeze delivers them in order")
    void freeze() throws Exception {
        connection.setTimeout(Duration.ofSeconds(5));
        sync.set("k", "v");
        proxy.freeze();

        RedisAsyncCommands<String, String> async = connection.async();
        RedisFuture<String> set = async.set("held", "x");
        RedisFuture<String> get = async.get("k");
        assertThat(get.await(300, TimeUnit.MILLISECONDS)).isFalse();
        assertThat(redis.call("GET", "held")).isNull(); // the request is held, not yet applied

        proxy.unfreeze();
        assertThat(set.get(2, TimeUnit.SECONDS)).isEqualTo("OK");
        assertThat(get.get(2, TimeUnit.SECONDS)).isEqualTo("v");
        assertThat(redis.call("GET", "held")).isEqualTo("x");
    }

    @Test
    @DisplayName("resetAll: the client sees the disconnect, reconnects by itself, and the next command succeeds")
    void resetAll() {
        AtomicInteger disconnects = new AtomicInteger();
        RedisConnectionStateListener listener = new RedisConnectionStateListener() {
            @Override
            public void onRedisDisconnected(RedisChannelHandler<?, ?> handler) {
                disconnects.incrementAndGet();
            }
        };
        client.addListener(listener);
        try {
            sync.set("k", "v");
            long accepted = proxy.connectionsAccepted();

            proxy.resetAll();

            await().atMost(RECOVERY).until(() -> disconnects.get() > 0);
            await().atMost(RECOVERY).ignoreExceptions().until(() -> "v".equals(sync.get("k")));
            assertThat(proxy.connectionsAccepted()).isGreaterThan(accepted);
        } finally {
            client.removeListener(listener);
        }
    }

    @Test
    @DisplayName("dropNextReply: the INCR times out but the server applied it (F13); only one reply is lost")
    void dropNextReplyIsAmbiguous() {
        sync.set("n", "10");
        long dropped = proxy.chunksDropped(Direction.SERVER_TO_CLIENT);
        proxy.dropNextReply();

        assertThatThrownBy(() -> sync.incr("n")).isInstanceOf(RedisCommandTimeoutException.class);
        assertThat(redis.call("GET", "n")).isEqualTo("11");
        assertThat(proxy.chunksDropped(Direction.SERVER_TO_CLIENT)).isEqualTo(dropped + 1);

        // once only: a new connection through the proxy is served without healing
        assertThat(Resp.call(proxy.host(), proxy.port(), Duration.ofSeconds(2), "GET", "n")).isEqualTo("11");
        // the Lettuce connection lost a reply; healing resets it and the client carries on
        proxy.heal();
        await().atMost(RECOVERY).ignoreExceptions().until(() -> "11".equals(sync.get("n")));
    }

    @Test
    @DisplayName("dropping client to server only: the SET times out and the server never sees it")
    void dropRequests() {
        proxy.blackHole(Direction.CLIENT_TO_SERVER);

        assertThatThrownBy(() -> sync.set("k", "lost")).isInstanceOf(RedisCommandTimeoutException.class);
        assertThat(proxy.chunksDropped(Direction.CLIENT_TO_SERVER)).isPositive();
        proxy.heal();
        await().atMost(RECOVERY).ignoreExceptions().until(() -> "PONG".equals(sync.ping()));
        assertThat(redis.call("GET", "k")).isNull();
    }

    @Test
    @DisplayName("dropping server to client only: the SET times out but the server applied it")
    void dropReplies() {
        proxy.blackHole(Direction.SERVER_TO_CLIENT);

        assertThatThrownBy(() -> sync.set("k", "applied")).isInstanceOf(RedisCommandTimeoutException.class);
        assertThat(redis.call("GET", "k")).isEqualTo("applied");
        assertThat(proxy.chunksForwarded(Direction.CLIENT_TO_SERVER)).isPositive();
    }

    @Test
    @DisplayName("refusing: new connections are reset at once, open ones keep working")
    void refuseConnections() {
        proxy.refuseConnections(true);
        assertThatThrownBy(() -> Resp.call(proxy.host(), proxy.port(), Duration.ofSeconds(2), "PING"))
                .isInstanceOf(UncheckedIOException.class);
        assertThat(sync.ping()).isEqualTo("PONG");

        proxy.refuseConnections(false);
        assertThat(Resp.call(proxy.host(), proxy.port(), Duration.ofSeconds(2), "PING")).isEqualTo("PONG");
    }

    @Test
    @DisplayName("close stops the listener, resets open connections and ends the proxy's daemon threads")
    void close() throws Exception {
        Set<Thread> before = proxyThreads();
        FaultProxy own = FaultProxy.builder().target(redis.host(), redis.port()).build();
        own.start();
        try (Socket socket = new Socket(own.host(), own.port())) {
            socket.setSoTimeout(2_000);
            socket.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.UTF_8));
            InputStream in = socket.getInputStream();
            assertThat(new String(in.readNBytes(7), StandardCharsets.UTF_8)).isEqualTo("+PONG\r\n");
            Set<Thread> threads = proxyThreads();
            threads.removeAll(before);
            assertThat(threads).hasSize(5).allMatch(Thread::isDaemon); // acceptor; reader and forwarder each way

            own.close();

            assertThat(threads).noneMatch(Thread::isAlive);
            assertThatThrownBy(in::read).isInstanceOf(SocketException.class).hasMessageContaining("reset");
        }
        assertThatThrownBy(() -> new Socket(own.host(), own.port()).close()).isInstanceOf(ConnectException.class);
    }

    private Duration timePing() {
        long start = System.nanoTime();
        assertThat(sync.ping()).isEqualTo("PONG");
        return Duration.ofNanos(System.nanoTime() - start);
    }

    private static Set<Thread> proxyThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith("distkit-proxy-"))
                .collect(Collectors.toCollection(HashSet::new));
    }
}
