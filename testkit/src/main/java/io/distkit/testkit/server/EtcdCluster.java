package io.distkit.testkit.server;

import io.distkit.common.DaemonThreads;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.jspecify.annotations.Nullable;

/**
 * A private etcd cluster of 1 or 3 members, each an {@code etcd} child process on free loopback
 * client and peer ports with its own data directory. The members can be crashed, paused and
 * restarted one by one ({@link #member(int)}), which is how the failure scenarios of docs/failures.md
 * (F10 backend paused, F11 quorum loss) are driven.
 *
 * <pre>{@code
 * @RegisterExtension static EtcdCluster etcd = EtcdCluster.builder().members(3).build();
 * ... Client.builder().endpoints(etcd.endpoints().toArray(String[]::new)) ...
 * int leader = etcd.awaitLeader(Duration.ofSeconds(10));
 * etcd.member(leader).kill(); ... etcd.member(leader).restart();
 * }</pre>
 *
 * <p>Contracts: {@link #start()} returns once every member answers {@code /health} with
 * {@code {"health":"true"}}, which etcd 3.4 reports only when the member has a leader and a quorum
 * read through raft succeeded, so the cluster is serving. A restarted member keeps its data
 * directory and rejoins (etcd persists and fsyncs every acknowledged write, so nothing acknowledged
 * is lost). {@link #heal()} resumes paused members and restarts dead ones; {@link #close()} stops
 * all members and removes every directory.
 *
 * <p><b>TLS and authentication</b> (both opt-in, see {@link Builder#tls()} and {@link Builder#auth}):
 * with TLS the members serve clients on {@code https://127.0.0.1:<port>} with a server certificate
 * (for {@code 127.0.0.1} and {@code localhost}) signed by a throw-away CA that {@link #start()} generates
 * with {@code openssl} into the cluster's directory; {@link #caCertificate()} is its PEM file, the one
 * a client must trust. Peers talk plain HTTP among themselves. With authentication, {@link #start()}
 * creates etcd's {@code root} user and the given user, both with the given password and the
 * {@code root} role, and enables authentication, with {@code etcdctl}; from then on every client
 * request needs the user and password.
 *
 * <pre>{@code
 * @RegisterExtension static EtcdCluster etcd = EtcdCluster.builder().tls().auth("app", "s3cret").build();
 * ... Client.builder().endpoints(etcd.endpoints().toArray(String[]::new))   // https://...
 *         .sslContext(ssl -> ssl.trustManager(etcd.caCertificate().toFile())) ...
 * }</pre>
 *
 * <p>etcd is a Go binary: the clock-shift preload library ({@link FakeTime}) does nothing to it.
 */
public final class EtcdCluster extends ClusterFixture {

    /** Raft heartbeat: short so that a dead leader is replaced quickly, long enough for a loaded 2-core box. */
    public static final Duration DEFAULT_HEARTBEAT_INTERVAL = Duration.ofMillis(100);

    /**
     * Raft election timeout (etcd's rule of thumb: ten heartbeats). 50/500 ms would leave little
     * margin when other builds share two cores (a follower that misses heartbeats for one timeout,
     * through scheduling or an fsync stall, starts an election); 100/1000 ms still replaces a crashed
     * leader in about a second.
     */
    public static final Duration DEFAULT_ELECTION_TIMEOUT = Duration.ofMillis(1000);

