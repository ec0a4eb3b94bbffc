package io.distkit.lock.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockClients;
import io.distkit.lock.LockHandle;
import io.distkit.testkit.Closer;
import io.distkit.testkit.server.EtcdCluster;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.options.GetOption;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code etcds://} and credentials against a real etcd that serves TLS only (a CA generated for the test)
 * and has authentication enabled: the right URI takes locks; a wrong password, no credentials, plain HTTP
 * against the TLS port and TLS without trusting the CA each fail with a {@link LockBackendException} that
 * names the cluster, within the command timeout plus a margin.
 */
class EtcdSecureConnectionTest {

    private static final String USER = "app";
    /** Characters that must be percent-encoded in a URI's user info, and one ':' (the first one splits). */
    private static final String PASSWORD = "p@ss w+rd:1/%";
    private static final String WRONG_PASSWORD = "not-the-password";
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(2);
    /** What every failure must stay under: the command timeout plus two seconds. */
    private static final Duration BOUND = COMMAND_TIMEOUT.plusSeconds(2);

    @RegisterExtension
    static EtcdCluster etcd = EtcdCluster.builder().tls().auth(USER, PASSWORD).build();

    private final Closer closer = new Closer();

    @AfterEach
    void closeClients() throws Exception {
        closer.close();
    }

