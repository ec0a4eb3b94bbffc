package io.distkit.lock.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.redis.internal.CommandTimer;
import io.distkit.testkit.server.RedisServer;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.TimeoutOptions;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The backend bounds every command itself ({@link CommandTimer}), also on a supplied Lettuce client whose own
 * command timeouts are off: a server that stops answering fails acquire and release within the command
 * timeout (plus a timer tick), never leaves the caller waiting.
 */
class RedisCommandTimeoutFailureTest {

    @RegisterExtension
    static RedisServer redis = RedisServer.builder().build();

    private RedisClient lettuce;
    private LockClient client;

    @AfterEach
    void cleanUp() {
        redis.heal();
        if (client != null) {
            client.close();
        }
        if (lettuce != null) {
            lettuce.shutdown();
        }
    }

    @Test
    @Timeout(30) // without the backend's own bound the acquire would wait for ever
    @DisplayName("a paused server fails acquire and release within the command timeout, even when Lettuce would wait forever")
    void pausedServerFailsWithinTheCommandTimeout() throws Exception {
        lettuce = RedisClient.create(redis.uri());
        lettuce.setOptions(ClientOptions.builder()
                .timeoutOptions(TimeoutOptions.builder().timeoutCommands(false).build()).build()); // Lettuce never times out
        Duration commandTimeout = Duration.ofSeconds(1);
        client = RedisLockClient.builder(lettuce).keyPrefix("timeout-test:").commandTimeout(commandTimeout).build();
        LockHandle held = client.lock("held").acquire();

        redis.pause();
        long start = System.nanoTime();
        assertThatThrownBy(() -> client.lock("paused").tryAcquire())
                .isInstanceOf(LockBackendException.class)
                .hasMessageContaining("got no reply")
                .hasMessageContaining("within " + commandTimeout);
        Duration acquireTook = Duration.ofNanos(System.nanoTime() - start);

        start = System.nanoTime();
        assertThatThrownBy(held::release).isInstanceOf(LockBackendException.class)
                .hasMessageContaining("release");
        Duration releaseTook = Duration.ofNanos(System.nanoTime() - start);

        // a hashed-wheel timeout fires up to one tick (100 ms) late; the rest is slack for a busy machine
        assertThat(acquireTook).isBetween(commandTimeout.minusMillis(50), commandTimeout.plusMillis(1500));
        assertThat(releaseTook).isBetween(commandTimeout.minusMillis(50), commandTimeout.plusMillis(1500));
    }
}
