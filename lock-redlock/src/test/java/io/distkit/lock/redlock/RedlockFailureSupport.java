package io.distkit.lock.redlock;

import static io.distkit.testkit.history.LockRecorder.MS;

import io.distkit.lock.LockOptions;
import io.distkit.testkit.history.CheckResult;
import io.distkit.testkit.server.FaultProxy;
import io.distkit.testkit.server.RedisServer;
import io.distkit.testkit.server.RedisServer.Persistence;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * What the Redlock failure tests read straight from the masters: each node's view of one lock (owner value,
 * fence counter, TTL), when a quorum of the holder's keys can have expired, and which nodes still hold a key.
 * Locks use {@link RedlockClient#DEFAULT_KEY_PREFIX}, as a child JVM connected by URI does. Every time here
 * is on the {@link System#nanoTime()} scale, which the histories use too.
 */
final class RedlockFailureSupport {

    private RedlockFailureSupport() {}

    /**
     * A master that syncs its append-only file before every reply: under the default restart safeguard
     * ({@link RestartSafeguard#DELAYED_TRUST}) its votes count at once, also right after a reconnect.
     */
    static RedisServer node() {
        return RedisServer.builder().persistence(Persistence.AOF_ALWAYS).build();
    }

    /** {@link #node()} whose wall clock the test can shift ({@link RedisServer#shiftClock}). */
    static RedisServer clockedNode() {
        return RedisServer.builder().persistence(Persistence.AOF_ALWAYS).fakeTime().build();
    }

    static LockOptions lease(Duration lease) {
        return LockOptions.builder().leaseTime(lease).build();
    }

    static LockOptions lease(Duration lease, boolean autoRenew) {
        return LockOptions.builder().leaseTime(lease).autoRenew(autoRenew).build();
    }

    static String lockKey(String name) {
        return RedlockClient.lockKey(RedlockClient.DEFAULT_KEY_PREFIX, name);
    }

    static String fenceKey(String name) {
        return lockKey(name) + ":fence";
    }

    /** {@code redlock://127.0.0.1:p1,127.0.0.1:p2,...}: what a child JVM connects to. */
    static String redlockUri(List<RedisServer> nodes) {
        return "redlock://" + nodes.stream().map(n -> n.host() + ":" + n.port()).collect(Collectors.joining(","));
    }

    /** One {@code redis://} URI per proxy, for {@link RedlockClient#builder(List)}. */
    static List<String> uris(List<FaultProxy> proxies) {
        return proxies.stream().map(p -> p.uri("redis")).toList();
    }

    // ---- server-side state ------------------------------------------------------------------------

    /** What one node holds for one lock: owner value, fence counter, remaining TTL ({@code -2}: no key). */
    record LockState(@Nullable String owner, @Nullable String fence, long pttl) {}

    static LockState state(RedisServer node, String name) {
        return new LockState((String) node.call("GET", lockKey(name)), (String) node.call("GET", fenceKey(name)),
                (Long) node.call("PTTL", lockKey(name)));
    }

    static List<LockState> states(List<RedisServer> nodes, String name) {
        return nodes.stream().map(n -> state(n, name)).toList();
    }

    /**
     * Checks that a stale holder's operation left the current holder's lock as it was on every node: same
     * owner value and fence, still alive, its TTL not above {@code maxPttl} (the current holder's own lease:
     * a stale renewal with a longer lease would push it above). Nodes where the current holder had no key
     * must still have none. Returns the verdict instead of throwing, so that a negative control can show it fails.
     */
    static CheckResult untouched(List<RedisServer> nodes, String name, List<LockState> before, long maxPttl) {
        List<String> violations = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            LockState was = before.get(i);
            LockState now = state(nodes.get(i), name);
            String where = "node " + nodes.get(i).port() + ": ";
            if (was.owner() == null) {
                if (now.owner() != null) {
                    violations.add(where + "a key appeared, owner " + now.owner());
                }
                continue;
            }
            if (!was.owner().equals(now.owner())) {
                violations.add(where + "owner changed from " + was.owner() + " to " + now.owner());
            }
            if (now.fence() == null || !now.fence().equals(was.fence())) {
                violations.add(where + "fence changed from " + was.fence() + " to " + now.fence());
            }
            if (now.pttl() <= 0 || now.pttl() > maxPttl) {
                violations.add(where + "TTL is " + now.pttl() + " ms, expected within (0, " + maxPttl + "]");
            }
        }
        return new CheckResult("new holder untouched on every node", violations);
    }

    /** The owner value held on at least a quorum of the nodes, or null if there is none. */
    static @Nullable String quorumOwner(List<RedisServer> nodes, String name) {
        List<String> owners = new ArrayList<>();
        for (RedisServer node : nodes) {
            owners.add((String) node.call("GET", lockKey(name)));
        }
        for (String owner : owners) {
            if (owner != null && owners.stream().filter(owner::equals).count() > nodes.size() / 2) {
                return owner;
            }
        }
        return null;
    }

    /** The nodes holding the lock key with an owner value other than {@code allowed} (null: any key at all). */
    static List<String> foreignKeys(List<RedisServer> nodes, String name, @Nullable String allowed) {
        List<String> found = new ArrayList<>();
        for (RedisServer node : nodes) {
            String owner = (String) node.call("GET", lockKey(name));
            if (owner != null && !owner.equals(allowed)) {
                found.add("node " + node.port() + " holds owner " + owner);
            }
        }
        return found;
    }

    /** The largest fence counter of the lock over the nodes; 0 if none has one. */
    static long maxFence(List<RedisServer> nodes, String name) {
        long max = 0;
        for (RedisServer node : nodes) {
            String fence = (String) node.call("GET", fenceKey(name));
            if (fence != null) {
                max = Math.max(max, Long.parseLong(fence));
            }
        }
        return max;
    }

    /**
     * The earliest moment a quorum of the nodes can be free of the lock's current keys: each key expires no
     * earlier than {@code sent + PTTL} of its {@code PTTL} call (a node without the key is free already);
     * a contender needs a quorum of free nodes, so it cannot acquire before the quorum-th smallest of these.
     */
    static long quorumFreeNoEarlierThan(List<RedisServer> nodes, String name) {
        long[] lower = new long[nodes.size()];
        for (int i = 0; i < nodes.size(); i++) {
            long sent = System.nanoTime();
            long pttl = (Long) nodes.get(i).call("PTTL", lockKey(name));
            lower[i] = pttl >= 0 ? sent + pttl * MS : Long.MIN_VALUE;
        }
        Arrays.sort(lower);
        return lower[nodes.size() / 2];
    }

    /** The latest moment a key of the lock, as it stands, can expire on any node: received + PTTL + 1 ms. */
    static long latestExpiry(List<RedisServer> nodes, String name) {
        long latest = Long.MIN_VALUE;
        for (RedisServer node : nodes) {
            long pttl = (Long) node.call("PTTL", lockKey(name));
            long received = System.nanoTime();
            latest = Math.max(latest, received + (pttl + 1) * MS);
        }
        return latest;
    }

    /** The earliest upper bound of the lock's expiry over the nodes that hold it: received + PTTL + 1 ms. */
    static long earliestExpiryUpper(List<RedisServer> nodes, String name) {
        long earliest = Long.MAX_VALUE;
        for (RedisServer node : nodes) {
            long pttl = (Long) node.call("PTTL", lockKey(name));
            long received = System.nanoTime();
            if (pttl >= 0) {
                earliest = Math.min(earliest, received + (pttl + 1) * MS);
            }
        }
        return earliest;
    }
}
