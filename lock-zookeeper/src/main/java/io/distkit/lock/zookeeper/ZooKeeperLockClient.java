package io.distkit.lock.zookeeper;

import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockOptions;
import io.distkit.lock.ReadWriteLockClient;
import io.distkit.lock.spi.LockEngine;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.imps.CuratorFrameworkState;
import org.apache.zookeeper.common.PathUtils;
import org.apache.zookeeper.data.Stat;
import org.jspecify.annotations.Nullable;

/**
 * Distributed locks with fencing tokens on ZooKeeper, through curator-framework (a recipe of our own, not
 * Curator's {@code InterProcessMutex}).
 *
 * <pre>{@code
 * try (ReadWriteLockClient client = ZooKeeperLockClient.builder("127.0.0.1:2181").build()) {
 *     try (LockHandle handle = client.lock("invoice-42").acquire()) {
 *         store.write(invoice, handle.fencingToken());
 *     }
 * }
 * }</pre>
 *
 * <p>Each acquisition creates an ephemeral sequential node under {@code <basePath>/<encoded name>}, holding
 * its owner value; the node with the lowest sequence holds the lock, and its czxid (the id of the transaction
 * that created it) is the fencing token, which only grows in an ensemble. A waiter watches only the node just
 * before its own, so one waiter wakes per release. A lock lives as long as the ZooKeeper session its node
 * belongs to: the client's own session for auto-renewed locks (a renewal makes the member it is connected to
 * catch up with the leader, with {@code sync}, and then checks that the node is still there), and for a lock
 * without auto-renewal a session of its own that is closed when its lease ends. A lease time may therefore not
 * exceed the session timeout the ensemble granted; without {@link Builder#defaultOptions} it is two thirds of
 * that session timeout ({@link #defaultLeaseTime}). When the session expires, every lock in it is lost at once.
 *
 * <p>Read-write locks queue readers and writers under {@code <basePath>/<encoded name>%rw} (independent of
 * the plain lock of that name): a reader waits only for older writers, a writer for every older node.
 */
public final class ZooKeeperLockClient {

    /** The base path used unless {@link Builder#basePath} sets another. */
    public static final String DEFAULT_BASE_PATH = "/distkit/locks";
    /** Longest base path accepted, in characters. */
    public static final int MAX_BASE_PATH_LENGTH = 200;
    /** How long one ZooKeeper call may take unless {@link Builder#commandTimeout} sets another: 5 seconds. */
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(5);
    /** The session timeout asked for unless {@link Builder#sessionTimeout} sets another: 30 seconds. */
    public static final Duration DEFAULT_SESSION_TIMEOUT = Duration.ofSeconds(30);

    private ZooKeeperLockClient() {}

    /**
     * A builder for a client that creates (and on {@link LockClient#close()} closes) its own Curator client
     * for this ensemble: {@code host:port[,host:port...][/chroot]} (the port defaults to 2181; the chroot, if
     * any, becomes the Curator namespace and is created when needed).
     *
     * @throws NullPointerException if null
     * @throws IllegalArgumentException if blank or malformed (the message says which part and why)
     */
    public static Builder builder(String connectString) {
        Objects.requireNonNull(connectString, "connectString");
        String text = connectString.strip();
        if (text.isEmpty()) {
            throw new IllegalArgumentException("connectString must name at least one ZooKeeper server, such as"
                    + " 127.0.0.1:2181, was '" + connectString + "'");
        }
        String hosts = text;
        String namespace = null;
        int slash = text.indexOf('/');
        if (slash >= 0) {
            hosts = text.substring(0, slash);
            String chroot = text.substring(slash);
            if (!chroot.equals("/")) {
                checkPath("connectString chroot", chroot);
                namespace = chroot.substring(1);
            }
        }
        StringBuilder normalised = new StringBuilder();
        for (String hostPort : hosts.split(",", -1)) {
            if (normalised.length() > 0) {
                normalised.append(',');
            }
            normalised.append(hostAndPort(connectString, hostPort.strip()));
        }
        return new Builder(null, normalised.toString(), namespace);
    }

