package io.distkit.id.backends.zookeeper;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.lock.zookeeper.ZooKeeperLockClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.BackgroundCallback;
import org.apache.curator.framework.api.CuratorEvent;
import org.apache.curator.framework.imps.CuratorFrameworkState;
import org.apache.curator.retry.RetryUntilElapsed;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.common.PathUtils;
import org.apache.zookeeper.data.Stat;
import org.jspecify.annotations.Nullable;

/**
 * What the ZooKeeper id backends share: the Curator client (made from a connect string, or the caller's), calls
 * bounded by the command timeout, the mapping of names to path elements, path checks and the messages for
 * failures.
 *
 * <p>Every call is a Curator background call whose reply completes a future that the caller waits for at most
 * the command timeout: an unreachable ensemble is an {@link IdSourceUnavailableException} after that time,
 * whatever Curator's retry policy. Clients made here retry a lost connection for at most half the command
 * timeout, so that no retry is sent long after the call was given up.
 */
final class ZooKeeperAccess {

    /** A Curator background call, started with the callback that receives its reply. */
    @FunctionalInterface
    interface Call {
        void start(BackgroundCallback callback) throws Exception;
    }

    private final CuratorFramework curator;
    private final boolean owned;
    private final Duration timeout;
    private final String description;

    private ZooKeeperAccess(CuratorFramework curator, boolean owned, Duration timeout) {
        this.curator = curator;
        this.owned = owned;
        this.timeout = timeout;
        String hosts = curator.getZookeeperClient().getCurrentConnectionString();
        String ns = curator.getNamespace();
        this.description = "zookeeper " + hosts + (ns == null || ns.isEmpty() ? "" : "/" + ns);
    }

