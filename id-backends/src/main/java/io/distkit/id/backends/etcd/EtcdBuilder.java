package io.distkit.id.backends.etcd;

import java.nio.file.Path;
import java.time.Duration;

/**
 * What every builder of this package takes beside its own settings: the key prefix, the command timeout and, for
 * a jetcd client made from endpoints, the credentials and the certificate authorities to trust.
 *
 * @param <B> the concrete builder
 */
public abstract class EtcdBuilder<B extends EtcdBuilder<B>> {

    final EtcdConnection connection;

    EtcdBuilder(EtcdConnection connection) {
        this.connection = connection;
    }

    @SuppressWarnings("unchecked")
    private B self() {
        return (B) this;
    }

    /**
     * The prefix of every key written (the class comment of what is built gives the layout under it); default
     * {@code distkit/id/}. Objects that share ids (counters of one name, allocators of one tag, assigners of one
     * set of worker ids) need the same prefix. A {@code '/'} is appended if missing.
     *
     * @throws NullPointerException if null
     * @throws IllegalArgumentException if blank, over 200 characters or with a control character
     */
    public B keyPrefix(String keyPrefix) {
        connection.keyPrefix = EtcdConnection.checkKeyPrefix(keyPrefix);
        return self();
    }

    /**
     * How long one etcd call may take before it fails with an {@link io.distkit.id.IdSourceUnavailableException};
     * default 5 s.
     *
     * @throws NullPointerException if null
     * @throws IllegalArgumentException if not positive
     */
    public B commandTimeout(Duration timeout) {
        connection.commandTimeout = EtcdConnection.checkCommandTimeout(timeout);
        return self();
    }

    /**
     * The etcd user and password of a client made from endpoints.
     *
     * @throws IllegalStateException if the builder was given a jetcd client
     */
    public B credentials(String user, String password) {
        connection.credentials(user, password);
        return self();
    }

    /**
     * A PEM file of the certificate authorities to trust for {@code https://} endpoints.
     *
     * @throws IllegalArgumentException if not a readable file
     * @throws IllegalStateException if the builder was given a jetcd client
     */
    public B trustCertificates(Path caCertificates) {
        connection.trustCertificates(caCertificates);
        return self();
    }
}
