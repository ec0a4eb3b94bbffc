package io.distkit.lock.redis;

import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.api.StatefulConnection;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts the disconnects of each connection used for {@code WAIT}. {@code WAIT} counts the writes of its
 * own server-side connection only: if Lettuce reconnected (and re-sent the {@code WAIT}) between the
 * acquire and the answer, the new connection has written nothing, and its answer says nothing about
 * the lock's write. Comparing the count before the acquire with the count after the answer detects it.
 */
final class ConnectionEpochs {

    private final Map<StatefulConnection<?, ?>, AtomicLong> disconnects = Collections.synchronizedMap(new WeakHashMap<>());

    /** The number of disconnects of {@code connection} seen since it was first passed here. */
    long of(StatefulConnection<?, ?> connection) {
        return disconnects.computeIfAbsent(connection, c -> {
            AtomicLong count = new AtomicLong();
            c.addListener(new RedisConnectionStateListener() {
                @Override
                public void onRedisDisconnected(RedisChannelHandler<?, ?> handler) {
                    count.incrementAndGet();
                }
            });
            return count;
        }).get();
    }
}
