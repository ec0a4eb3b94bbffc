package io.distkit.id.backends.zookeeper;

import io.distkit.id.IdGenerator;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.IdStore;
import io.distkit.id.SegmentAllocator;
import io.distkit.id.WorkerIdAssigner;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.curator.framework.CuratorFramework;
import org.jspecify.annotations.Nullable;

/**
 * ZooKeeper as an {@link IdStore}: counters ({@link ZooKeeperSequenceCounter}), a segment allocator ({@link
 * ZooKeeperSegmentAllocator}) and a worker-id assigner ({@link ZooKeeperWorkerIdAssigner}), all on one Curator
 * client, under one base path:
 *
 * <pre>
 * &lt;basePath&gt;/counters/&lt;encoded name&gt;   one counter node per name (and its child open)
 * &lt;basePath&gt;/segments/&lt;encoded tag&gt;   one node per tag, holding the start of its next range
 * &lt;basePath&gt;/workers/locks/worker-&lt;n&gt;  the worker-id locks
 * &lt;basePath&gt;/workers/marks/worker-&lt;n&gt;  their high-water marks
 * </pre>
 *
 * <p>Opened by {@link io.distkit.id.IdStores#connect(String)} with {@code zookeeper://host:port[,host:port...][/chroot]}
 * (the defaults below), or built here. Closing the store closes the counters and the assigner it handed out, and
 * the Curator client if the store made it.
 */
public final class ZooKeeperIdStore implements IdStore {

    /** The base path used unless {@link Builder#basePath} sets another. */
    public static final String DEFAULT_BASE_PATH = "/distkit/ids";

    private final ZooKeeperAccess zk;
    private final String basePath;
    private final ZooKeeperWorkerIdAssigner.Builder assignerSettings;
    private final Map<String, ZooKeeperSequenceCounter> counters = new HashMap<>();
    private @Nullable ZooKeeperSegmentAllocator allocator;
    private @Nullable WorkerIdAssigner assigner;
    private boolean closed;

    private ZooKeeperIdStore(ZooKeeperAccess zk, String basePath, ZooKeeperWorkerIdAssigner.Builder assignerSettings) {
        this.zk = zk;
        this.basePath = basePath;
        this.assignerSettings = assignerSettings;
    }

    /**
     * A builder for a store that makes (and on {@link #close()} closes) its own Curator client for {@code
     * connectString}: {@code host:port[,host:port...][/chroot]}.
     *
     * @throws NullPointerException if null
     * @throws IllegalArgumentException if blank or malformed (the message says which part and why)
     */
    public static Builder builder(String connectString) {
        Objects.requireNonNull(connectString, "connectString");
        io.distkit.lock.zookeeper.ZooKeeperLockClient.builder(connectString); // checks it now, with its messages
        return new Builder(connectString, null);
    }

    /**
     * A builder for a store on a started Curator client the caller owns; the store never closes it.
     *
     * @throws NullPointerException if null
     */
    public static Builder builder(CuratorFramework curator) {
        return new Builder(null, Objects.requireNonNull(curator, "curator"));
    }

    @Override
    public String describe() {
        return basePath + " on " + zk.describe();
    }

    /**
     * The counter {@code name}: {@code <basePath>/counters/<encoded name>}, created on first use. Every call for one
     * name returns the same generator.
     *
     * @throws IllegalArgumentException if {@code name} is not a valid tag ({@link SegmentAllocator#checkTag})
     * @throws IllegalStateException if the store is closed
     */
    @Override
    public synchronized IdGenerator counter(String name) {
        SegmentAllocator.checkTag(name);
        ensureOpen();
        return counters.computeIfAbsent(name, n -> ZooKeeperSequenceCounter.onStore(zk.shared(),
                basePath + "/counters/" + ZooKeeperAccess.encode(n)));
    }

    /** @throws IllegalStateException if the store is closed */
    @Override
    public synchronized SegmentAllocator segmentAllocator() {
        ensureOpen();
        if (allocator == null) {
            allocator = ZooKeeperSegmentAllocator.onStore(zk.shared(), basePath + "/segments");
        }
        return allocator;
    }

    /**
     * The assigner, made on first call (which checks its base path and lease, within the command timeout).
     *
     * @throws IllegalStateException if the store is closed
     * @throws IdSourceUnavailableException if the checks get no reply within the command timeout
     */
    @Override
    public synchronized WorkerIdAssigner workerIdAssigner() {
        ensureOpen();
        if (assigner == null) {
            assigner = assignerSettings.build(zk.shared());
        }
        return assigner;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the id store " + describe() + " is closed");
        }
    }

    @Override
    public void close() {
        List<ZooKeeperSequenceCounter> toClose;
        WorkerIdAssigner workers;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            toClose = List.copyOf(counters.values());
            counters.clear();
            workers = assigner;
        }
        toClose.forEach(ZooKeeperSequenceCounter::close);
        try {
            if (workers != null) {
                workers.close();
            }
        } finally {
            zk.close();
        }
    }

    @Override
    public String toString() {
        return "ZooKeeperIdStore[" + describe() + "]";
    }

    /** Configures a store; every setter checks its argument at once. */
    public static final class Builder extends ZooKeeperBuilder<Builder> {
        private String basePath = DEFAULT_BASE_PATH;

        private Builder(@Nullable String connectString, @Nullable CuratorFramework curator) {
            super(connectString, curator);
        }

        /**
         * The path everything of the store lies under; default {@value ZooKeeperIdStore#DEFAULT_BASE_PATH}.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not an absolute path below the root without a trailing {@code '/'},
         *     not a valid ZooKeeper path, under {@code /zookeeper}, or longer than 170 characters
         */
        public Builder basePath(String basePath) {
            ZooKeeperAccess.checkPath("basePath", basePath);
            ZooKeeperAccess.checkPath("basePath", basePath + "/workers/marks"); // the longest path made of it
            this.basePath = basePath;
            return this;
        }



        /**
         * Connects (when the store makes its own client, within the command timeout), checks that no node on the
         * base path is ephemeral, and returns the store.
         *
         * @throws IllegalStateException if the supplied Curator client is not started
         * @throws IdSourceUnavailableException if no connection is made, or the check gets no reply, within the
         *     command timeout
         * @throws IllegalArgumentException if a node on the base path is ephemeral
         */
        public ZooKeeperIdStore build() {
            ZooKeeperAccess zk = access();
            try {
                zk.checkNoEphemeral("base path", basePath);
            } catch (RuntimeException e) {
                zk.close();
                throw e;
            }
            ZooKeeperWorkerIdAssigner.Builder workers = (curator != null
                    ? ZooKeeperWorkerIdAssigner.builder(curator) : ZooKeeperWorkerIdAssigner.builder(
                            Objects.requireNonNull(connectString)))
                    .basePath(basePath + "/workers").commandTimeout(commandTimeout);
            return new ZooKeeperIdStore(zk, basePath, workers);
        }
    }
}