    /** How long one HTTP probe ({@code /health}, status) may take: a paused member never answers. */
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);

    private static final HttpClient HTTP = HttpClient.newBuilder()
            // etcd multiplexes gRPC and HTTP on one port; plain HTTP/1.1 keeps the h2c upgrade dance out of it
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(PROBE_TIMEOUT)
            .build();


    private final List<Member> members;
    private final String clusterToken;
    private final Duration heartbeatInterval;
    private final Duration electionTimeout;
    private final List<String> extraArgs;
    private final boolean tls;
    private final @Nullable String authUser;
    private final @Nullable String authPassword;
    // the probes' client: trusts the generated CA with TLS; made in startMembers, before any member starts
    private volatile HttpClient http = HTTP;
    // set once authentication is enabled: it is persisted in the data directories, restarts keep it
    private volatile boolean authEnabled;
    // volatile, not guarded: members start on their own threads while start() holds this lock
    private volatile @Nullable Path binary;

    private EtcdCluster(Builder b, Path dir) {
        super(dir);
        this.clusterToken = "distkit-" + UUID.randomUUID();
        this.heartbeatInterval = b.heartbeatInterval;
        this.electionTimeout = b.electionTimeout;
        this.extraArgs = List.copyOf(b.extraArgs);
        this.tls = b.tls;
        this.authUser = b.authUser;
        this.authPassword = b.authPassword;
        List<Member> list = new ArrayList<>();
        for (int i = 0; i < b.members; i++) {
            list.add(new Member(i, dir.resolve("m" + i)));
        }
        this.members = List.copyOf(list);
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Finds the binary (failing or skipping the test if it is missing), starts every member and
     * waits until each reports healthy. Members start concurrently: a new member of a 3-member
     * cluster cannot become healthy before a quorum of its peers is up.
     */
    @Override
    void startMembers() {
        if (binary == null) {
            binary = Servers.requireBinary("etcd", "DISTKIT_ETCD_BIN", "etcd-server");
        }
        if (tls) {
            generateCertificates();
            http = HttpClient.newBuilder()
                    .version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(PROBE_TIMEOUT)
                    .sslContext(trustingCa())
                    .build();
        }
        try {
            startTogether(members);
            if (authUser != null && !authEnabled) {
                enableAuth();
                authEnabled = true;
            }
        } catch (RuntimeException e) {
            members.forEach(Member::kill);
            throw e;
        }
    }

    /**
     * Resumes paused members and restarts dead ones (together, since two dead members of three
     * need each other for a quorum), then waits until every member is healthy.
     */
    @Override
    void healMembers() {
        members.forEach(Member::resumeIfPaused);
        startTogether(members.stream().filter(m -> !m.isRunning()).collect(Collectors.toList()));
        // a resumed member, or one that was up without a quorum, may need a moment too
        members.forEach(m -> m.awaitHealthy(m.startTimeout()));
    }

    /** Kills every member (their data directories and logs go with the temp directory). */
    @Override
    void stopMembers() {
        // SIGKILL, not SIGTERM: a stopping leader first tries to hand leadership to followers that
        // are stopping too and gives up only after seconds; the data is thrown away anyway
        members.forEach(Member::kill);
    }

    /** The number of members. */
    public int size() {
        return members.size();
    }

    /** Member {@code index} (0-based), to crash, pause or restart it. */
    public Member member(int index) {
        Objects.checkIndex(index, members.size());
        return members.get(index);
    }

    /** All members, in index order. */
    public List<Member> members() {
        return members;
    }

    /**
     * The client URLs of all members, {@code http://127.0.0.1:<port>} ({@code https://} with
     * {@link Builder#tls()}), in member order.
     */
    public List<String> endpoints() {
        return members.stream().map(Member::endpoint).collect(Collectors.toUnmodifiableList());
    }

    /**
     * The member that is leader now, as far as the members that answer within a short timeout can
     * tell: the answering member that names itself leader, with the highest raft term if a deposed
     * leader (just resumed, say) still believes it leads. Empty while there is no leader or no member
     * answers. Dead and paused members are not asked.
     */
    public OptionalInt leaderIndex() {
        int best = -1;
        long bestTerm = -1;
        for (Member member : members) {
            if (!member.isRunning() || member.isPaused()) {
                continue;
            }
            Optional<Status> status = member.status();
            if (status.isPresent() && status.get().isLeader() && status.get().raftTerm() > bestTerm) {
                best = member.index();
                bestTerm = status.get().raftTerm();
            }
        }
        return best < 0 ? OptionalInt.empty() : OptionalInt.of(best);
    }

    /**
     * Waits until some member is leader and returns its index.
     *
     * @throws IllegalStateException if there is no leader within {@code timeout}
     */
    public int awaitLeader(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            OptionalInt leader = leaderIndex();
            if (leader.isPresent()) {
                return leader.getAsInt();
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new IllegalStateException("no etcd leader within " + timeout + " among " + members);
            }
            pollPause();
        }
    }

    /** Whether the members serve clients over TLS ({@link Builder#tls()}). */
    public boolean isTls() {
        return tls;
    }

    /**
     * The PEM file of the CA that signed the members' server certificate: what a client must trust.
     * It exists once the cluster has started.
     *
     * @throws IllegalStateException if the cluster was built without {@link Builder#tls()}
     */
    public Path caCertificate() {
        if (!tls) {
            throw new IllegalStateException("this etcd cluster was built without tls(): it has no CA certificate");
        }
        return tlsDir().resolve("ca.pem");
    }

    /** The user of {@link Builder#auth}, if authentication is enabled. */
    public Optional<String> user() {
        return Optional.ofNullable(authUser);
    }

    /** The password of {@link Builder#auth}, if authentication is enabled. */
    public Optional<String> password() {
        return Optional.ofNullable(authPassword);
    }

    /**
     * {@code after - before} for each counter of two {@link Member#requestCounts()} readings, leaving out
     * counters that did not change.
     */
    public static java.util.SortedMap<String, Long> countsBetween(java.util.Map<String, Long> before,
            java.util.Map<String, Long> after) {
        java.util.SortedMap<String, Long> difference = new java.util.TreeMap<>();
        after.forEach((counter, n) -> {
            long delta = n - before.getOrDefault(counter, 0L);
            if (delta != 0) {
                difference.put(counter, delta);
            }
        });
        return difference;
    }

    /** The directory holding every member's data directory and log. */
    @Override
    public Path dir() {
        return super.dir();
    }

    @Override
    public String toString() {
        return "etcd cluster " + endpoints();
    }

    private Path tlsDir() {
        return dir().resolve("tls");
    }

    /**
     * Writes {@code ca.pem}/{@code ca-key.pem} (a self-signed CA) and {@code server.pem}/{@code server-key.pem}
     * (for 127.0.0.1 and localhost, signed by the CA) into {@link #tlsDir()}, unless they are there.
     * EC P-256 keys: generated in milliseconds. Valid for two days: enough for any test run.
     */
    private void generateCertificates() {
        Path tlsDir = tlsDir();
        if (Files.isRegularFile(tlsDir.resolve("server.pem"))) {
            return;
        }
        String openssl = Servers.requireBinary("openssl", "DISTKIT_OPENSSL_BIN", "openssl").toString();
        try {
            Files.createDirectories(tlsDir);
            Files.writeString(tlsDir.resolve("server.ext"), String.join("\n",
                    "basicConstraints=critical,CA:FALSE",
                    "keyUsage=critical,digitalSignature,keyEncipherment",
                    "extendedKeyUsage=serverAuth,clientAuth",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost", ""));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the TLS files of " + this + " into " + tlsDir, e);
        }
        run(tlsDir, "openssl: CA certificate", openssl, "req", "-x509", "-newkey", "ec",
                "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", "/CN=distkit test CA " + clusterToken,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout", "ca-key.pem", "-out", "ca.pem");
        run(tlsDir, "openssl: server key and request", openssl, "req", "-new", "-newkey", "ec",
                "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-subj", "/CN=localhost", "-keyout", "server-key.pem", "-out", "server.csr");
        run(tlsDir, "openssl: server certificate", openssl, "x509", "-req", "-in", "server.csr",
                "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-set_serial", Long.toString(System.nanoTime() & Long.MAX_VALUE),
                "-days", "2", "-extfile", "server.ext", "-out", "server.pem");
    }

    /** An SSL context that trusts the generated CA alone, for the probes. */
    private SSLContext trustingCa() {
        try (InputStream in = Files.newInputStream(caCertificate())) {
            Certificate ca = CertificateFactory.getInstance("X.509").generateCertificate(in);
            KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
            trust.load(null, null);
            trust.setCertificateEntry("distkit-test-ca", ca);
            TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            factory.init(trust);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, factory.getTrustManagers(), null);
            return context;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + caCertificate(), e);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot load " + caCertificate() + " as a trusted CA", e);
        }
    }

    /**
     * Creates the {@code root} user and the {@link Builder#auth} user (etcd refuses {@code auth enable}
     * without a root user), gives both the password and the {@code root} role, and enables authentication.
     */
    private void enableAuth() {
        String user = Objects.requireNonNull(authUser, "authUser");
        String password = Objects.requireNonNull(authPassword, "authPassword");
        String etcdctl = Servers.requireBinary("etcdctl", "DISTKIT_ETCDCTL_BIN", "etcd-client").toString();
        List<String> base = new ArrayList<>(List.of(etcdctl, "--endpoints", String.join(",", endpoints()),
                "--dial-timeout", "5s", "--command-timeout", "10s"));
        if (tls) {
            base.addAll(List.of("--cacert", caCertificate().toString()));
        }
        List<String> users = user.equals("root") ? List.of("root") : List.of("root", user);
        for (String name : users) {
            etcdctl(base, "user", "add", name, "--new-user-password", password);
            etcdctl(base, "user", "grant-role", name, "root");
        }
        etcdctl(base, "auth", "enable");
    }

    private void etcdctl(List<String> base, String... args) {
        List<String> command = new ArrayList<>(base);
        command.addAll(List.of(args));
        // the password is an argument: say which command failed without quoting it
        run(dir(), "etcdctl " + String.join(" ", List.of(args).subList(0, Math.min(3, args.length))),
                command.toArray(String[]::new));
    }

    /** Runs a command in {@code workDir}, waiting at most 30 s; throws with its output if it fails. */
    private void run(Path workDir, String what, String... command) {
        Path log = dir().resolve("commands.log");
        try {
            Process process = new ProcessBuilder(command).directory(workDir.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .start();
            ServerProcess.killAtExit(process.toHandle());
            try {
                if (!process.waitFor(30, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                    throw new IllegalStateException(what + " for " + this + " did not finish within 30 s; log " + log
                            + ":\n" + ServerProcess.tailOf(log, 20));
                }
            } finally {
                ServerProcess.cancelKillAtExit(process.toHandle());
            }
            if (process.exitValue() != 0) {
                throw new IllegalStateException(what + " for " + this + " failed with exit code " + process.exitValue()
                        + "; log " + log + ":\n" + ServerProcess.tailOf(log, 20));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + what + " for " + this, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + what + " for " + this, e);
        }
    }

    private String initialCluster() {
        return members.stream().map(m -> m.name() + "=" + m.peerUrl()).collect(Collectors.joining(","));
    }

    /** Starts the given members concurrently and waits for all; the first failure is rethrown. */
    private static void startTogether(Collection<Member> toStart) {
        if (toStart.size() == 1) {
            toStart.iterator().next().start();
            return;
        }
        try {
            CompletableFuture.allOf(toStart.stream()
                            .map(m -> CompletableFuture.runAsync(m::start, EtcdCluster::runOnControlThread))
                            .toArray(CompletableFuture[]::new))
                    .join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException cause) {
                throw cause;
            }
            throw e;
        }
    }

    private static void runOnControlThread(Runnable task) {
        // a plain thread each: the common pool may have a single worker on a 2-core machine
        DaemonThreads.start("etcd-control", task);
    }

    private static void pollPause() {
        try {
            Thread.sleep(50); // polling child processes that offer no readiness signal
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while polling etcd", e);
        }
    }

    /**
     * What one member says about itself in {@code /v3/maintenance/status}.
     *
     * @param memberId this member's raft id
     * @param leaderId the leader this member follows (0 when it knows none)
     * @param raftTerm the member's current term
     * @param raftAppliedIndex the last raft entry applied to its store
     * @param revision the store revision the member has applied
     */
    public record Status(long memberId, long leaderId, long raftTerm, long raftAppliedIndex, long revision) {

        /** Whether the member believes itself leader. */
        public boolean isLeader() {
            return memberId != 0 && memberId == leaderId;
        }
    }

    /**
     * One etcd member: a child process with its own ports and data directory. {@link #kill()},
     * {@link #pause()}, {@link #resume()}, {@link #stop()} and {@link #restart()} come from
     * {@link ServerProcess}; a restarted member keeps its data directory and rejoins the cluster.
     */
    public final class Member extends ServerProcess {

        private static final Pattern MEMBER_ID = Pattern.compile("\"member_id\"\\s*:\\s*\"?(\\d+)");
        private static final Pattern LEADER = Pattern.compile("\"leader\"\\s*:\\s*\"?(\\d+)");
        private static final Pattern RAFT_TERM = Pattern.compile("\"raftTerm\"\\s*:\\s*\"?(\\d+)");
        private static final Pattern APPLIED = Pattern.compile("\"raftAppliedIndex\"\\s*:\\s*\"?(\\d+)");
        /** One gRPC method's received messages in {@code /metrics}: method, service, count (Prometheus floats). */
        private static final Pattern RECEIVED = Pattern.compile("(?m)^grpc_server_msg_received_total\\{"
                + "grpc_method=\"(\\w+)\",grpc_service=\"([\\w.]+)\",grpc_type=\"\\w+\"} (\\S+)$");
        private static final Pattern PROPOSALS = Pattern.compile("(?m)^etcd_server_proposals_committed_total (\\S+)$");
        private static final Pattern REVISION = Pattern.compile("\"revision\"\\s*:\\s*\"?(\\d+)");

        private final int index;
        private final Path memberDir;
        private final int clientPort;
        private final int peerPort;

        private Member(int index, Path memberDir) {
            super("etcd m" + index, createDir(memberDir).resolve("etcd.log"));
            this.index = index;
            this.memberDir = memberDir;
            this.clientPort = Servers.freePort();
            this.peerPort = Servers.freePort();
        }

        private static Path createDir(Path dir) {
            try {
                return Files.createDirectories(dir);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        protected List<String> command() {
            // with a data directory from an earlier run the member rejoins; etcd then ignores the
            // bootstrap flags, but "existing" says what is meant and refuses a foreign cluster
            String state = Files.isDirectory(dataDir().resolve("member")) ? "existing" : "new";
            List<String> command = new ArrayList<>(List.of(Objects.requireNonNull(binary, "binary").toString(),
                    "--name", name(),
                    "--data-dir", dataDir().toString(),
                    "--listen-client-urls", endpoint(),
                    "--advertise-client-urls", endpoint(),
                    "--listen-peer-urls", peerUrl(),
                    "--initial-advertise-peer-urls", peerUrl(),
                    "--initial-cluster", initialCluster(),
                    "--initial-cluster-state", state,
                    "--initial-cluster-token", clusterToken,
                    "--heartbeat-interval", Long.toString(heartbeatInterval.toMillis()),
                    "--election-timeout", Long.toString(electionTimeout.toMillis()),
                    "--logger", "zap", "--log-outputs", "stderr"));
            if (tls) {
                // no --trusted-ca-file: etcd 3.4 then demands a client certificate of every client
                // (RequireAndVerifyClientCert), which is client-cert authentication, not what tls() is for
                command.addAll(List.of("--cert-file", tlsDir().resolve("server.pem").toString(),
                        "--key-file", tlsDir().resolve("server-key.pem").toString()));
            }
            command.addAll(extraArgs);
            return command;
        }

        /** Waits until {@code /health} reports true (not listening yet, or no leader: the health check itself waits a second). */
        @Override
        protected void awaitReady(Duration timeout) throws Exception {
            pollUntilReady(timeout, () -> {
                HttpResponse<String> response = http.send(
                        HttpRequest.newBuilder(URI.create(endpoint() + "/health")).timeout(PROBE_TIMEOUT).GET().build(),
                        HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() == 200 && response.body().replace(" ", "").contains("\"health\":\"true\"")) {
                    return true;
                }
                throw new IllegalStateException("/health answered " + response.statusCode() + " " + response.body().strip());
            });
        }

        /**
         * Waits until the member reports {@code {"health":"true"}}: it is running, has a leader and a
         * read through raft succeeded.
         *
         * @throws IllegalStateException if it is not healthy within {@code timeout} or is not running
         */
        public void awaitHealthy(Duration timeout) {
            try {
                awaitReady(timeout);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for " + this, e);
            } catch (Exception e) {
                throw new IllegalStateException(this + " not healthy within " + timeout + ": " + e.getMessage()
                        + "; log " + logFile(), e);
            }
        }

        /**
         * The member's own view from {@code POST /v3/maintenance/status} (the etcd 3.4 gRPC gateway),
         * or empty if it does not answer within a short timeout (dead, paused, not serving yet).
         */
        public Optional<Status> status() {
            try {
                HttpResponse<String> response = http.send(
                        HttpRequest.newBuilder(URI.create(endpoint() + "/v3/maintenance/status"))
                                .timeout(PROBE_TIMEOUT)
                                .header("Content-Type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofString("{}"))
                                .build(),
                        HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() != 200) {
                    return Optional.empty();
                }
                String body = response.body();
                // uint64 fields arrive as JSON strings; zero-valued ones are left out altogether
                return Optional.of(new Status(unsigned(MEMBER_ID, body), unsigned(LEADER, body), unsigned(RAFT_TERM, body),
                        unsigned(APPLIED, body), unsigned(REVISION, body)));
            } catch (IOException e) {
                return Optional.empty();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while asking " + this + " for its status", e);
            }
        }

        /**
         * What this member has been asked so far, from its Prometheus {@code /metrics}: the gRPC messages it
         * received, by {@code Service.Method} ({@code KV.Txn}, {@code Watch.Watch}, {@code Lease.LeaseKeepAlive},
         * ...; a stream counts each message, such as each keep-alive or watch request), without the
         * {@code Maintenance} and {@code Health} services that the fixture's own probes use; and {@code raft}, the
         * consensus proposals it committed (writes, lease grants and revocations, including those etcd makes
         * internally, which gRPC does not see). Counters only grow: the difference of two readings is what
         * happened in between ({@link #countsBetween}).
         *
         * @throws IllegalStateException if {@code /metrics} does not answer 200 within a short timeout
         */
        public java.util.SortedMap<String, Long> requestCounts() {
            String body;
            try {
                HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(endpoint() + "/metrics"))
                        .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() != 200) {
                    throw new IllegalStateException(endpoint() + "/metrics answered " + response.statusCode());
                }
                body = response.body();
            } catch (IOException e) {
                throw new IllegalStateException("cannot read " + endpoint() + "/metrics: " + e, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while reading " + endpoint() + "/metrics", e);
            }
            java.util.SortedMap<String, Long> counts = new java.util.TreeMap<>();
            Matcher m = RECEIVED.matcher(body);
            while (m.find()) {
                String service = m.group(2).substring(m.group(2).lastIndexOf('.') + 1);
                if (!service.equals("Maintenance") && !service.equals("Health")) {
                    counts.merge(service + "." + m.group(1), Math.round(Double.parseDouble(m.group(3))), Long::sum);
                }
            }
            Matcher p = PROPOSALS.matcher(body);
            if (p.find()) {
                counts.put("raft", Math.round(Double.parseDouble(p.group(1))));
            }
            return counts;
        }

        private static long unsigned(Pattern field, String json) {
            Matcher matcher = field.matcher(json);
            return matcher.find() ? Long.parseUnsignedLong(matcher.group(1)) : 0L;
        }

        /** Restarts the member after a crash or stop; a no-op if it runs. Waits until it is healthy. */
        @Override
        public synchronized void start() {
            if (binary == null) {
                binary = Servers.requireBinary("etcd", "DISTKIT_ETCD_BIN", "etcd-server");
            }
            super.start();
        }

        /** The member's index in the cluster, 0-based. */
        public int index() {
            return index;
        }

        /** The etcd member name, {@code m<index>}. */
        public String name() {
            return "m" + index;
        }

        public int clientPort() {
            return clientPort;
        }

        public int peerPort() {
            return peerPort;
        }

        /** {@code http://127.0.0.1:<clientPort>}, or {@code https://...} with {@link Builder#tls()}. */
        public String endpoint() {
            return (tls ? "https" : "http") + "://127.0.0.1:" + clientPort;
        }

        /** {@code http://127.0.0.1:<peerPort>}. */
        public String peerUrl() {
            return "http://127.0.0.1:" + peerPort;
        }

        /** The member's data directory; it survives restarts and goes with {@link EtcdCluster#close()}. */
        public Path dataDir() {
            return memberDir.resolve("data");
        }

        @Override
        public String toString() {
            return "etcd " + name() + " " + endpoint() + (isPaused() ? " (paused)" : isRunning() ? "" : " (down)");
        }
    }

    /** Configures an {@link EtcdCluster}. */
    public static final class Builder {
        private int members = 1;
        private Duration heartbeatInterval = DEFAULT_HEARTBEAT_INTERVAL;
        private Duration electionTimeout = DEFAULT_ELECTION_TIMEOUT;
        private final List<String> extraArgs = new ArrayList<>();
        private boolean tls;
        private @Nullable String authUser;
        private @Nullable String authPassword;
        private @Nullable Path dataParent;

        private Builder() {}

        /** 1 (no quorum faults) or 3 (one member may fail) members; default 1. */
        public Builder members(int members) {
            this.members = ClusterFixture.checkMembers(members);
            return this;
        }

        /** Raft heartbeat interval in whole milliseconds; default {@link #DEFAULT_HEARTBEAT_INTERVAL}. */
        public Builder heartbeatInterval(Duration heartbeatInterval) {
            Objects.requireNonNull(heartbeatInterval, "heartbeatInterval");
            if (heartbeatInterval.toMillis() < 1) {
                throw new IllegalArgumentException("heartbeatInterval must be at least 1 ms, was " + heartbeatInterval);
            }
            this.heartbeatInterval = heartbeatInterval;
            return this;
        }

        /**
         * Raft election timeout in whole milliseconds; default {@link #DEFAULT_ELECTION_TIMEOUT}. etcd
         * refuses to start unless it is at least five heartbeat intervals, checked in {@link #build()}.
         */
        public Builder electionTimeout(Duration electionTimeout) {
            Objects.requireNonNull(electionTimeout, "electionTimeout");
            if (electionTimeout.toMillis() < 1) {
                throw new IllegalArgumentException("electionTimeout must be at least 1 ms, was " + electionTimeout);
            }
            this.electionTimeout = electionTimeout;
            return this;
        }

        /** Further {@code --name value} arguments for every member, e.g. {@code --pre-vote}. */
        public Builder args(String... args) {
            extraArgs.addAll(List.of(args));
            return this;
        }

        /**
         * Serves clients over TLS: {@code https://} client URLs, a server certificate for {@code 127.0.0.1}
         * and {@code localhost} signed by a CA generated at start ({@link EtcdCluster#caCertificate()}).
         * Needs {@code openssl}. Client certificates are not asked for. Default: plain HTTP.
         */
        public Builder tls() {
            this.tls = true;
            return this;
        }

        /**
         * Enables etcd's authentication once the cluster has started: users {@code root} and {@code user}
         * (the same one if {@code user} is {@code "root"}), both with {@code password} and the {@code root}
         * role. Needs {@code etcdctl} (Debian package etcd-client). Default: no authentication.
         *
         * @throws IllegalArgumentException if the user is empty or holds {@code ':'}, or the password is empty
         */
        public Builder auth(String user, String password) {
            Objects.requireNonNull(user, "user");
            if (user.isEmpty() || user.contains(":")) {
                throw new IllegalArgumentException("user must be non-empty and without ':', was '" + user + "'");
            }
            this.authUser = user;
            this.authPassword = Servers.checkPassword(password);
            return this;
        }

        /**
         * Where the members' data directories go instead of the system's temp directory: say {@code /dev/shm}
         * (memory), so that a benchmark measures clients rather than this machine's disk syncs.
         *
         * @throws IllegalArgumentException if it is not an existing directory
         */
        public Builder dataIn(Path parent) {
            if (!java.nio.file.Files.isDirectory(parent)) {
                throw new IllegalArgumentException("dataIn needs an existing directory, got " + parent);
            }
            this.dataParent = parent;
            return this;
        }

        /** The cluster, not yet started (the JUnit extension or {@link EtcdCluster#start()} starts it). */
        public EtcdCluster build() {
            if (electionTimeout.toMillis() < 5 * heartbeatInterval.toMillis()) {
                throw new IllegalArgumentException("electionTimeout " + electionTimeout
                        + " must be at least 5 x heartbeatInterval " + heartbeatInterval + " (etcd refuses less)");
            }
            Path dir = dataParent == null ? Servers.tempDir("etcd") : Servers.tempDir(dataParent, "etcd");
            return new EtcdCluster(this, dir);
        }
    }
}
