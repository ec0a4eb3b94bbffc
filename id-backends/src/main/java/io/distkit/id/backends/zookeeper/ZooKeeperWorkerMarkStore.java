package io.distkit.id.backends.zookeeper;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.backends.WorkerMarkStore;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.CuratorEvent;
import org.apache.zookeeper.CreateMode;
import org.apache.curator.utils.ZKPaths;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.jspecify.annotations.Nullable;

/**
 * The high-water marks in ZooKeeper: per lock name a persistent node {@code <basePath>/<encoded lock name>} whose
 * data is {@code "<token> <mark>"}, the fencing token of the latest holder heard from and the mark, in decimal.
 * Every change is a compare-and-set on the node's version ({@link ZooKeeperAccess#compareAndSet}): a read with a
 * higher token than the node's raises the node's token, a read or save with a lower one changes nothing and is
 * refused, so a holder whose lock was taken over cannot change the mark once the new holder has read it. The
 * tokens are the ZooKeeper locks' fencing tokens (the czxid of the lock node), which only grow. A write is
 * acknowledged once a quorum has it on disk.
 */
final class ZooKeeperWorkerMarkStore implements WorkerMarkStore {

    /** Compare-and-set attempts per read or save; one more follows only another writer's success. */
    static final int MAX_ATTEMPTS = 16;

    private record Mark(long token, long timestamp, int version) {}

    private final ZooKeeperAccess zk;
    private final String basePath;
    private final @Nullable String lockBasePath;
    private final String description;

    /**
     * @param basePath where the mark nodes lie
     * @param lockBasePath the base path of the lock client that holds the worker ids, for {@link #heldLockNames};
     *     null: nothing known
     */
    ZooKeeperWorkerMarkStore(ZooKeeperAccess zk, String basePath, @Nullable String lockBasePath) {
        this.zk = zk;
        this.basePath = basePath;
        this.lockBasePath = lockBasePath;
        this.description = "nodes under " + basePath + " on " + zk.describe();
    }

    String path(String lockName) {
        return basePath + "/" + ZooKeeperAccess.encode(lockName);
    }

    @Override
    public String source() {
        return basePath;
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public OptionalLong read(String lockName, long fencingToken) {
        String path = path(lockName);
        String what = "reading the last timestamp of " + lockName + " at " + path;
        for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
            Mark mark = get(what, lockName, path);
            if (mark == null) {
                if (create(what, path, fencingToken, 0)) {
                    return OptionalLong.of(0);
                }
                continue; // created by another holder meanwhile
            }
            if (mark.token() > fencingToken) {
                return OptionalLong.empty();
            }
            if (mark.token() == fencingToken
                    || write(what, path, fencingToken, mark.timestamp(), mark.version()) == KeeperException.Code.OK) {
                return OptionalLong.of(mark.timestamp());
            }
        }
        throw contended(lockName, "reading its last timestamp");
    }

