package io.distkit.lock;

import io.distkit.lock.spi.LockClientProvider;
import java.net.URI;
import java.util.Locale;
import java.util.Objects;
import java.util.ServiceLoader;
import java.util.TreeSet;

/**
 * Connects to a lock backend named by a URI, e.g. {@code redis://localhost:6379},
 * {@code etcd://h1:2379,h2:2379}, {@code zookeeper://localhost:2181}, {@code jdbc:postgresql://...}.
 * Backends are found through {@link ServiceLoader}: put the backend's module on the classpath.
 */
public final class LockClients {

    private LockClients() {}

    /**
     * @throws NullPointerException if {@code uri} is null
     * @throws IllegalArgumentException if no backend on the classpath handles the URI's scheme (the
     *     message lists the schemes that are available), or the URI is malformed for that backend
     * @throws LockBackendException if the backend cannot be reached
     */
    public static LockClient connect(URI uri) {
        Objects.requireNonNull(uri, "uri");
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        TreeSet<String> available = new TreeSet<>();
        for (LockClientProvider provider : ServiceLoader.load(LockClientProvider.class, LockClients.class.getClassLoader())) {
            if (provider.schemes().contains(scheme)) {
                return provider.connect(uri);
            }
            available.addAll(provider.schemes());
        }
        throw new IllegalArgumentException("no lock backend on the classpath handles '" + scheme + ":' URIs such as "
                + uri + "; available: " + (available.isEmpty() ? "none" : String.join(", ", available))
                + ". Add the backend's module (distkit-lock-redis, distkit-lock-etcd, ...) as a dependency.");
    }

    /** {@link #connect(URI)} for a string. */
    public static LockClient connect(String uri) {
        Objects.requireNonNull(uri, "uri");
        return connect(URI.create(uri));
    }
}
