package io.distkit.lock.zookeeper;

import io.distkit.lock.LockOptions;
import io.distkit.lock.spi.Acquisition;
import io.distkit.lock.spi.LockBackend;
import io.distkit.lock.spi.LockRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.framework.state.ConnectionStateListener;
import org.apache.zookeeper.data.Stat;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ZooKeeper lock primitive the engine builds on.
 *
 * <p><b>Store.</b> A lock is a persistent directory under the base path ({@link NodeNames}) whose children
 * are ephemeral sequential nodes, one per acquisition that holds or waits for it, each holding the
 * acquisition's owner value. The node with the lowest sequence among those that block an acquisition holds
 * the lock; the node's czxid (the transaction id that created it) is the fencing token. Transaction ids only
 * grow in an ensemble, across leader elections too (the epoch is their high half), so tokens do.
 *
 * <p><b>Lifetime.</b> ZooKeeper has no lease per node: an ephemeral node lives as long as the session that
 * made it. An auto-renewed lock lives in the client's shared session, and a renewal is a {@code sync} followed
 * by one existence check per node ({@link #renewAll}): the node must still be there, with its czxid, in our
 * session. The engine's deadline is the send time plus the lease time, which {@link #validate} keeps within the
 * negotiated session timeout, and by default a third below it: the leader, which alone expires sessions, counts
 * the session timeout from the latest contact it learnt of, which may be a little older than the renewal. A
 * session the client reports {@link ConnectionState#LOST} (expired) takes all its locks at once ({@link
 * #start}). A lock that is not renewed gets a session of its own, closed when its lease ends ({@link
 * PrivateSession}).
 *
 * <p><b>Invariant.</b> An acquisition is told it holds the lock only after a listing of the directory taken
 * after its node was created showed no blocking node before it, and only with a node of the session the client
 * has now (its {@code ephemeralOwner}); an acquisition has at most one node once it has listed the directory
 * (extra nodes of its owner value are deleted, the lowest kept). Release and clean-up delete only a node whose
 * path is this acquisition's (it holds the acquisition's owner value and Curator's random protection id, and so
 * is never reused).
 */
final class ZooKeeperLockBackend implements LockBackend<ZooKeeperLease> {

    private static final Logger LOG = LoggerFactory.getLogger(ZooKeeperLockBackend.class);

    private final CuratorFramework curator;
    private final boolean ownsCurator;
    private final String connectString;
    private final String basePath;
    /** Sessions the shared client was connected in that have not been reported ended. */
    private final Set<Long> sessionsSeen = ConcurrentHashMap.newKeySet();
    private final ZooKeeperCalls calls;
    private volatile int sessionTimeoutMillis;
    private final Set<PrivateSession> privateSessions = ConcurrentHashMap.newKeySet();
    /** Owners whose node may exist though their acquisition gave up: deleted by sweeps and renewal passes. */
    private final Map<String, Abandoned> abandoned = new ConcurrentHashMap<>();
    private @Nullable ConnectionStateListener listener;

    /** A create whose outcome is unknown, or a node whose delete failed: looked for by owner value. */
    private record Abandoned(String directory, String encodedOwner, long keepUntil, long sessionId,
            AtomicInteger tries, AtomicBoolean inFlight) {}

    /** The first pause before abandoned nodes are swept; later pauses double. */
    private static final Duration SWEEP_FIRST_DELAY = Duration.ofMillis(100);
    /** The longest pause between sweeps. */
    private static final Duration SWEEP_MAX_DELAY = Duration.ofSeconds(5);
    /** How many failed sweeps an abandoned owner gets before it is given up. */
    private static final int SWEEP_MAX_TRIES = 30;

    private final AtomicBoolean sweepScheduled = new AtomicBoolean();
    private final AtomicInteger sweepsInARow = new AtomicInteger();
    private final AtomicBoolean closed = new AtomicBoolean();

    ZooKeeperLockBackend(CuratorFramework curator, boolean ownsCurator, String basePath, ZooKeeperCalls calls,
            int sessionTimeoutMillis) {
        this.curator = curator;
        this.ownsCurator = ownsCurator;
        this.connectString = curator.getZookeeperClient().getCurrentConnectionString();
        this.basePath = basePath;
        this.calls = calls;
        this.sessionTimeoutMillis = sessionTimeoutMillis;
    }