    /**
     * A builder for a client on a started Curator client the caller owns: the lock client uses it (its
     * namespace, its retry policy, its session) and never closes it. Locks without auto-renewal open sessions
     * of their own to the same ensemble. Give that client a retry policy that gives up well within the command
     * timeout (the clients this library makes retry for half of it): a create Curator still retries after our
     * call timed out can leave a second node of an acquisition that the acquisition no longer looks for, which
     * then blocks the lock until it is found by owner value or the session ends.
     *
     * @throws NullPointerException if {@code curator} is null
     */
    public static Builder builder(CuratorFramework curator) {
        return new Builder(Objects.requireNonNull(curator, "curator"), null, null);
    }

    /** {@code host:port}, the port defaulting to 2181. */
    static String hostAndPort(String connectString, String hostPort) {
        if (hostPort.isEmpty()) {
            throw new IllegalArgumentException("connectString '" + connectString + "' has an empty server in its"
                    + " list; expected host:port[,host:port...][/chroot]");
        }
        String host = hostPort;
        String port = "2181";
        int colon = hostPort.lastIndexOf(':');
        int bracket = hostPort.lastIndexOf(']');
        if (colon > bracket) {
            host = hostPort.substring(0, colon);
            port = hostPort.substring(colon + 1);
        }
        if (host.isEmpty() || host.chars().anyMatch(c -> c <= ' ' || c == '@' || c == '?' || c == '#')) {
            throw new IllegalArgumentException("connectString '" + connectString + "' has no valid host in '"
                    + hostPort + "'; expected host:port[,host:port...][/chroot]");
        }
        int number;
        try {
            number = Integer.parseInt(port);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("connectString '" + connectString + "': port '" + port + "' of '"
                    + hostPort + "' is not a number", e);
        }
        if (number < 1 || number > 65535) {
            throw new IllegalArgumentException("connectString '" + connectString + "': port " + number + " of '"
                    + hostPort + "' is out of range (1 to 65535)");
        }
        return host + ":" + number;
    }

    /** Checks an absolute ZooKeeper path that we create nodes under. */
    static String checkPath(String what, String path) {
        Objects.requireNonNull(path, what);
        if (path.isBlank() || path.length() > MAX_BASE_PATH_LENGTH) {
            throw new IllegalArgumentException(what + " must be 1 to " + MAX_BASE_PATH_LENGTH
                    + " characters, was '" + path + "'");
        }
        if (path.equals("/") || !path.startsWith("/") || path.endsWith("/")) {
            throw new IllegalArgumentException(what + " must be an absolute ZooKeeper path below the root, starting"
                    + " and not ending with '/', such as " + DEFAULT_BASE_PATH + ", was '" + path + "'");
        }
        try {
            PathUtils.validatePath(path);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(what + " '" + path + "' is not a valid ZooKeeper path: "
                    + e.getMessage(), e);
        }
        if (path.equals("/zookeeper") || path.startsWith("/zookeeper/")) {
            throw new IllegalArgumentException(what + " '" + path + "' lies under /zookeeper, which ZooKeeper"
                    + " reserves for itself");
        }
        return path;
    }

    /**
     * The lease time of a client built without {@link Builder#defaultOptions}: two thirds of the session timeout
     * the ensemble granted. The leader expires a session a session timeout after the latest contact it learnt
     * of, and it learns of a client's requests to a follower only with the follower's next report (every tick);
     * a lease as long as the session timeout would leave the holder's local deadline right at, or past, the
     * moment the leader may expire the session and another client take the lock. The remaining third covers
     * that delay, the client's own pings (a third of the session timeout apart) and clock rate differences.
     */
    static Duration defaultLeaseTime(int sessionTimeoutMillis) {
        return Duration.ofMillis(Math.max(1, sessionTimeoutMillis * 2L / 3));
    }

    /**
     * A name as one legal ZooKeeper path element, one to one (no {@code '/'} escapes, no two names share an
     * element): the mapping of lock names to nodes, shared with the id store (distkit-id-backends) for its tags.
     */
    public static String nodeName(String name) {
        return NodeNames.encode(name);
    }

    /** The directory of the plain lock {@code name} under {@code basePath}, for tests and operators. */
    static String lockDirectory(String basePath, String name) {
        return NodeNames.directory(basePath, name, io.distkit.lock.spi.LockMode.EXCLUSIVE);
    }

    /**
     * Configures a ZooKeeper {@link LockClient}. Every setter checks its argument at once; {@link #build()}
     * connects (within the command timeout) to learn the session timeout the ensemble grants.
     */
    public static final class Builder {

