package io.distkit.id.spi;

import io.distkit.id.IdStore;
import java.net.URI;
import java.util.Set;

/**
 * How a backend makes a store reachable through {@link io.distkit.id.IdStores#connect(URI)}: list the
 * implementation in {@code META-INF/services/io.distkit.id.spi.IdStoreProvider}.
 */
public interface IdStoreProvider {

    /** The URI schemes handled, lower case, e.g. {@code redis}, {@code rediss}. */
    Set<String> schemes();

    /**
     * Opens the store {@code uri} names, whose scheme is one of {@link #schemes()}.
     *
     * @throws IllegalArgumentException if the URI is malformed for this store (the message says how)
     * @throws io.distkit.id.IdSourceUnavailableException if the store cannot be reached
     */
    IdStore connect(URI uri);
}
