package io.distkit.id.backends.etcd;

import io.distkit.id.IdSourceUnavailableException;
import io.distkit.lock.etcd.EtcdUri;
import io.etcd.jetcd.Client;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The settings every etcd builder of this package shares: a jetcd client given by the caller (never closed
 * by us), or endpoints with optional credentials and CA certificates from which a client of our own is made;
 * the command timeout; the key prefix. Each setter checks its argument at once.
 */
final class EtcdConnection {

    /** The key prefix used unless a builder sets another. */
    static final String DEFAULT_KEY_PREFIX = "distkit/id/";
    /** Longest key prefix accepted, in characters. */
    static final int MAX_KEY_PREFIX_LENGTH = 200;
    static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(5);

    final @Nullable Client client;
    final List<URI> endpoints;
    String keyPrefix = DEFAULT_KEY_PREFIX;
    Duration commandTimeout = DEFAULT_COMMAND_TIMEOUT;
    @Nullable String user;
    @Nullable String password;
    @Nullable Path trustedCertificates;
    /** Where an {@link EtcdIdStore}'s counters keep their watermark files; none if null. */
    @Nullable Path watermarkDirectory;

    private EtcdConnection(@Nullable Client client, List<URI> endpoints) {
        this.client = client;
        this.endpoints = endpoints;
    }

    static EtcdConnection of(Client client) {
        return new EtcdConnection(Objects.requireNonNull(client, "client"), List.of());
    }

    /**
     * @throws IllegalArgumentException if there is no endpoint or one is malformed
     */
    static EtcdConnection of(String... endpoints) {
        return new EtcdConnection(null, EtcdUri.endpoints(endpoints));
    }

    /** The prefix ending with {@code '/'}, so that no prefix is the start of another's keys. */
    static String checkKeyPrefix(String keyPrefix) {
        Objects.requireNonNull(keyPrefix, "keyPrefix");
        if (keyPrefix.isBlank()) {
            throw new IllegalArgumentException("keyPrefix must not be blank, was '" + keyPrefix + "'");
        }
        if (keyPrefix.length() > MAX_KEY_PREFIX_LENGTH) {
            throw new IllegalArgumentException("keyPrefix must be at most " + MAX_KEY_PREFIX_LENGTH
                    + " characters, was " + keyPrefix.length());
        }
        for (int i = 0; i < keyPrefix.length(); i++) {
            if (Character.isISOControl(keyPrefix.charAt(i))) {
                throw new IllegalArgumentException("keyPrefix must not contain control characters, was '"
                        + keyPrefix.replaceAll("\\p{Cntrl}", "?") + "'");
            }
        }
        return keyPrefix.endsWith("/") ? keyPrefix : keyPrefix + "/";
    }

    static Duration checkCommandTimeout(Duration timeout) {
        Objects.requireNonNull(timeout, "commandTimeout");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("commandTimeout must be positive, was " + timeout);
        }
        return timeout;
    }

    void credentials(String user, String password) {
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(password, "password");
        if (client != null) {
            throw new IllegalStateException("credentials belong to the jetcd Client passed to builder(Client)");
        }
        this.user = user;
        this.password = password;
    }

    void trustCertificates(Path caCertificates) {
        Objects.requireNonNull(caCertificates, "caCertificates");
        if (client != null) {
            throw new IllegalStateException("TLS settings belong to the jetcd Client passed to builder(Client)");
        }
        if (!Files.isRegularFile(caCertificates) || !Files.isReadable(caCertificates)) {
            throw new IllegalArgumentException("CA certificate file " + caCertificates.toAbsolutePath()
                    + " does not exist or is not a readable file");
        }
        this.trustedCertificates = caCertificates;
    }

    boolean ownsClient() {
        return client == null;
    }

    /** For messages: the endpoints' host:port list, or the supplied client. */
    String describe() {
        return client != null ? "etcd (the supplied jetcd client)"
                : "etcd " + String.join(",", endpoints.stream().map(URI::getAuthority).toList());
    }

    /** The caller's client, or a new one for the endpoints (the caller of this method closes it). */
    Client client() {
        return client != null ? client : newClient();
    }

    private Client newClient() {
        return EtcdUri.newClient(endpoints, user, password, trustedCertificates, commandTimeout,
                (message, cause) -> new IdSourceUnavailableException(describe(), message, cause));
    }
}