        private final @Nullable CuratorFramework curator;
        private final @Nullable String connectString;
        private final @Nullable String namespace;
        private String basePath = DEFAULT_BASE_PATH;
        private @Nullable LockOptions defaultOptions;
        private Duration commandTimeout = DEFAULT_COMMAND_TIMEOUT;
        private Duration sessionTimeout = DEFAULT_SESSION_TIMEOUT;

        private Builder(@Nullable CuratorFramework curator, @Nullable String connectString, @Nullable String namespace) {
            this.curator = curator;
            this.connectString = connectString;
            this.namespace = namespace;
        }

        /**
         * The path under which every lock's directory lies; default {@value ZooKeeperLockClient#DEFAULT_BASE_PATH}.
         * Its missing parents are created as persistent nodes. Clients that should contend for the same locks
         * need the same base path (and namespace).
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not an absolute path below the root without a trailing {@code '/'},
         *     not a valid ZooKeeper path, under {@code /zookeeper}, or longer than {@value
         *     ZooKeeperLockClient#MAX_BASE_PATH_LENGTH} characters
         */
        public Builder basePath(String basePath) {
            this.basePath = checkPath("basePath", basePath);
            return this;
        }

        /**
         * The options of {@link LockClient#lock(String)}; default: {@link LockOptions#defaults()} with the lease
         * time set to two thirds of the session timeout the ensemble granted ({@link
         * ZooKeeperLockClient#defaultLeaseTime}). Checked at {@link #build()}: the lease time may not exceed that
         * session timeout; one close to it leaves little margin against the leader expiring the session first.
         *
         * @throws NullPointerException if null
         */
        public Builder defaultOptions(LockOptions options) {
            this.defaultOptions = Objects.requireNonNull(options, "defaultOptions");
            return this;
        }

        /**
         * How long one ZooKeeper call may take before it counts as failed, and how long {@link #build()} waits for
         * a connection; default 5 s. A timed-out acquire is resolved by owner value.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not positive
         */
        public Builder commandTimeout(Duration timeout) {
            this.commandTimeout = LockEngine.checkCommandTimeout(timeout);
            return this;
        }

