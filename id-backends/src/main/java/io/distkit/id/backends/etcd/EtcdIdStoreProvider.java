package io.distkit.id.backends.etcd;

import io.distkit.id.IdStore;
import io.distkit.id.spi.IdStoreProvider;
import io.distkit.lock.etcd.EtcdUri;
import java.net.URI;
import java.nio.file.Path;
import java.util.Set;

/**
 * Makes etcd reachable through {@link io.distkit.id.IdStores#connect(URI)}:
 * {@code etcd://[user:password@]host:port[,host:port...][/key/prefix/]} over plain HTTP, {@code etcds://...} over
 * TLS, the same form as lock-etcd's lock URIs. The path, if any, is the key prefix (default
 * {@value EtcdConnection#DEFAULT_KEY_PREFIX}); the port defaults to 2379. With {@code etcds://}, the query
 * {@code ca=/path/to/ca.pem} in the query names a PEM file of the certificate authorities to trust instead of the
 * JVM's. With {@code watermarks=/a/directory} (an existing directory, the path percent-encoded where needed) the
 * store's counters keep their watermarks in files there ({@link EtcdIdStore#counter}). No other query parameter
 * is known. Registered in {@code META-INF/services/io.distkit.id.spi.IdStoreProvider}; not
 * for direct use.
 */
public final class EtcdIdStoreProvider implements IdStoreProvider {

    /** For {@link java.util.ServiceLoader}. */
    public EtcdIdStoreProvider() {}

    /** {@code etcd} and {@code etcds}. */
    @Override
    public Set<String> schemes() {
        return Set.of("etcd", "etcds");
    }

    /**
     * @throws IllegalArgumentException if the URI is malformed (the message says why and shows the form)
     */
    @Override
    public IdStore connect(URI uri) {
        return EtcdIdStore.open(parse(uri));
    }

    /** The connection settings a URI stands for; no connection is made. */
    static EtcdConnection parse(URI uri) {
        EtcdUri parsed = EtcdUri.parse(uri, Set.of("watermarks"));
        EtcdConnection connection = EtcdConnection.of(parsed.endpoints().toArray(String[]::new));
        if (parsed.user() != null && parsed.password() != null) {
            connection.credentials(parsed.user(), parsed.password());
        }
        if (parsed.ca() != null) {
            connection.trustCertificates(parsed.ca());
        }
        String watermarks = parsed.parameters().get("watermarks");
        if (watermarks != null) {
            connection.watermarkDirectory = EtcdIdStore.checkWatermarkDirectory(Path.of(watermarks));
        }
        if (parsed.keyPrefix() != null) {
            connection.keyPrefix = EtcdConnection.checkKeyPrefix(parsed.keyPrefix());
        }
        return connection;
    }
}