    private static String encode(String text) {
        // URLEncoder writes ' ' as '+', which the provider reads as a literal '+'
        return URLEncoder.encode(text, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** {@code 127.0.0.1:<port>} of the single member. */
    private static String hostPort() {
        return URI.create(etcd.member(0).endpoint()).getAuthority();
    }

    private static String caQuery() {
        return "?ca=" + encode(etcd.caCertificate().toString());
    }

    private static String uniqueName(String prefix) {
        return prefix + "-" + UUID.randomUUID();
    }

    /** A client for the URI with the short command timeout (parsed as {@link LockClients#connect} would). */
    private LockClient connect(String uri) {
        return closer.add(EtcdLockClientProvider.parse(URI.create(uri)).commandTimeout(COMMAND_TIMEOUT).build());
    }

    /** Runs the failing call, checks it fails with a LockBackendException within {@link #BOUND}, and returns it. */
    private static LockBackendException failsWithinBound(ThrowingCallable call) {
        long start = System.nanoTime();
        Throwable thrown = catchThrowable(call);
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertThat(thrown).isInstanceOf(LockBackendException.class);
        assertThat(took).as("the failure came within the command timeout plus 2 s").isLessThan(BOUND);
        return (LockBackendException) thrown;
    }

    private static String causeChain(Throwable failure) {
        StringBuilder text = new StringBuilder();
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            text.append(cause).append('\n');
        }
        return text.toString();
    }

    private static Client adminClient() throws Exception {
        return Client.builder().endpoints(etcd.endpoints().toArray(String[]::new))
                .user(ByteSequence.from(USER, StandardCharsets.UTF_8))
                .password(ByteSequence.from(PASSWORD, StandardCharsets.UTF_8))
                .sslContext(ssl -> ssl.trustManager(etcd.caCertificate().toFile()))
                .build();
    }

    // ---- the fixture --------------------------------------------------------------------------------

    @Test
    void theFixtureServesTlsWithItsOwnCa() {
        assertThat(etcd.isTls()).isTrue();
        assertThat(etcd.endpoints()).allSatisfy(endpoint -> assertThat(endpoint).startsWith("https://127.0.0.1:"));
        assertThat(etcd.caCertificate()).isRegularFile();
        assertThat(etcd.user()).contains(USER);
        assertThat(etcd.password()).contains(PASSWORD);
    }

    // ---- (a) the right URI --------------------------------------------------------------------------

    @Test
    void credentialsAndTheCaInTheUriTakeAndGiveBackALock() throws Exception {
        String uri = "etcds://" + encode(USER) + ":" + encode(PASSWORD) + "@" + hostPort() + "/secure/app/" + caQuery();
        LockClient client = closer.add(LockClients.connect(URI.create(uri)));
        String name = uniqueName("secure");
        DistributedLock lock = client.lock(name);

        LockHandle handle = lock.tryAcquire(Duration.ofSeconds(10)).orElseThrow();
        assertThat(handle.fencingToken()).isPositive();
        try (Client admin = adminClient()) {
            List<KeyValue> keys = admin.getKVClient()
                    .get(ByteSequence.from(EtcdLockClient.lockPrefix("secure/app/", name), StandardCharsets.UTF_8),
                            GetOption.builder().isPrefix(true).build())
                    .get(10, TimeUnit.SECONDS).getKvs();
            assertThat(keys).as("the key lies under the URI's prefix, with the token as its create revision")
                    .singleElement().satisfies(kv -> assertThat(kv.getCreateRevision()).isEqualTo(handle.fencingToken()));
            handle.release();
            assertThat(admin.getKVClient()
                    .get(ByteSequence.from(EtcdLockClient.lockPrefix("secure/app/", name), StandardCharsets.UTF_8),
                            GetOption.builder().isPrefix(true).build())
                    .get(10, TimeUnit.SECONDS).getKvs()).as("released: the key is gone").isEmpty();
        }

        LockHandle again = lock.tryAcquire(Duration.ofSeconds(10)).orElseThrow();
        assertThat(again.fencingToken()).isGreaterThan(handle.fencingToken());
        again.release();
    }

    @Test
    void theBuilderTakesCredentialsAndTheCaToo() throws Exception {
        LockClient client = closer.add(EtcdLockClient.builder(etcd.endpoints().toArray(String[]::new))
                .credentials(USER, PASSWORD)
                .trustCertificates(etcd.caCertificate())
                .commandTimeout(COMMAND_TIMEOUT)
                .build());
        Optional<LockHandle> handle = client.lock(uniqueName("builder")).tryAcquire();
        assertThat(handle).isPresent();
        assertThat(handle.get().fencingToken()).isPositive();
        handle.get().release();
    }

    // ---- (b) a wrong password -----------------------------------------------------------------------

    @Test
    void aWrongPasswordFailsPromptlyNamingAuthenticationAndTheCluster() throws Exception {
        LockClient client = connect("etcds://" + USER + ":" + WRONG_PASSWORD + "@" + hostPort() + "/secure/" + caQuery());
        String name = uniqueName("wrong-password");

        LockBackendException failure = failsWithinBound(() -> client.lock(name).tryAcquire());
        assertThat(failure.getMessage())
                .contains("etcd " + hostPort())
                .contains("UNAUTHENTICATED")
                .contains("refused the credentials")
                .contains("check the user name and password")
                .doesNotContain(": null")
                .doesNotContain(WRONG_PASSWORD).doesNotContain(PASSWORD);
        assertThat(causeChain(failure)).as("etcd's own reason is kept as the cause")
                .contains("authentication failed, invalid user ID or password");

        CompletableFuture<LockHandle> waiting = client.lock(uniqueName("wrong-password-wait"))
                .acquireAsync(Duration.ofSeconds(30));
        assertThatThrownBy(() -> waiting.get(BOUND.toMillis(), TimeUnit.MILLISECONDS))
                .as("a waiting acquire fails too, long before its wait ends")
                .hasCauseInstanceOf(LockBackendException.class);

        long start = System.nanoTime();
        client.close();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("close is bounded too")
                .isLessThan(COMMAND_TIMEOUT.multipliedBy(2).plusSeconds(3));
    }

    // ---- (c) no credentials -------------------------------------------------------------------------

    @Test
    void noCredentialsAgainstAnAuthEnabledServerFailPromptly() {
        LockClient client = connect("etcds://" + hostPort() + "/secure/" + caQuery());

        LockBackendException failure = failsWithinBound(() -> client.lock(uniqueName("anonymous")).tryAcquire());
        assertThat(failure.getMessage())
                .contains("etcd " + hostPort())
                .contains("has authentication enabled and no user was given")
                .contains("user:password@");
    }

    // ---- (d) TLS mismatches -------------------------------------------------------------------------

    @Test
    void plainHttpAgainstTheTlsPortFailsWithinTheCommandTimeout() {
        LockClient client = connect("etcd://" + USER + ":" + encode(PASSWORD) + "@" + hostPort() + "/secure/");

        LockBackendException failure = failsWithinBound(() -> client.lock(uniqueName("plain")).tryAcquire());
        assertThat(failure.getMessage())
                .contains("etcd " + hostPort())
                .contains("no reply")
                .contains("use etcds://")
                .doesNotContain(PASSWORD);
    }

    @Test
    void tlsWithoutTrustingTheCaFailsWithinTheCommandTimeout() {
        // the JVM's default trust store does not know the test's CA: the handshake must fail, not be waved through
        LockClient client = connect("etcds://" + USER + ":" + encode(PASSWORD) + "@" + hostPort() + "/secure/");

        LockBackendException failure = failsWithinBound(() -> client.lock(uniqueName("untrusted")).tryAcquire());
        assertThat(failure.getMessage())
                .contains("etcd " + hostPort())
                .contains("no reply")
                .contains("give its CA: ?ca= or trustCertificates")
                .doesNotContain(PASSWORD);
    }

    // ---- the CA option's own checks -----------------------------------------------------------------

    @Test
    void theCaOptionIsChecked(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> EtcdLockClientProvider.parse(URI.create("etcd://h1:2379" + caQuery())))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("etcds://");
        assertThatThrownBy(() -> EtcdLockClientProvider.parse(URI.create("etcds://h1:2379?trust=x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'trust'").hasMessageContaining("ca=");
        assertThatThrownBy(() -> EtcdLockClientProvider.parse(URI.create("etcds://h1:2379?ca=")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("empty");
        Path missing = dir.resolve("missing.pem");
        assertThatThrownBy(() -> EtcdLockClientProvider.parse(URI.create("etcds://h1:2379?ca=" + encode(missing.toString()))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(missing.toString());
        assertThatThrownBy(() -> EtcdLockClient.builder("http://h1:2379").trustCertificates(etcd.caCertificate()).build())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("https");

        Path notPem = Files.writeString(dir.resolve("not.pem"), "this is not a certificate\n");
        assertThatThrownBy(() -> EtcdLockClient.builder("https://h1:2379").trustCertificates(notPem).build())
                .isInstanceOf(LockBackendException.class).hasMessageContaining(notPem.toString());
    }
}
