package io.distkit.lock.redis;

import io.distkit.lock.LockClient;
import io.distkit.lock.spi.LockClientProvider;
import java.net.URI;
import java.util.Objects;
import java.util.Set;

/**
 * Makes Redis reachable through {@link io.distkit.lock.LockClients#connect(URI)} for {@code redis://},
 * {@code rediss://}, {@code redis-sentinel://} and {@code rediss-sentinel://} URIs, with the defaults of
 * {@link RedisLockClient#builder(String)}. Registered in
 * {@code META-INF/services/io.distkit.lock.spi.LockClientProvider}; not for direct use.
 */
public final class RedisLockClientProvider implements LockClientProvider {

    /** For {@link java.util.ServiceLoader}. */
    public RedisLockClientProvider() {}

    /** {@code redis}, {@code rediss}, {@code redis-sentinel} and {@code rediss-sentinel}. */
    @Override
    public Set<String> schemes() {
        return RedisEndpoint.SCHEMES;
    }

    /**
     * @throws IllegalArgumentException if the URI is malformed (the message says why and shows the forms)
     * @throws io.distkit.lock.LockBackendException if Redis cannot be reached
     */
    @Override
    public LockClient connect(URI uri) {
        Objects.requireNonNull(uri, "uri");
        return RedisLockClient.builder(uri.toString()).build();
    }
}
