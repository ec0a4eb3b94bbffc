package io.distkit.lock.spi;

import io.distkit.lock.LockClient;
import java.net.URI;
import java.util.Set;

/**
 * How a backend module makes itself reachable through {@link io.distkit.lock.LockClients#connect(URI)}:
 * list the implementation in {@code META-INF/services/io.distkit.lock.spi.LockClientProvider}.
 */
public interface LockClientProvider {

    /** The URI schemes handled, lower case, e.g. {@code redis}, {@code rediss}. */
    Set<String> schemes();

    /**
     * Connects a client for {@code uri}, whose scheme is one of {@link #schemes()}.
     *
     * @throws IllegalArgumentException if the URI is malformed for this backend (the message says how)
     * @throws io.distkit.lock.LockBackendException if the backend cannot be reached
     */
    LockClient connect(URI uri);
}