        /**
         * The session timeout to ask the ensemble for; default 30 s. The servers bound it to their {@code
         * minSessionTimeout} and {@code maxSessionTimeout} (2 and 20 ticks unless configured); lease times may not
         * exceed what they grant.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not positive or above {@code Integer.MAX_VALUE} milliseconds
         * @throws IllegalStateException if the builder was given a Curator client (configure that client instead)
         */
        public Builder sessionTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "sessionTimeout");
            if (curator != null) {
                throw new IllegalStateException("the session timeout belongs to the CuratorFramework passed to"
                        + " builder(CuratorFramework)");
            }
            if (timeout.isNegative() || timeout.isZero() || timeout.toMillis() > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("sessionTimeout must be positive and at most 2^31 ms, was "
                        + timeout);
            }
            this.sessionTimeout = timeout;
            return this;
        }

        /**
         * Connects (waiting at most the command timeout) and returns the client.
         *
         * @throws IllegalStateException if the supplied Curator client is not started
         * @throws LockBackendException if no connection to the ensemble is made within the command timeout
         * @throws IllegalArgumentException if the default options' lease time exceeds the granted session timeout
         *     or a node that exists on the chroot or base path is ephemeral (checked within the command timeout)
         */
        public ReadWriteLockClient build() {
            boolean owned = curator == null;
            CuratorFramework client = owned ? newCurator() : curator;
            if (!owned && client.getState() != CuratorFrameworkState.STARTED) {
                throw new IllegalStateException("the CuratorFramework passed to builder(CuratorFramework) must be"
                        + " started, was " + client.getState());
            }
            String hosts = owned ? connectString : client.getZookeeperClient().getCurrentConnectionString();
            String description = "zookeeper " + hosts + (client.getNamespace() == null || client.getNamespace().isEmpty()
                    ? "" : "/" + client.getNamespace());
            ZooKeeperCalls calls = null;
            try {
                int negotiated = connect(client, description);
                calls = new ZooKeeperCalls(commandTimeout, description);
                checkExistingNodes(client, calls);
                ZooKeeperLockBackend backend = new ZooKeeperLockBackend(client, owned, basePath, calls, negotiated);
                LockOptions defaults = defaultOptions != null ? defaultOptions
                        : LockOptions.defaults().toBuilder().leaseTime(defaultLeaseTime(negotiated)).build();
                return LockEngine.builder(backend)
                        .defaultOptions(defaults)
                        // a release is two calls; close releases everything at once
                        .operationTimeout(commandTimeout.multipliedBy(2).plusSeconds(1))
                        .buildReadWrite();
            } catch (RuntimeException | Error e) {
                if (calls != null) {
                    calls.close();
                }
                if (owned) {
                    client.close();
                }
                throw e;
            }
        }

        /**
         * Refuses a chroot or base path on which an existing node is ephemeral: no node can be created below it,
         * and it goes away with its session. Each node is looked at with one call bounded by the command timeout.
         *
         * <p>Container and TTL nodes cannot be told apart here: ZooKeeper reports them to clients with an {@code
         * ephemeralOwner} of 0, like persistent nodes. They are harmless once used: the lock directories below
         * the base path are persistent and never deleted, so such a node is never empty (Curator creates a
         * namespace as a container node itself).
         */
        private void checkExistingNodes(CuratorFramework client, ZooKeeperCalls calls) {
            CuratorFramework root = client.usingNamespace(null);
            String ns = client.getNamespace();
            String chroot = ns == null || ns.isEmpty() ? "" : "/" + ns;
            String full = chroot + basePath;
            for (int end = full.indexOf('/', 1); ; end = full.indexOf('/', end + 1)) {
                String path = end < 0 ? full : full.substring(0, end);
                boolean inChroot = path.length() <= chroot.length();
                Stat stat;
                try {
                    stat = calls.call(callback -> root.checkExists().inBackground(callback).forPath(path))
                            .thenApply(event -> ZooKeeperCalls.noNode(event) ? null
                                    : ZooKeeperCalls.ok(event).getStat())
                            .get();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new LockBackendException(null, "interrupted while checking " + path + " on "
                            + calls.describe(), e);
                } catch (ExecutionException e) {
                    throw calls.failure(null, "checking the node " + path + (inChroot ? " of the chroot"
                            : " of the base path"), e.getCause());
                }
                if (stat == null) {
                    return; // missing: it and everything below it is created as persistent nodes when needed
                }
                if (stat.getEphemeralOwner() != 0) {
                    String what = inChroot ? "the chroot " + chroot : "the base path " + basePath
                            + (chroot.isEmpty() ? "" : " (under the chroot " + chroot + ")");
                    throw new IllegalArgumentException("the node " + path + " on " + calls.describe() + " on " + what
                            + " is an ephemeral node (of session 0x" + Long.toHexString(stat.getEphemeralOwner())
                            + "), not a persistent node: nodes cannot be created below it, and it goes away with its"
                            + " session; choose a " + (inChroot ? "chroot" : "basePath") + " on persistent nodes, or"
                            + " delete " + path + " so that it is created as a persistent node");
                }
                if (end < 0) {
                    return;
                }
            }
        }

        /** Waits for a connection and returns the session timeout the ensemble granted, in milliseconds. */
        private int connect(CuratorFramework client, String description) {
            try {
                if (!client.blockUntilConnected((int) Math.min(Integer.MAX_VALUE, commandTimeout.toMillis()),
                        TimeUnit.MILLISECONDS)) {
                    throw new LockBackendException(null, "could not connect to " + description + " within "
                            + commandTimeout + ": check that a quorum of the ensemble runs and is reachable from this"
                            + " host (address, port, firewall)", null);
                }
                return client.getZookeeperClient().getZooKeeper().getSessionTimeout();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new LockBackendException(null, "interrupted while connecting to " + description, e);
            } catch (LockBackendException e) {
                throw e;
            } catch (Exception e) {
                throw new LockBackendException(null, "could not connect to " + description + ": " + e, e);
            }
        }

        private CuratorFramework newCurator() {
            int timeoutMillis = (int) Math.min(Integer.MAX_VALUE, commandTimeout.toMillis());
            CuratorFramework client = CuratorFrameworkFactory.builder()
                    .connectString(connectString)
                    .namespace(namespace)
                    .sessionTimeoutMs((int) sessionTimeout.toMillis())
                    .connectionTimeoutMs(timeoutMillis)
                    .retryPolicy(ZooKeeperCalls.retryPolicy(commandTimeout))
                    .build();
            client.start();
            return client;
        }
    }
}
