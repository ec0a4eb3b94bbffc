package io.distkit.testkit.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.testkit.server.RedisServer.Persistence;
import java.io.UncheckedIOException;
import java.time.Duration;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The Redis fixture against a real redis-server: start, kill, restart, pause, persistence, replica. */
class RedisServerTest {

    @RegisterExtension
    static RedisServer redis = RedisServer.builder().build();

    @RegisterExtension
    static RedisServer durable = RedisServer.builder().persistence(Persistence.AOF_ALWAYS).build();

    @Test
    @DisplayName("a started server answers on its own port")
    void answers() {
        assertThat(redis.call("SET", "k", "v")).isEqualTo("OK");
        assertThat(redis.call("GET", "k")).isEqualTo("v");
        assertThat(redis.port()).isNotEqualTo(durable.port()).isNotEqualTo(6379);
    }

    @Test
    @DisplayName("killed, it stops answering; restarted without persistence, it has forgotten everything")
    void killAndRestartWithoutPersistence() {
        redis.call("SET", "forgotten", "1");
        long pid = redis.pid();

        redis.kill();
        assertThat(redis.isRunning()).isFalse();
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).isNotEqualTo(java.util.Optional.of(true));
        assertThatThrownBy(() -> redis.call("PING")).isInstanceOf(UncheckedIOException.class);

        redis.restart();
        assertThat(redis.call("GET", "forgotten")).isNull();
    }

    @Test
    @DisplayName("with AOF fsync always, an acknowledged write survives a SIGKILL")
    void aofAlwaysSurvivesKill() {
        durable.call("SET", "kept", "1");
        durable.kill();
        durable.restart();

        assertThat(durable.call("GET", "kept")).isEqualTo("1");
    }

    @Test
    @DisplayName("paused, a request times out; resumed, it succeeds")
    void pauseAndResume() {
        redis.pause();
        try {
            assertThatThrownBy(() -> Resp.call(redis.host(), redis.port(), Duration.ofMillis(300), "PING"))
                    .isInstanceOf(UncheckedIOException.class);
        } finally {
            redis.resume();
        }
        assertThat(redis.call("PING")).isEqualTo("PONG");
    }

    @Test
    @DisplayName("a replica follows its master")
    void replicaFollowsMaster() throws Exception {
        try (RedisServer replica = RedisServer.builder().replicaOf(redis).build()) {
            replica.start();
            redis.call("SET", "replicated", "yes");
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5))
                    .until(() -> "yes".equals(replica.call("GET", "replicated")));
        }
    }

    @Test
    @DisplayName("under faketime the server's wall clock can be moved while it runs")
    void clockShift() {
        try (RedisServer shifted = RedisServer.builder().fakeTime().build()) {
            shifted.start();
            long before = serverSeconds(shifted);
            shifted.shiftClock(Duration.ofSeconds(60));
            long after = serverSeconds(shifted);
            assertThat(after - before).isBetween(59L, 65L);
        }
    }

    private static long serverSeconds(RedisServer server) {
        return Long.parseLong((String) ((java.util.List<?>) server.call("TIME")).get(0));
    }
}
