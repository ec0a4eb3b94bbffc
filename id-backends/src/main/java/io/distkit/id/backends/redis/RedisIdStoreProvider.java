package io.distkit.id.backends.redis;

import io.distkit.id.IdStore;
import io.distkit.id.spi.IdStoreProvider;
import java.net.URI;
import java.util.Set;

/** Makes {@code redis://}, {@code rediss://} and {@code redis-sentinel://} URIs open a {@link RedisIdStore}. */
public final class RedisIdStoreProvider implements IdStoreProvider {

    @Override
    public Set<String> schemes() {
        return Set.of("redis", "rediss", "redis-sentinel", "rediss-sentinel");
    }

    @Override
    public IdStore connect(URI uri) {
        return RedisIdStore.connect(uri);
    }
}
