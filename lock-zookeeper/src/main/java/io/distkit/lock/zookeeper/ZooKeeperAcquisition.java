package io.distkit.lock.zookeeper;

import io.distkit.lock.spi.Acquisition;
import io.distkit.lock.spi.Attempt;
import io.distkit.lock.spi.LockMode;
import io.distkit.lock.spi.LockRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.CuratorEvent;
import org.apache.curator.framework.api.CuratorWatcher;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.data.Stat;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One acquire call: an ephemeral sequential node in the lock's directory, kept across attempts (it is the
 * acquisition's place in the queue).
 *
 * <p>The first attempt creates the node (Curator's protected mode, so that Curator's own retries after a
 * lost connection find the node instead of making a second) and lists the directory right behind it, in the
 * same round trip (a session's requests are served in order). The node holds the
 * lock when no node that blocks it has a lower sequence: for a plain lock and a writer every node, for a
 * reader only writers, so readers share and a reader that arrives after a waiting writer waits for it. A
 * waiter sets a watch on the one blocking node just before its own (the newest older writer, for a reader)
 * and is woken by its deletion, so one waiter wakes per release; a watch set on a node already gone sends
 * the attempt round again at once. Later attempts list the directory again; a node that vanished (its
 * session expired, an operator deleted it) is created again, at the end of the queue.
 *
 * <p>A create whose reply was lost may have made a node: the next attempt finds it by the owner value in its
 * name and adopts it (the lowest, if there are several: the others are deleted, and our own nodes never block
 * us; one in a session other than the client's current one is deleted instead), and {@code finish(false)}
 * deletes every node with that owner value; nodes that may still appear after that (a retry of Curator's still under way) are left to the backend's background sweeps.
 * An attempt after one that answered Acquired means the engine gave that grant back and is deleting its
 * node by czxid: the next attempt deletes it too and creates a new node, so a czxid is never granted twice.
 * A lock that is not renewed uses a private session ({@link PrivateSession}), closed when the acquisition
 * gives up, when the lock is released, or when its lease runs out.
 *
 * <p>Attempts never overlap (the engine's rule), and {@code finish} comes after the last one completed.
 */
final class ZooKeeperAcquisition implements Acquisition<ZooKeeperLease> {

    private static final Logger LOG = LoggerFactory.getLogger(ZooKeeperAcquisition.class);
    private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);
    /** How often one attempt may go round (a node vanished, a watched node was already gone) before it answers. */
    private static final int ROUNDS = 8;
    /** The pause before an attempt refused for a lost connection is made again. */
    private static final Duration UNAVAILABLE_PAUSE = Duration.ofMillis(200);
    /** When a caller that does not wait would try again; the engine finishes such an acquisition first. */
    private static final Duration NO_WAIT_RETRY = Duration.ofMillis(100);

    private final ZooKeeperLockBackend backend;
    private final LockRequest request;
    private final String directory;
    private final String createPath;
    private final String encodedOwner;
    private final byte[] ownerBytes;

    // written by attempts and read by finish, which the engine runs one after the other
    private volatile @Nullable PrivateSession session;
    private volatile @Nullable String ownPath;
    private volatile long ownSequence;
    private volatile long ownToken;
    private volatile long ownSessionId;
    /** A create was sent whose outcome no reply told: a node of ours may exist that we do not know. */
    private volatile boolean ambiguous;
    /** Whether any create was ever ambiguous: finish then deletes by owner value, not just our known node. */
    private volatile boolean everAmbiguous;
    /** Whether the latest attempt answered Acquired: another attempt means the engine gave that grant back. */
    private volatile boolean granted;
    /** The node of a grant given back, deleted by the next attempt. */
    private volatile @Nullable String retiredPath;
    /** The watch the latest busy answer set, removed once nobody waits for it; null if none. */
    private volatile @Nullable Watch watch;

    /** A watch on the node before ours, and whether it fired. */
    private record Watch(CuratorFramework client, String path, CuratorWatcher watcher, CompletableFuture<Void> fired) {}

    /** The client the latest attempt used, to tell whether a timeout came from a lost connection. */
    private volatile @Nullable CuratorFramework current;

    ZooKeeperAcquisition(ZooKeeperLockBackend backend, LockRequest request) {
        this.backend = backend;
        this.request = request;
        this.directory = NodeNames.directory(backend.basePath(), request.name(), request.mode());
        this.createPath = NodeNames.createPath(directory, request.mode(), request.owner());
        this.encodedOwner = NodeNames.encode(request.owner());
        this.ownerBytes = request.owner().getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public CompletionStage<Attempt<ZooKeeperLease>> attempt() {
        dropWatch();
        if (granted) {
            granted = false;
            if (session != null) {
                session = null; // the engine's release closes that session, and the node with it
            } else {
                retiredPath = ownPath;
            }
            ownPath = null;
        }
        CompletableFuture<Attempt<ZooKeeperLease>> attempt;
        try {
            attempt = client().thenCompose(client -> {
                current = client;
                String retired = retiredPath;
                CompletableFuture<Void> before = retired == null ? DONE
                        : backend.deleteNode(client, retired).thenRun(() -> retiredPath = null);
                return before.thenCompose(ignored -> round(client, ROUNDS));
            });
        } catch (RuntimeException e) {
            attempt = CompletableFuture.failedFuture(e);
        }
        return backend.mapFailure(attempt, request.name(), "acquire").handle(this::passingOrFinal);
    }

    /**
     * A lost connection ({@code CONNECTIONLOSS}, a leader election, a session being replaced, or a call of ours
     * that timed out while the client had no connection) is answered as {@link Attempt#unavailable}, so that a
     * waiter keeps its place and tries again, for as long as the backend's {@link
     * ZooKeeperLockBackend#unavailableLimit()} allows. Trying again is safe: a create that was applied is found
     * by owner value.
     */
    private Attempt<ZooKeeperLease> passingOrFinal(@Nullable Attempt<ZooKeeperLease> answer, @Nullable Throwable failure) {
        if (failure == null) {
            return answer;
        }
        if (ZooKeeperCalls.isPassing(failure) || (ZooKeeperCalls.isTimeout(failure) && disconnected())) {
            return Attempt.unavailable(ZooKeeperCalls.unwrap(failure), UNAVAILABLE_PAUSE);
        }
        throw failure instanceof CompletionException completion ? completion : new CompletionException(failure);
    }

    /**
     * Whether the client has no connection now: a call of ours that timed out meanwhile was most likely held
     * back by Curator until the connection is back (it retries lost connections itself).
     */
    private boolean disconnected() {
        CuratorFramework client = current;
        return client != null && !client.getZookeeperClient().isConnected();
    }

    /** The shared client for an auto-renewed lock; for one that is not renewed, this acquisition's own session. */
    private CompletableFuture<CuratorFramework> client() {
        if (request.autoRenew()) {
            return CompletableFuture.completedFuture(backend.curator());
        }
        PrivateSession own = session;
        if (own != null && !own.isClosed()) {
            return CompletableFuture.completedFuture(own.curator());
        }
        // starting a client resolves host names and starts threads: not on the engine's thread
        return CompletableFuture.supplyAsync(() -> {
            PrivateSession fresh = backend.openPrivateSession(request.leaseTime());
            session = fresh;
            ownPath = null;
            ambiguous = false; // a node of a closed session is gone with it
            return fresh.curator();
        }, backend.calls().executor());
    }

    /** Makes sure our node exists, lists the directory and decides; goes round at most {@code rounds} times. */
    private CompletableFuture<Attempt<ZooKeeperLease>> round(CuratorFramework client, int rounds) {
        if (rounds <= 0) {
            return CompletableFuture.completedFuture(Attempt.busy(NO_WAIT_RETRY, null));
        }
        if (ownPath == null && !ambiguous) {
            // the listing goes right behind the create, without waiting for its reply: ZooKeeper serves one
            // session's requests in order, so it lists our node, and the two cost one round trip, not two
            CompletableFuture<Void> created = create(client);
            CompletableFuture<CuratorEvent> listing = list(client);
            return created.thenCompose(ignored -> listing).thenCompose(event -> {
                String own = ownPath;
                List<String> children = childrenIn(event);
                if (own == null || !children.contains(own.substring(directory.length() + 1))) {
                    // the create was retried after a lost connection, or its node adopted: list again
                    return round(client, rounds - 1);
                }
                return settleOwnNodes(client, children, rounds);
            });
        }
        return list(client)
                .thenCompose(event -> {
                    List<String> children = childrenIn(event);
                    ambiguous = false; // this listing shows every node an earlier create may have made
                    return settleOwnNodes(client, children, rounds);
                });
    }

    /**
     * Makes the lowest of our nodes (by owner value; a create whose reply was lost, or that Curator retried
     * after our call timed out, may have left more than one) the acquisition's place in the queue, and deletes
     * the others: a second node of ours would otherwise block every other client until our session ends. A node
     * of ours that lives in a session other than the client's current one (an expired or replaced session) is
     * deleted, never granted.
     */
    private CompletableFuture<Attempt<ZooKeeperLease>> settleOwnNodes(CuratorFramework client, List<String> children,
            int rounds) {
        List<NodeNames.Node> mine = new ArrayList<>();
        for (String child : children) {
            NodeNames.Node node = NodeNames.parse(child);
            if (node != null && node.encodedOwner().equals(encodedOwner)
                    && !(directory + "/" + child).equals(retiredPath)) {
                mine.add(node);
            }
        }
        if (mine.isEmpty()) {
            ownPath = null; // never made, its session expired, or it was deleted: queue (again)
            return round(client, rounds - 1);
        }
        mine.sort((x, y) -> NodeNames.precedes(x.sequence(), y.sequence()) ? -1
                : NodeNames.precedes(y.sequence(), x.sequence()) ? 1 : 0);
        NodeNames.Node lowest = mine.get(0);
        String lowestPath = directory + "/" + lowest.child();
        CompletableFuture<Void> adopted = lowestPath.equals(ownPath) ? DONE
                : adopt(client, lowestPath, lowest.sequence());
        return adopted.thenCompose(ignored -> {
            String own = ownPath;
            if (own == null) {
                return round(client, rounds - 1); // gone meanwhile: look again
            }
            long current = sessionId(client);
            if (current == 0) {
                return CompletableFuture.failedFuture(new KeeperException.ConnectionLossException());
            }
            if (ownSessionId != current) {
                // a node of a session that is no longer the client's: it goes with that session, and must not be
                // granted, as the session may already have expired on the leader
                ownPath = null;
                LOG.debug("deleting node {} of session 0x{}, not the current 0x{}", own,
                        Long.toHexString(ownSessionId), Long.toHexString(current));
                return backend.deleteNode(client, own).thenCompose(deleted -> round(client, rounds - 1));
            }
            List<CompletableFuture<Void>> extras = new ArrayList<>();
            for (NodeNames.Node extra : mine.subList(1, mine.size())) {
                LOG.debug("deleting a second node {} of one acquisition of '{}'", extra.child(), request.name());
                extras.add(backend.deleteNode(client, directory + "/" + extra.child()));
            }
            return CompletableFuture.allOf(extras.toArray(CompletableFuture[]::new))
                    .thenCompose(deleted -> decide(client, children, rounds));
        });
    }

    /** The id of the session the client has now; 0 if it has none (which no node has). */
    private static long sessionId(CuratorFramework client) {
        try {
            return client.getZookeeperClient().getZooKeeper().getSessionId();
        } catch (Exception e) {
            return 0;
        }
    }

    /** Lists the lock's directory. */
    private CompletableFuture<CuratorEvent> list(CuratorFramework client) {
        return backend.calls().call(callback -> client.getChildren().inBackground(callback).forPath(directory));
    }

    /** The children a listing found: none if the directory does not exist (yet, or any more). */
    private static List<String> childrenIn(CuratorEvent listing) {
        return ZooKeeperCalls.noNode(listing) ? List.of() : ZooKeeperCalls.ok(listing).getChildren();
    }

    /** Creates our node and remembers its path, sequence and czxid. */
    private CompletableFuture<Void> create(CuratorFramework client) {
        Stat stat = new Stat();
        ambiguous = true; // until a reply says otherwise
        return backend.calls().call(callback -> client.create().storingStatIn(stat).creatingParentsIfNeeded()
                        .withProtection().withMode(CreateMode.EPHEMERAL_SEQUENTIAL)
                        .inBackground(callback).forPath(createPath, ownerBytes))
                .handle((event, failure) -> {
                    if (failure != null) {
                        everAmbiguous = true;
                        throw failure instanceof CompletionException c ? c : new CompletionException(failure);
                    }
                    ZooKeeperCalls.ok(event);
                    String path = event.getName();
                    NodeNames.Node node = NodeNames.parse(path.substring(path.lastIndexOf('/') + 1));
                    if (node == null) {
                        throw new IllegalStateException("ZooKeeper created an unexpected node " + path);
                    }
                    Stat created = event.getStat() != null ? event.getStat() : stat;
                    ambiguous = false;
                    ownPath = path;
                    ownSequence = node.sequence();
                    ownToken = created.getCzxid();
                    ownSessionId = created.getEphemeralOwner();
                    return ownToken == 0 ? adopt(client, path, node.sequence()) : DONE;
                })
                .thenCompose(done -> done)
                .thenCompose(ignored -> checkPrivateSession());
    }

    /** A private session must not expire before the lease ends: refused if the server granted less. */
    private CompletableFuture<Void> checkPrivateSession() {
        PrivateSession own = session;
        if (own == null) {
            return DONE;
        }
        try {
            own.checkTimeout(request.name(), request.leaseTime());
            return DONE;
        } catch (Exception e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Takes a node found by owner value as ours, with its czxid from a fresh stat. */
    private CompletableFuture<Void> adopt(CuratorFramework client, String path, long sequence) {
        return backend.calls().call(callback -> client.checkExists().inBackground(callback).forPath(path))
                .thenAccept(event -> {
                    if (ZooKeeperCalls.noNode(event)) {
                        ownPath = null; // gone again: the next round creates one
                        return;
                    }
                    Stat stat = ZooKeeperCalls.ok(event).getStat();
                    ownPath = path;
                    ownSequence = sequence;
                    ownToken = stat.getCzxid();
                    ownSessionId = stat.getEphemeralOwner();
                });
    }

    /** Holds the lock if nothing blocks it; else watches the newest blocking node before ours. */
    private CompletableFuture<Attempt<ZooKeeperLease>> decide(CuratorFramework client, List<String> children,
            int rounds) {
        NodeNames.Node blocker = null;
        long ownSeq = ownSequence;
        for (String child : children) {
            NodeNames.Node node = NodeNames.parse(child);
            if (node == null || !NodeNames.precedes(node.sequence(), ownSeq) || node.encodedOwner().equals(encodedOwner)) {
                continue; // our own nodes never block us (settleOwnNodes deleted the extra ones)
            }
            boolean blocks = request.mode() != LockMode.READ || node.mode() == LockMode.WRITE;
            if (blocks && (blocker == null || NodeNames.precedes(blocker.sequence(), node.sequence()))) {
                blocker = node;
            }
        }
        if (blocker == null) {
            String path = ownPath;
            PrivateSession own = session;
            granted = true;
            if (own != null) {
                own.closeAt(request.leaseTime()); // a lock nobody renews frees itself when its lease ends
            }
            return CompletableFuture.completedFuture(Attempt.acquired(ownToken,
                    new ZooKeeperLease(request.name(), path, ownToken, ownSessionId, own)));
        }
        if (!request.willWait()) {
            return CompletableFuture.completedFuture(Attempt.busy(NO_WAIT_RETRY, null));
        }
        String blockerPath = directory + "/" + blocker.child();
        CompletableFuture<Void> wakeUp = new CompletableFuture<>();
        // only the predecessor's deletion wakes us: removing our own watch (dropWatch) delivers an event to it
        // too, and a connection event says nothing about the lock; a wake-up for those would have the engine
        // retry at once, remove this watch, and so on in a loop for as long as the holder keeps the lock
        CuratorWatcher watcher = event -> {
            if (event.getType() == Watcher.Event.EventType.NodeDeleted) {
                wakeUp.complete(null);
            }
        };
        watch = new Watch(client, blockerPath, watcher, wakeUp);
        // getData, not checkExists: on a node already gone it fails without leaving a watch behind
        return backend.calls().call(callback -> client.getData().usingWatcher(watcher).inBackground(callback)
                        .forPath(blockerPath))
                .thenCompose(event -> {
                    if (ZooKeeperCalls.noNode(event)) {
                        return round(client, rounds - 1); // released meanwhile: look again
                    }
                    ZooKeeperCalls.ok(event);
                    return CompletableFuture.completedFuture(Attempt.<ZooKeeperLease>busy(null, wakeUp));
                });
    }

    /**
     * Removes, on the client side only, a watch that has not fired: the engine retried without it (its wait
     * for a notification ran out) or the acquisition is over. Otherwise every such watch would stay
     * registered until the node it watches changes.
     */
    private void dropWatch() {
        Watch w = watch;
        watch = null;
        if (w == null || w.fired().isDone()) {
            return;
        }
        try {
            w.client().watchers().remove(w.watcher()).ofType(Watcher.WatcherType.Any).locally().quietly()
                    .inBackground().forPath(w.path());
        } catch (Exception e) {
            LOG.debug("could not remove the watch on {}", w.path(), e); // it goes when the node changes
        }
    }

    /**
     * With {@code acquired} true the node now belongs to the engine. Otherwise deletes what this acquisition
     * may have made: a private session is closed (its node goes with it); on the shared session our node is
     * deleted, or, if a create's outcome was ever unknown, every node with our owner value, and such an owner
     * is also left to the backend's background sweeps in case a late retry still creates one.
     */
    @Override
    public CompletionStage<Void> finish(boolean acquired) {
        dropWatch();
        if (acquired) {
            return DONE;
        }
        PrivateSession own = session;
        if (own != null) {
            session = null;
            backend.retire(own);
            return DONE;
        }
        long keepUntil = System.nanoTime() + backend.calls().timeout().multipliedBy(3).toNanos();
        CompletableFuture<Void> cleanUp;
        String path = ownPath;
        if (everAmbiguous || ambiguous) {
            backend.abandon(directory, encodedOwner, keepUntil);
            cleanUp = backend.deleteOwned(backend.curator(), directory, encodedOwner);
        } else if (path != null) {
            cleanUp = backend.deleteNode(backend.curator(), path);
        } else {
            return DONE;
        }
        return cleanUp.handle((ignored, failure) -> {
            if (failure != null) {
                LOG.debug("could not delete the node of a given-up acquisition of '{}'; retried in the background",
                        request.name(), failure);
                backend.abandon(directory, encodedOwner, keepUntil);
            }
            return null;
        });
    }
}