    /**
     * Reports every lock of the shared session as lost as soon as Curator says the session expired; a
     * suspended connection is left to the engine's deadline (the session may well survive it).
     */
    @Override
    public void start(LeaseEvents<ZooKeeperLease> events) {
        noteSession(currentSessionId());
        ConnectionStateListener onChange = (client, state) -> {
            if (state == ConnectionState.LOST) {
                // only sessions this client was connected in and is not now: a lease granted meanwhile in the new
                // session (an acquire in flight across the expiry) is not lost with the old one
                long current = currentSessionId();
                Set<Long> ended = new HashSet<>(sessionsSeen);
                ended.remove(current);
                sessionsSeen.removeAll(ended);
                events.lost(lease -> lease.session() == null && ended.contains(lease.sessionId()), "the ZooKeeper"
                        + " session of the lock expired on " + describe() + " (the client was cut off for longer"
                        + " than the session timeout), and its node went with it");
            } else if (state.isConnected()) {
                noteSession(currentSessionId());
                updateSessionTimeout();
            }
        };
        listener = onChange;
        curator.getConnectionStateListenable().addListener(onChange, calls.executor());
    }

    /** Remembers a session the shared client was connected in (0: none). */
    private void noteSession(long sessionId) {
        if (sessionId != 0) {
            sessionsSeen.add(sessionId);
        }
    }

    /** The session id of the shared client if it is connected now, else 0 (which no lease has). */
    private long currentSessionId() {
        try {
            if (!curator.getZookeeperClient().isConnected()) {
                return 0;
            }
            return curator.getZookeeperClient().getZooKeeper().getSessionId();
        } catch (Exception e) {
            return 0;
        }
    }

    private void updateSessionTimeout() {
        try {
            int negotiated = curator.getZookeeperClient().getZooKeeper().getSessionTimeout();
            if (negotiated > 0) {
                sessionTimeoutMillis = negotiated;
            }
        } catch (Exception e) {
            LOG.debug("could not read the negotiated session timeout", e);
        }
    }

    @Override
    public String describe() {
        return calls.describe();
    }

    /** The session timeout the ensemble granted the shared session. */
    Duration sessionTimeout() {
        return Duration.ofMillis(sessionTimeoutMillis);
    }

    /**
     * A lock lives as long as its session: a lease time beyond the session timeout would let the engine's
     * deadline outlast the node of a client that is cut off.
     *
     * @throws IllegalArgumentException naming leaseTime, the session timeout and what to do
     */
    @Override
    public void validate(LockOptions options) {
        Duration session = sessionTimeout();
        if (options.leaseTime().compareTo(session) > 0) {
            throw new IllegalArgumentException("leaseTime " + options.leaseTime() + " is longer than the session"
                    + " timeout of " + session + " negotiated with " + describe() + ": a ZooKeeper lock lives only as"
                    + " long as its session, so the lease could outlast the lock; use a leaseTime of at most "
                    + session + ", or a longer sessionTimeout (which the servers cap at their maxSessionTimeout,"
                    + " 20 ticks unless configured)");
        }
    }

    @Override
    public boolean supportsReadWrite() {
        return true;
    }

    /** An election passes within the command timeout; unavailable for twice that in a row is an outage. */
    @Override
    public Duration unavailableLimit() {
        return calls.timeout().multipliedBy(2);
    }

    /** Curator completes background calls on its event thread, and so do our stages. */
    @Override
    public boolean completesOnIoThreads() {
        return true;
    }

    @Override
    public Acquisition<ZooKeeperLease> newAcquisition(LockRequest request) {
        return new ZooKeeperAcquisition(this, request);
    }

    @Override
    public CompletionStage<Boolean> renew(ZooKeeperLease lease, Duration leaseTime) {
        return renewAll(List.of(lease), List.of(leaseTime)).thenApply(renewed -> renewed.get(0));
    }