    /**
     * A started Curator client for {@code connectString} ({@code host:port[,host:port...][/chroot]}, the chroot
     * becoming the Curator namespace), connected within {@code timeout}; closed again if it does not connect.
     *
     * @throws IllegalArgumentException if the connect string is malformed
     * @throws IdSourceUnavailableException if no connection is made within {@code timeout}
     */
    static ZooKeeperAccess connect(String connectString, Duration sessionTimeout, Duration timeout) {
        Objects.requireNonNull(connectString, "connectString");
        // the lock client's checks of the connect string (hosts, ports, chroot), with its messages
        ZooKeeperLockClient.builder(connectString);
        String text = connectString.strip();
        int slash = text.indexOf('/');
        String hosts = slash < 0 ? text : text.substring(0, slash);
        String namespace = slash < 0 || text.substring(slash).equals("/") ? null : text.substring(slash + 1);
        int timeoutMillis = (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
        int budget = Math.max(1, timeoutMillis / 2);
        CuratorFramework curator = CuratorFrameworkFactory.builder()
                .connectString(hosts)
                .namespace(namespace)
                .sessionTimeoutMs((int) Math.min(Integer.MAX_VALUE, sessionTimeout.toMillis()))
                .connectionTimeoutMs(timeoutMillis)
                .retryPolicy(new RetryUntilElapsed(budget, Math.min(100, budget)))
                .build();
        curator.start();
        try {
            if (!curator.blockUntilConnected(timeoutMillis, TimeUnit.MILLISECONDS)) {
                throw new IdSourceUnavailableException("zookeeper " + text, "could not connect to zookeeper " + text
                        + " within " + timeout + ": check that a quorum of the ensemble runs and is reachable from"
                        + " this host (address, port, firewall)", null);
            }
        } catch (InterruptedException e) {
            curator.close();
            Thread.currentThread().interrupt();
            throw new IdGenerationException("interrupted while connecting to zookeeper " + text, e);
        } catch (RuntimeException e) {
            curator.close();
            throw e;
        }
        return new ZooKeeperAccess(curator, true, timeout);
    }

    /**
     * Access through a Curator client the caller owns and keeps open; {@link #close()} leaves it open.
     *
     * @throws IllegalStateException if it is not started
     */
    static ZooKeeperAccess of(CuratorFramework curator, Duration timeout) {
        Objects.requireNonNull(curator, "curator");
        if (curator.getState() != CuratorFrameworkState.STARTED) {
            throw new IllegalStateException("the CuratorFramework passed to builder(CuratorFramework) must be started,"
                    + " was " + curator.getState());
        }
        return new ZooKeeperAccess(curator, false, timeout);
    }

    /** The same client, not owned: for the parts of a store, which the store closes. */
    ZooKeeperAccess shared() {
        return new ZooKeeperAccess(curator, false, timeout);
    }

    CuratorFramework curator() {
        return curator;
    }

    boolean owned() {
        return owned;
    }

    Duration timeout() {
        return timeout;
    }

    /** {@code zookeeper host:port,...[/namespace]}. */
    String describe() {
        return description;
    }

    /** The session timeout the ensemble granted, in milliseconds (0 before the first connection). */
    int sessionTimeoutMillis() {
        try {
            return curator.getZookeeperClient().getZooKeeper().getSessionTimeout();
        } catch (Exception e) {
            return 0;
        }
    }

    /**
     * Runs one call and returns its reply, whatever its result code (see {@link #code}).
     *
     * @param source the id source, for {@link IdSourceUnavailableException}
     * @param what what the call does, for messages ("reading the counter node /a/b")
     * @throws IdSourceUnavailableException if no reply comes within the command timeout, or the call fails to start
     * @throws IllegalStateException if the Curator client is closed
     * @throws IdGenerationException if the thread is interrupted
     */
    CuratorEvent call(String source, String what, Call call) {
        CompletableFuture<CuratorEvent> reply = new CompletableFuture<>();
        try {
            call.start((client, event) -> reply.complete(event));
        } catch (IllegalStateException e) {
            throw new IllegalStateException("the Curator client of " + description + " is closed (" + e.getMessage()
                    + ")", e);
        } catch (Exception e) {
            throw new IdSourceUnavailableException(source, what + " failed on " + description + ": " + e, e);
        }
        return await(source, what, reply);
    }

    /**
     * Waits at most the command timeout for {@code reply}.
     *
     * @throws IdSourceUnavailableException if it does not complete in time, or completes exceptionally
     * @throws IdGenerationException if the thread is interrupted
     */
    <T> T await(String source, String what, CompletableFuture<T> reply) {
        try {
            return reply.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new IdSourceUnavailableException(source, what + " got no reply from " + description + " within "
                    + timeout + ": ZooKeeper may be down, without quorum or unreachable, or the network slow", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IdGenerationException("interrupted while " + what + " on " + description
                    + "; if the request took effect, its ids are skipped", e);
        } catch (ExecutionException e) {
            throw new IdSourceUnavailableException(source, what + " failed on " + description + ": " + e.getCause(),
                    e.getCause());
        }
    }

    static KeeperException.Code code(CuratorEvent event) {
        return KeeperException.Code.get(event.getResultCode());
    }

    /** An unexpected result code as an {@link IdSourceUnavailableException}. */
    IdSourceUnavailableException failed(String source, String what, KeeperException.Code code) {
        boolean passing = switch (code) {
            case CONNECTIONLOSS, OPERATIONTIMEOUT, SESSIONEXPIRED, SESSIONMOVED -> true;
            default -> false;
        };
        return new IdSourceUnavailableException(source, what + " failed on " + description + " (" + code + ")"
                + (passing ? ": the connection to the ensemble was lost (check that a quorum of its members runs and"
                        + " is reachable from this host)" : ""), KeeperException.create(code));
    }

    /** Closes the Curator client if it was made here; idempotent. */
    void close() {
        if (owned) {
            curator.close();
        }
    }

    // ---- names and paths ------------------------------------------------------------------------------------

    /** Longest base path accepted, in characters. */
    static final int MAX_BASE_PATH_LENGTH = 200;

    /**
     * A name (tag, counter, lock name) as one legal ZooKeeper path element, one to one: lock-zookeeper's mapping
     * ({@link ZooKeeperLockClient#nodeName}), so a tag and a lock of one name map alike.
     */
    static String encode(String name) {
        return ZooKeeperLockClient.nodeName(name);
    }

    /**
     * Checks an absolute ZooKeeper path that nodes are created under.
     *
     * @throws NullPointerException if null
     * @throws IllegalArgumentException if blank, longer than {@value #MAX_BASE_PATH_LENGTH} characters, not
     *     absolute, ending with '/', the root, not a valid ZooKeeper path, or under {@code /zookeeper}
     */
    static String checkPath(String what, String path) {
        Objects.requireNonNull(path, what);
        if (path.isBlank() || path.length() > MAX_BASE_PATH_LENGTH) {
            throw new IllegalArgumentException(what + " must be 1 to " + MAX_BASE_PATH_LENGTH + " characters, was '"
                    + path + "'");
        }
        if (path.equals("/") || !path.startsWith("/") || path.endsWith("/")) {
            throw new IllegalArgumentException(what + " must be an absolute ZooKeeper path below the root, starting"
                    + " and not ending with '/', such as /distkit/ids, was '" + path + "'");
        }
        try {
            PathUtils.validatePath(path);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(what + " '" + path + "' is not a valid ZooKeeper path: " + e.getMessage(),
                    e);
        }
        if (path.equals("/zookeeper") || path.startsWith("/zookeeper/")) {
            throw new IllegalArgumentException(what + " '" + path + "' lies under /zookeeper, which ZooKeeper reserves"
                    + " for itself");
        }
        return path;
    }

    /**
     * Refuses a path on which an existing node is ephemeral: nothing can be created below it, and it goes away
     * with its session. One bounded call per existing node; a missing node ends the check (it and everything
     * below it will be created persistent). Container nodes cannot be told apart (ZooKeeper reports them with an
     * ephemeral owner of 0); they are harmless here: the nodes below are persistent and never deleted.
     *
     * @throws IllegalArgumentException naming the ephemeral node and what to do
     */
    void checkNoEphemeral(String what, String path) {
        for (int end = path.indexOf('/', 1); ; end = path.indexOf('/', end + 1)) {
            String prefix = end < 0 ? path : path.substring(0, end);
            CuratorEvent event = call(prefix, "checking the node " + prefix + " of the " + what,
                    cb -> curator.checkExists().inBackground(cb).forPath(prefix));
            KeeperException.Code code = code(event);
            if (code == KeeperException.Code.NONODE) {
                return;
            }
            if (code != KeeperException.Code.OK) {
                throw failed(prefix, "checking the node " + prefix + " of the " + what, code);
            }
            Stat stat = event.getStat();
            if (stat != null && stat.getEphemeralOwner() != 0) {
                throw new IllegalArgumentException("the node " + prefix + " on " + description + " (on the " + what
                        + " " + path + ") is an ephemeral node (of session 0x" + Long.toHexString(stat.getEphemeralOwner())
                        + "), not a persistent node: nodes cannot be created below it, and it goes away with its session;"
                        + " choose a " + what + " on persistent nodes, or delete " + prefix + " so that it is created"
                        + " as a persistent node");
            }
            if (end < 0) {
                return;
            }
        }
    }

    // ---- compare-and-set ------------------------------------------------------------------------------------

    /**
     * Writes {@code data} to {@code path} if the node's version is still {@code version}: the compare-and-set of
     * the allocator and the mark store.
     *
     * <p>A node's version is a 32-bit counter that wraps, and {@code -1} means "any version" to ZooKeeper: a
     * write conditional on a node at version -1 cannot be expressed. So the write that would leave a node at -1
     * (expected version -2) is a transaction of two writes, the first conditional on -2 and the second on "any",
     * which ZooKeeper applies at once: the node goes from -2 to 0 and nobody sees it at -1. A node found at -1
     * (written there by someone else) is refused with what to do.
     *
     * @return {@code OK}, {@code BADVERSION} (someone wrote in between) or {@code NONODE}
     * @throws IdSourceUnavailableException if the store fails or does not answer in time
     * @throws IdGenerationException if the node's version is -1
     */
    KeeperException.Code compareAndSet(String source, String what, String path, byte[] data, int version) {
        if (version == -1) {
            throw new IdGenerationException("the node " + path + " on " + description + " is at version -1, on which"
                    + " ZooKeeper cannot make a write conditional (-1 means any version), so it cannot be updated"
                    + " safely; write its current data to it once more (zkCli: set " + path + " <its data>) to move its"
                    + " version on, then retry");
        }
        CuratorEvent event;
        if (version == -2) {
            event = call(source, what, cb -> curator.transaction().inBackground(cb).forOperations(
                    curator.transactionOp().setData().withVersion(-2).forPath(path, data),
                    curator.transactionOp().setData().withVersion(-1).forPath(path, data)));
        } else {
            event = call(source, what, cb -> curator.setData().withVersion(version).inBackground(cb).forPath(path, data));
        }
        KeeperException.Code code = code(event);
        return switch (code) {
            case OK, BADVERSION, NONODE -> code;
            default -> throw failed(source, what, code);
        };
    }

    // ---- node data ------------------------------------------------------------------------------------------

    static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    static String text(byte @Nullable [] data) {
        return data == null ? "" : new String(data, StandardCharsets.UTF_8);
    }

    /** A printable excerpt of node data, for messages. */
    static String excerpt(byte @Nullable [] data) {
        String text = text(data).replaceAll("\\p{Cntrl}", "?");
        return text.length() > 40 ? text.substring(0, 40) + "..." : text;
    }
}
