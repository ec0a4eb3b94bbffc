package io.distkit.lock.etcd;

import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.ReadWriteLockClient;
import io.distkit.lock.LockOptions;
import io.distkit.lock.spi.LockEngine;
import io.etcd.jetcd.Client;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Distributed locks with fencing tokens on etcd v3, through jetcd.
 *
 * <pre>{@code
 * try (ReadWriteLockClient client = EtcdLockClient.builder("http://127.0.0.1:2379").build()) {
 *     try (LockHandle handle = client.lock("invoice-42").acquire()) {
 *         store.write(invoice, handle.fencingToken());
 *     }
 *     try (LockHandle shared = client.readWriteLock("catalogue").readLock().acquire()) {
 *         catalogue.read();
 *     }
 * }
 * }</pre>
 *
 * <p>Each acquisition puts a key {@code <keyPrefix><encoded name>/<client tag>/<slot>}, holding its owner value,
 * attached to the lease
 * of the client's session for its lease time (one etcd lease per client and lease time, renewed in one
 * keep-alive per session by the engine's renewal pass; a lock without auto-renewal gets a lease of its
 * own, which runs out by itself). The key with the lowest create revision holds
 * the lock, and that create revision is the fencing token: revisions only grow in a cluster, so tokens
 * do too. A waiter watches only the key just before its own, so one waiter wakes per release. Lease
 * times must be whole seconds, at least {@value #MIN_LEASE_SECONDS} s.
 *
 * <p>Read-write locks queue readers and writers by create revision under {@code <keyPrefix><encoded name>%rw/}
 * (independent of the plain lock of that name): a reader waits only for older writers, a writer for every
 * older key, so readers share and nobody overtakes a waiting writer.
 */
public final class EtcdLockClient {

    /** The key prefix used unless {@link Builder#keyPrefix} sets another. */
    public static final String DEFAULT_KEY_PREFIX = "distkit/lock/";
    /** Longest key prefix accepted, in characters. */
    public static final int MAX_KEY_PREFIX_LENGTH = 200;
    /** How long one etcd call may take unless {@link Builder#commandTimeout} sets another: 5 seconds. */
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(5);
    /** The shortest lease time accepted, in seconds: etcd's minimum lease with its default election timeout. */
    public static final long MIN_LEASE_SECONDS = 2;

    private EtcdLockClient() {}

    /**
     * A builder for a client that creates (and on {@link LockClient#close()} closes) its own jetcd client
     * for these endpoints: {@code http://host:port} or {@code https://host:port} (TLS, trusting the JVM's
     * certificate authorities, or those of {@link Builder#trustCertificates(Path)}), or {@code host:port} for
     * plain HTTP.
     *
     * @throws NullPointerException if {@code endpoints} or one of them is null
     * @throws IllegalArgumentException if there is none, or one is malformed (the message says which and why)
     */
    public static Builder builder(String... endpoints) {
        return new Builder(null, EtcdUri.endpoints(endpoints));
    }

    /**
     * A builder for a client on a jetcd {@link Client} the caller owns: the lock client uses it and never
     * closes it. Its sessions are revoked when the lock client closes.
     *
     * @throws NullPointerException if {@code client} is null
     */
    public static Builder builder(Client client) {
        return new Builder(Objects.requireNonNull(client, "client"), List.of());
    }

    /** The etcd key prefix under which every key of lock {@code name} lies, for tests and operators. */
    static String lockPrefix(String keyPrefix, String name) {
        return normalisePrefix(keyPrefix) + EtcdLockBackend.encodeName(name) + "/";
    }

    /** The key prefix ending with {@code '/'}: no prefix is then the start of another's lock names. */
    static String normalisePrefix(String keyPrefix) {
        return keyPrefix.endsWith("/") ? keyPrefix : keyPrefix + "/";
    }

    /**
     * Configures an etcd {@link LockClient}. Every setter checks its argument at once; {@link #build()}
     * makes the client (no call to etcd is made before the first lock is taken).
     */
    public static final class Builder {

        private final @Nullable Client client;
        private final List<URI> endpoints;
        private String keyPrefix = DEFAULT_KEY_PREFIX;
        private LockOptions defaultOptions = LockOptions.defaults();
        private Duration commandTimeout = DEFAULT_COMMAND_TIMEOUT;
        private @Nullable String user;
        private @Nullable String password;
        private @Nullable Path trustedCertificates;

        private Builder(@Nullable Client client, List<URI> endpoints) {
            this.client = client;
            this.endpoints = endpoints;
        }

        /**
         * The prefix of every key this client writes; default {@value EtcdLockClient#DEFAULT_KEY_PREFIX}.
         * Clients that should contend for the same locks need the same prefix. A prefix that does not end
         * with {@code '/'} gets one appended ({@code "app"} becomes {@code "app/"}), so that no two prefixes
         * alias: without it, lock {@code "sx"} under {@code "lock"} and lock {@code "x"} under {@code "locks"}
         * would share their keys.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if blank or longer than {@value EtcdLockClient#MAX_KEY_PREFIX_LENGTH}
         *     characters
         */
        public Builder keyPrefix(String keyPrefix) {
            LockEngine.checkKeyPrefix(keyPrefix, MAX_KEY_PREFIX_LENGTH);
            this.keyPrefix = normalisePrefix(keyPrefix);
            return this;
        }

        /**
         * The options of {@link LockClient#lock(String)}; default {@link LockOptions#defaults()}.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if the lease time is not whole seconds or below
         *     {@value EtcdLockClient#MIN_LEASE_SECONDS} s
         */
        public Builder defaultOptions(LockOptions options) {
            Objects.requireNonNull(options, "defaultOptions");
            EtcdLockBackend.checkLeaseTime(options.leaseTime());
            this.defaultOptions = options;
            return this;
        }

        /**
         * How long one etcd call may take before it counts as failed; default 5 s. A timed-out acquire is
         * resolved by owner value: the acquisition's key is deleted if it was put.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not positive
         */
        public Builder commandTimeout(Duration timeout) {
            this.commandTimeout = LockEngine.checkCommandTimeout(timeout);
            return this;
        }

        /**
         * The etcd user and password of a client made from endpoints (etcd's authentication).
         *
         * @throws NullPointerException if either is null
         * @throws IllegalStateException if the builder was given a jetcd client (configure that client instead)
         */
        public Builder credentials(String user, String password) {
            Objects.requireNonNull(user, "user");
            Objects.requireNonNull(password, "password");
            if (client != null) {
                throw new IllegalStateException("credentials belong to the jetcd Client passed to builder(Client)");
            }
            this.user = user;
            this.password = password;
            return this;
        }

        /**
         * The certificate authorities to trust for {@code https://} endpoints instead of the JVM's default trust
         * store: a PEM file holding one or more X.509 certificates, such as the {@code ca.pem} given to etcd as
         * {@code --trusted-ca-file}. The server's certificate must name the endpoint's host (IP address or DNS
         * name) as a subject alternative name. Without this, the JVM's trust store decides (a private CA can
         * also be added there, or passed with {@code -Djavax.net.ssl.trustStore}). In URIs:
         * {@code etcds://host:2379?ca=/path/to/ca.pem}.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if the file is not readable (a malformed file fails {@link #build()})
         * @throws IllegalStateException if the builder was given a jetcd client (configure that client instead)
         */
        public Builder trustCertificates(Path caCertificates) {
            Objects.requireNonNull(caCertificates, "caCertificates");
            if (client != null) {
                throw new IllegalStateException("TLS settings belong to the jetcd Client passed to builder(Client)");
            }
            if (!Files.isRegularFile(caCertificates) || !Files.isReadable(caCertificates)) {
                throw new IllegalArgumentException("CA certificate file " + caCertificates.toAbsolutePath()
                        + " does not exist or is not a readable file");
            }
            this.trustedCertificates = caCertificates;
            return this;
        }

        /**
         * Returns the client. With endpoints, each call makes a new jetcd client, closed with the lock client.
         *
         * @throws IllegalStateException if {@link #trustCertificates(Path)} was set but no endpoint uses https
         * @throws LockBackendException if the jetcd client cannot be made (TLS set-up, say: the message names a
         *     CA file that holds no certificate)
         */
        public ReadWriteLockClient build() {
            boolean owned = client == null;
            Client etcd = owned ? newClient() : client;
            String description = owned ? "etcd " + String.join(",", endpoints.stream().map(URI::getAuthority).toList())
                    : "etcd (the supplied jetcd client)";
            try {
                EtcdLockBackend backend = new EtcdLockBackend(etcd, owned, keyPrefix,
                        new EtcdCalls(commandTimeout, description));
                return LockEngine.builder(backend)
                        .defaultOptions(defaultOptions)
                        // a release is one transaction; close revokes the sessions, all at once
                        .operationTimeout(commandTimeout.multipliedBy(2).plusSeconds(1))
                        .buildReadWrite();
            } catch (RuntimeException | Error e) {
                if (owned) {
                    etcd.close();
                }
                throw e;
            }
        }

        private Client newClient() {
            return EtcdUri.newClient(endpoints, user, password, trustedCertificates, commandTimeout,
                    (message, cause) -> new LockBackendException(null, message, cause));
        }
    }
}