    /**
     * Per session, a {@code sync} and then one existence check per node, all sent at once: a lock is renewed if
     * its node is still there with its czxid and in the session that made it.
     *
     * <p>Why the {@code sync}: a read is answered by whichever member the client is connected to, and a follower
     * cut off from the leader (but not yet aware of it) would still show the node after the leader expired the
     * session and deleted it, so the renewal would extend a lock that another client may already hold. A {@code
     * sync} is answered only after the member caught up with the leader, so the existence check behind it sees
     * every session expiry the leader had committed when it handled the {@code sync}, which was after the
     * renewal was sent. A member without a leader cannot answer it, so the renewal fails and the deadline is not
     * extended. The rest of the margin comes from the lease being shorter than the session timeout (the
     * default lease is two thirds of it; see {@link ZooKeeperLockClient}).
     */
    @Override
    public CompletionStage<List<Boolean>> renewAll(List<ZooKeeperLease> leases, List<Duration> leaseTimes) {
        cleanUpAbandoned();
        int n = leases.size();
        Map<CuratorFramework, CompletableFuture<Void>> synced = new IdentityHashMap<>();
        List<CompletableFuture<Boolean>> each = new ArrayList<>(n);
        for (ZooKeeperLease lease : leases) {
            CuratorFramework client = curatorOf(lease);
            CompletableFuture<Void> sync = synced.computeIfAbsent(client, c -> calls.call(callback ->
                            c.sync().inBackground(callback).forPath(lease.path()))
                    .thenAccept(ZooKeeperCalls::ok));
            each.add(sync.thenCompose(ignored -> calls.call(callback -> client.checkExists().inBackground(callback)
                            .forPath(lease.path())))
                    .thenApply(event -> {
                        if (ZooKeeperCalls.noNode(event)) {
                            return false;
                        }
                        Stat stat = ZooKeeperCalls.ok(event).getStat();
                        return stat != null && stat.getCzxid() == lease.token()
                                && stat.getEphemeralOwner() == lease.sessionId();
                    }));
        }
        CompletableFuture<List<Boolean>> all = CompletableFuture.allOf(each.toArray(CompletableFuture[]::new))
                .thenApply(ignored -> each.stream().map(CompletableFuture::join).toList());
        return mapFailure(all, n == 1 ? leases.get(0).name() : null, n == 1 ? "renew" : "renewal of " + n + " locks");
    }

    /**
     * Deletes the node, one request: Curator's guaranteed delete keeps trying in the background if the
     * connection drops, so a release during a connection loss leaves no node behind. False if the node was
     * gone (its session expired, someone deleted it). A private session is closed afterwards.
     */
    @Override
    public CompletionStage<Boolean> release(ZooKeeperLease lease) {
        PrivateSession own = lease.session();
        if (own != null && own.isClosed()) {
            return CompletableFuture.completedFuture(false); // its lease ran out: the node went with the session
        }
        CuratorFramework client = curatorOf(lease);
        // one delete by path: the path holds the acquisition's owner value and Curator's random protection id,
        // so no other node ever has it (not even after the lock's directory was deleted and made again)
        CompletableFuture<Boolean> released = calls.call(callback -> client.delete().guaranteed()
                        .inBackground(callback).forPath(lease.path()))
                .thenApply(deleted -> ZooKeeperCalls.noNode(deleted) ? false : ZooKeeperCalls.ok(deleted) != null);
        PrivateSession session = lease.session();
        if (session != null) {
            released = released.whenComplete((ok, failure) -> retire(session));
        }
        return mapFailure(released, lease.name(), "release");
    }

    private CuratorFramework curatorOf(ZooKeeperLease lease) {
        PrivateSession session = lease.session();
        return session == null ? curator : session.curator();
    }

    // ---- sessions and left-behind nodes ----------------------------------------------------------------

    /** A new private session for a lock that is not renewed. */
    /**
     * A new private session for a lock that is not renewed; it stays in {@link #privateSessions} until it is
     * closed, so that {@link #close()} closes every session still open.
     *
     * @throws IllegalStateException if the backend is closed
     */
    PrivateSession openPrivateSession(Duration leaseTime) {
        if (closed.get()) {
            throw new IllegalStateException("the lock client for " + describe() + " is closed");
        }
        PrivateSession session = PrivateSession.open(connectString, curator.getNamespace(), leaseTime, calls,
                privateSessions::remove);
        privateSessions.add(session);
        if (closed.get()) { // close() may have run its loop before the add
            session.close();
            throw new IllegalStateException("the lock client for " + describe() + " is closed");
        }
        return session;
    }

    /** Closes a private session in the background; its node goes with it. */
    void retire(PrivateSession session) {
        session.closeInBackground();
    }

    /**
     * Leaves the nodes of an owner to be deleted in the background until {@code keepUntil} (nanoTime): on sweeps
     * of their own ({@link #sweepAbandoned}), so that they go even when this client holds no lock, and on every
     * renewal pass.
     */
    void abandon(String directory, String encodedOwner, long keepUntil) {
        abandoned.put(directory + "/" + encodedOwner, new Abandoned(directory, encodedOwner, keepUntil,
                currentSessionId(), new AtomicInteger(), new AtomicBoolean()));
        scheduleSweep(SWEEP_FIRST_DELAY);
    }

    private void scheduleSweep(Duration delay) {
        if (sweepScheduled.compareAndSet(false, true)) {
            if (calls.schedule(this::sweepAbandoned, delay) == null) {
                sweepScheduled.set(false); // closed: the nodes go with the session
            }
        }
    }