    @Override
    public boolean save(String lockName, long fencingToken, long timestamp) {
        String path = path(lockName);
        String what = "saving last timestamp " + timestamp + " of " + lockName + " at " + path;
        for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
            Mark mark = get(what, lockName, path);
            if (mark == null) {
                if (create(what, path, fencingToken, Math.max(0, timestamp))) {
                    return true;
                }
                continue;
            }
            if (mark.token() > fencingToken) {
                return false;
            }
            if (mark.token() == fencingToken && mark.timestamp() >= timestamp) {
                return true;
            }
            if (write(what, path, fencingToken, Math.max(mark.timestamp(), timestamp), mark.version())
                    == KeeperException.Code.OK) {
                return true;
            }
        }
        throw contended(lockName, "saving its last timestamp");
    }

    /**
     * The worker locks that have a node in their directory now: a holder's, or a waiter's (the assigner never
     * waits, so a waiter is an attempt under way, about to hold or to go). Two requests: the list of the lock
     * directories under the lock client's base path ({@code <lockBasePath>/<encoded name>}, see {@link
     * io.distkit.lock.zookeeper.ZooKeeperLockClient}), then one read transaction listing the children of those
     * whose names start with {@code namePrefix} and need no encoding (the assigner's {@code worker-<n>}).
     */
    @Override
    public Set<String> heldLockNames(String namePrefix) {
        if (lockBasePath == null) {
            return Set.of();
        }
        String base = lockBasePath;
        String what = "listing the held worker locks under " + base;
        CuratorFramework curator = zk.curator();
        CuratorEvent listed = zk.call(base, what, cb -> curator.getChildren().inBackground(cb).forPath(base));
        KeeperException.Code code = ZooKeeperAccess.code(listed);
        if (code == KeeperException.Code.NONODE) {
            return Set.of();
        }
        if (code != KeeperException.Code.OK) {
            throw zk.failed(base, what, code);
        }
        List<String> names = listed.getChildren().stream()
                .filter(name -> name.startsWith(namePrefix) && name.indexOf('%') < 0) // encoded as itself
                .toList();
        if (names.isEmpty()) {
            return Set.of();
        }
        List<Op> reads = names.stream()
                .map(name -> Op.getChildren(ZKPaths.fixForNamespace(curator.getNamespace(), base + "/" + name)))
                .toList();
        CompletableFuture<List<OpResult>> reply = new CompletableFuture<>();
        try {
            curator.getZookeeperClient().getZooKeeper().multi(reads, (rc, path, ctx, results) -> {
                if (rc == KeeperException.Code.OK.intValue() && results != null) {
                    reply.complete(results);
                } else {
                    reply.completeExceptionally(KeeperException.create(KeeperException.Code.get(rc)));
                }
            }, null);
        } catch (Exception e) {
            throw new IdSourceUnavailableException(base, what + " failed on " + zk.describe() + ": " + e, e);
        }
        List<OpResult> results = zk.await(base, what, reply);
        Set<String> held = new HashSet<>();
        for (int i = 0; i < names.size() && i < results.size(); i++) {
            if (results.get(i) instanceof OpResult.GetChildrenResult children && !children.getChildren().isEmpty()) {
                held.add(names.get(i));
            }
        }
        return held;
    }

    private @Nullable Mark get(String what, String lockName, String path) {
        CuratorFramework curator = zk.curator();
        CuratorEvent event = zk.call(basePath, what, cb -> curator.getData().inBackground(cb).forPath(path));
        KeeperException.Code code = ZooKeeperAccess.code(event);
        if (code == KeeperException.Code.NONODE) {
            return null;
        }
        if (code != KeeperException.Code.OK) {
            throw zk.failed(basePath, what, code);
        }
        String text = ZooKeeperAccess.text(event.getData()).strip();
        String[] parts = text.split(" ", -1);
        try {
            if (parts.length != 2) {
                throw new NumberFormatException("not two numbers");
            }
            return new Mark(Long.parseLong(parts[0]), Long.parseLong(parts[1]), event.getStat().getVersion());
        } catch (NumberFormatException e) {
            throw new IdGenerationException("the mark node " + path + " of worker lock " + lockName + " on "
                    + zk.describe() + " holds '" + ZooKeeperAccess.excerpt(event.getData()) + "', not '<fencing token>"
                    + " <last timestamp>' in decimal; the worker id cannot be used safely. Delete the node only if no"
                    + " generator of this worker id has issued ids later than the time the clocks of its hosts show"
                    + " now, or set it to '0 <a timestamp past every id issued on it>'", e);
        }
    }

    /** Whether this call created the node (false: it exists). */
    private boolean create(String what, String path, long token, long timestamp) {
        CuratorFramework curator = zk.curator();
        CuratorEvent event = zk.call(basePath, what, cb -> curator.create().creatingParentsIfNeeded()
                .withMode(CreateMode.PERSISTENT).inBackground(cb).forPath(path, data(token, timestamp)));
        KeeperException.Code code = ZooKeeperAccess.code(event);
        if (code == KeeperException.Code.OK) {
            return true;
        }
        if (code == KeeperException.Code.NODEEXISTS) {
            return false;
        }
        throw zk.failed(basePath, what, code);
    }

    private KeeperException.Code write(String what, String path, long token, long timestamp, int version) {
        return zk.compareAndSet(basePath, what, path, data(token, timestamp), version);
    }

    private static byte[] data(long token, long timestamp) {
        return ZooKeeperAccess.bytes(token + " " + timestamp);
    }

    private IdSourceUnavailableException contended(String lockName, String what) {
        return new IdSourceUnavailableException(basePath, what + " of " + lockName + " in " + description + " lost "
                + MAX_ATTEMPTS + " compare-and-sets in a row to other writers of its node; retry", null);
    }
}
