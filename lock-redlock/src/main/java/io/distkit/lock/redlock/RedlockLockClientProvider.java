package io.distkit.lock.redlock;

import io.distkit.lock.LockClient;
import io.distkit.lock.spi.LockClientProvider;
import java.net.URI;
import java.util.Objects;
import java.util.Set;

/**
 * Makes Redlock reachable through {@link io.distkit.lock.LockClients#connect(URI)} for {@code redlock://} and
 * {@code redlocks://} URIs, with the defaults of {@link RedlockClient#builder(String)}. Registered in
 * {@code META-INF/services/io.distkit.lock.spi.LockClientProvider}; not for direct use.
 */
public final class RedlockLockClientProvider implements LockClientProvider {

    /** For {@link java.util.ServiceLoader}. */
    public RedlockLockClientProvider() {}

    /** {@code redlock} and {@code redlocks}. */
    @Override
    public Set<String> schemes() {
        return RedlockClient.SCHEMES;
    }

    /**
     * @throws IllegalArgumentException if the URI is malformed or names an unusable node set (the message says why)
     * @throws io.distkit.lock.LockBackendException if a node cannot be reached
     */
    @Override
    public LockClient connect(URI uri) {
        Objects.requireNonNull(uri, "uri");
        return RedlockClient.builder(uri.toString()).build();
    }
}