    /**
     * One sweep: tries every abandoned owner once, then comes back while any is left, with a pause that doubles
     * up to {@link #SWEEP_MAX_DELAY}. Bounded: an owner is dropped once a sweep after its keep time succeeded,
     * once the session it was abandoned in is no longer the client's (its nodes went with it), or after {@link
     * #SWEEP_MAX_TRIES} failed tries (logged).
     */
    private void sweepAbandoned() {
        sweepScheduled.set(false);
        if (closed.get()) {
            return;
        }
        cleanUpAbandoned().whenComplete((ignored, failure) -> {
            if (abandoned.isEmpty() || closed.get()) {
                sweepsInARow.set(0);
                return;
            }
            long pause = SWEEP_FIRST_DELAY.toMillis() << Math.min(10, sweepsInARow.incrementAndGet());
            scheduleSweep(Duration.ofMillis(Math.min(pause, SWEEP_MAX_DELAY.toMillis())));
        });
    }

    /** Deletes, in the background, every node of an abandoned owner; completes when every delete answered. */
    private CompletableFuture<Void> cleanUpAbandoned() {
        List<CompletableFuture<Void>> all = new ArrayList<>();
        for (Map.Entry<String, Abandoned> entry : abandoned.entrySet()) {
            Abandoned a = entry.getValue();
            long session = currentSessionId();
            if (a.sessionId() != 0 && session != 0 && session != a.sessionId()) {
                abandoned.remove(entry.getKey(), a); // that session is gone, and its nodes with it
                continue;
            }
            if (!a.inFlight().compareAndSet(false, true)) {
                continue;
            }
            CompletableFuture<Void> done = new CompletableFuture<>();
            all.add(done);
            deleteOwned(curator, a.directory(), a.encodedOwner()).whenComplete((deletedAll, failure) -> {
                a.inFlight().set(false);
                if (failure == null && System.nanoTime() - a.keepUntil() > 0) {
                    abandoned.remove(entry.getKey(), a);
                } else if (failure != null && a.tries().incrementAndGet() >= SWEEP_MAX_TRIES
                        && abandoned.remove(entry.getKey(), a)) {
                    LOG.warn("gave up deleting the nodes of a given-up acquisition in {} on {} after {} tries;"
                            + " they go when the client's session ends", a.directory(), describe(), SWEEP_MAX_TRIES,
                            failure);
                }
                done.complete(null);
            });
        }
        return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new));
    }

    /** Lists the directory and deletes every node of this owner; completes when all deletes answered. */
    CompletableFuture<Void> deleteOwned(CuratorFramework client, String directory, String encodedOwner) {
        return calls.call(callback -> client.getChildren().inBackground(callback).forPath(directory))
                .thenCompose(event -> {
                    if (ZooKeeperCalls.noNode(event)) {
                        return CompletableFuture.completedFuture(null);
                    }
                    List<CompletableFuture<?>> deletes = new ArrayList<>();
                    for (String child : ZooKeeperCalls.ok(event).getChildren()) {
                        NodeNames.Node node = NodeNames.parse(child);
                        if (node != null && node.encodedOwner().equals(encodedOwner)) {
                            deletes.add(deleteNode(client, directory + "/" + child));
                        }
                    }
                    return CompletableFuture.allOf(deletes.toArray(CompletableFuture[]::new));
                });
    }

    /** Deletes a node of ours; absent counts as deleted. */
    CompletableFuture<Void> deleteNode(CuratorFramework client, String path) {
        return calls.call(callback -> client.delete().inBackground(callback).forPath(path))
                .thenAccept(event -> {
                    if (!ZooKeeperCalls.noNode(event)) {
                        ZooKeeperCalls.ok(event);
                    }
                });
    }

    /**
     * Closes every private session still open (on this thread: closes queued on the backend's threads are not
     * relied upon), then the Curator client if this backend made it, then the threads, waiting a bounded time
     * for a close already running on them.
     */
    @Override
    public void close() {
        closed.set(true);
        try {
            ConnectionStateListener l = listener;
            if (l != null) {
                curator.getConnectionStateListenable().removeListener(l);
            }
            for (PrivateSession session : privateSessions) {
                session.close(); // removes itself from the set
            }
        } finally {
            try {
                if (ownsCurator) {
                    curator.close();
                }
            } finally {
                calls.close();
            }
        }
    }

    // ---- for the acquisitions -------------------------------------------------------------------------

    CuratorFramework curator() {
        return curator;
    }

    ZooKeeperCalls calls() {
        return calls;
    }

    String basePath() {
        return basePath;
    }

    <T> CompletableFuture<T> mapFailure(CompletableFuture<T> stage, @Nullable String lockName, String operation) {
        return stage.handle((value, failure) -> failure == null ? CompletableFuture.completedFuture(value)
                        : CompletableFuture.<T>failedFuture(calls.failure(lockName, operation, failure)))
                .thenCompose(Function.identity());
    }
}
