package io.distkit.testkit.server;

import io.distkit.common.DaemonThreads;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
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
    // volatile, not guarded: members start on their own threads while start() holds this lock
    private volatile @Nullable Path binary;

    private EtcdCluster(Builder b, Path dir) {
        super(dir);
        this.clusterToken = "distkit-" + UUID.randomUUID();
        this.heartbeatInterval = b.heartbeatInterval;
        this.electionTimeout = b.electionTimeout;
        this.extraArgs = List.copyOf(b.extraArgs);
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
        try {
            startTogether(members);
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

    /** The client URLs of all members, {@code http://127.0.0.1:<port>}, in member order. */
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

    /** The directory holding every member's data directory and log. */
    @Override
    public Path dir() {
        return super.dir();
    }

    @Override
    public String toString() {
        return "etcd cluster " + endpoints();
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
            command.addAll(extraArgs);
            return command;
        }

        /** Waits until {@code /health} reports true (not listening yet, or no leader: the health check itself waits a second). */
        @Override
        protected void awaitReady(Duration timeout) throws Exception {
            pollUntilReady(timeout, () -> {
                HttpResponse<String> response = HTTP.send(
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
                HttpResponse<String> response = HTTP.send(
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

        /** {@code http://127.0.0.1:<clientPort>}. */
        public String endpoint() {
            return "http://127.0.0.1:" + clientPort;
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

        /** The cluster, not yet started (the JUnit extension or {@link EtcdCluster#start()} starts it). */
        public EtcdCluster build() {
            if (electionTimeout.toMillis() < 5 * heartbeatInterval.toMillis()) {
                throw new IllegalArgumentException("electionTimeout " + electionTimeout
                        + " must be at least 5 x heartbeatInterval " + heartbeatInterval + " (etcd refuses less)");
            }
            return new EtcdCluster(this, Servers.tempDir("etcd"));
        }
    }
}
