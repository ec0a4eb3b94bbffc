package io.distkit.lock.etcd;

import io.distkit.lock.LockClient;
import io.distkit.lock.spi.LockClientProvider;
import java.net.URI;
import java.util.Set;

/**
 * Makes etcd reachable through {@link io.distkit.lock.LockClients#connect(URI)}:
 * {@code etcd://[user:password@]host:port[,host:port...][/key/prefix/]} over plain HTTP, {@code etcds://...}
 * over TLS. The path, if any, is the key prefix (default {@value EtcdLockClient#DEFAULT_KEY_PREFIX}); the
 * port defaults to 2379. With {@code etcds://}, the query {@code ?ca=/path/to/ca.pem} (the path
 * percent-encoded where needed) names a PEM file of the certificate authorities to trust instead of the JVM's
 * ({@link EtcdLockClient.Builder#trustCertificates(java.nio.file.Path)}); no other query parameter is known.
 * Everything else has the defaults of {@link EtcdLockClient#builder(String...)}.
 * Registered in {@code META-INF/services/io.distkit.lock.spi.LockClientProvider}; not for direct use.
 */
public final class EtcdLockClientProvider implements LockClientProvider {

    /** For {@link java.util.ServiceLoader}. */
    public EtcdLockClientProvider() {}

    /** {@code etcd} and {@code etcds}. */
    @Override
    public Set<String> schemes() {
        return Set.of("etcd", "etcds");
    }

    /**
     * @throws IllegalArgumentException if the URI is malformed (the message says why and shows the form)
     * @throws io.distkit.lock.LockBackendException if the client cannot be made
     */
    @Override
    public LockClient connect(URI uri) {
        return parse(uri).build();
    }

    /** The builder a URI stands for; no connection is made. */
    static EtcdLockClient.Builder parse(URI uri) {
        EtcdUri parsed = EtcdUri.parse(uri, Set.of());
        EtcdLockClient.Builder builder = EtcdLockClient.builder(parsed.endpoints().toArray(String[]::new));
        if (parsed.user() != null && parsed.password() != null) {
            builder.credentials(parsed.user(), parsed.password());
        }
        if (parsed.ca() != null) {
            builder.trustCertificates(parsed.ca());
        }
        if (parsed.keyPrefix() != null) {
            builder.keyPrefix(parsed.keyPrefix());
        }
        return builder;
    }
}
