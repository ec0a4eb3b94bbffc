package io.distkit.id.backends.zookeeper;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdGenerator;
import io.distkit.id.IdSourceUnavailableException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.CuratorEvent;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.jspecify.annotations.Nullable;

/**
 * Ids that are ZooKeeper's own sequence: the version of one persistent counter node. Strictly increasing in
 * real-time order across every client of the ensemble, dense (a request whose reply was lost is a gap), never
 * repeated; at most {@value #MAX_ID} ids per counter.
 *
 * <pre>{@code
 * try (ZooKeeperSequenceCounter orders = ZooKeeperSequenceCounter.builder("127.0.0.1:2181")
 *         .path("/distkit/ids/counters/orders").build()) {
 *     long id = orders.nextId();          // 1, 2, 3, ... one round trip each
 *     long[] batch = orders.nextIds(100); // 100 consecutive ids, one round trip
 * }
 * }</pre>
 *
 * <p><b>Why the version.</b> Every write of a node raises its version by one, atomically, on the leader, and a
 * write's reply carries the node's new {@link Stat}: an unconditional {@code setData} is an increment-and-get in
 * one round trip, which leaves nothing behind (sequential nodes would be one node per id, to be created and
 * deleted again: two writes per id, and garbage when a client dies between them). A batch of {@code n} is one
 * {@code multi} of {@code n} writes of the node (split into several transactions for very large batches, to
 * stay under ZooKeeper's request size), applied at once: {@code n} consecutive versions.
 *
 * <p><b>Overflow.</b> The version is a signed 32-bit counter that ZooKeeper lets wrap from {@value #MAX_ID} to
 * {@code -2147483648} and on, back to small positive numbers: a wrapped counter would hand out every id again.
 * So the writes near the end are in the same transaction as a {@code check} that the node's child {@code open}
 * exists, and a generator that gets a version above {@value #MAX_ID} (or a wrapped, negative one) deletes that
 * child before it throws: from then on every checked write of every client fails, and each throws an
 * {@link IdGenerationException} saying the counter is used up and what to do. Checked are every batch, a
 * generator's first write, and every write of a generator that has seen an id within {@value #GUARD_MARGIN} of
 * the end; below that a single id is a plain {@code setData}, the same one-operation request a bare client
 * sends (a {@code multi} costs the server more). A generator whose last id was far from the end can so send one
 * unchecked write past it (per thread), whose reply tells it the end is reached: the counter never returns a
 * wrapped, negative or repeated id, and at most the writes in flight when each client saw the end go past it,
 * which is nowhere near a full wrap.
 *
 * <p><b>Re-creation.</b> A counter node deleted and created again starts its version at 0 again. The generator
 * remembers the {@code czxid} (the transaction that created the node) it first saw, and every reply carries
 * the node's {@code czxid}: a different one means the node was re-created, and the generator refuses with an
 * {@link IdGenerationException} instead of repeating ids (as it does when the node it used is gone). A counter node without its {@code open} child
 * (one created by hand, or used up) is refused by every generator. Only a generator that never saw the old
 * node and finds none at all creates it (with its {@code open} child, in one transaction) and starts again at
 * 1: never delete a counter node that has handed out ids.
 *
 * <p>Safe for use by many threads; every id is a request to ZooKeeper.
 */
public final class ZooKeeperSequenceCounter implements IdGenerator, AutoCloseable {

    /** The largest id: the largest version ZooKeeper keeps without wrapping, {@link Integer#MAX_VALUE}. */
    public static final long MAX_ID = Integer.MAX_VALUE;
    /** How long one ZooKeeper call may take unless {@link Builder#commandTimeout} sets another: 5 seconds. */
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(5);
    /** The session timeout asked for by a counter that makes its own client: 30 seconds. */
    public static final Duration DEFAULT_SESSION_TIMEOUT = Duration.ofSeconds(30);
    /** Ids within this many of the last are written checked (with the {@code open} child), whatever the batch. */
    static final long GUARD_MARGIN = 1 << 20;
    /** The name of the child whose existence checked increments check; deleted when the counter is used up. */
    static final String OPEN_CHILD = "open";
    /** Bytes of request a transaction may hold: a quarter of ZooKeeper's default jute.maxbuffer of 1 MB. */
    private static final int MAX_TRANSACTION_BYTES = 256 * 1024;
    private static final byte[] EMPTY = new byte[0];

    private final ZooKeeperAccess zk;
    private final String path;
    private final String openPath;
    private final long maxId;
    private final int writesPerTransaction;
    /** From this id on, every write is checked: {@link #maxId} less the margin (half of a tiny test maximum). */
    private final long checkedFrom;
    /** The highest id this generator got; 0 until its first write, which is checked. */
    private final AtomicLong highest = new AtomicLong();
    /** The czxid of the counter node this generator saw first; 0 until then (no real node has czxid 0). */
    private final AtomicLong czxid = new AtomicLong();
    private volatile boolean closed;

    private ZooKeeperSequenceCounter(ZooKeeperAccess zk, String path, long maxId) {
        this.zk = zk;
        this.path = path;
        this.openPath = path + "/" + OPEN_CHILD;
        this.maxId = maxId;
        this.checkedFrom = maxId - Math.min(maxId / 2, GUARD_MARGIN);
        // a setData request is about the path plus 20 bytes of framing, version and empty data
        int pathBytes = ZooKeeperAccess.bytes(path).length + 32;
        this.writesPerTransaction = (int) Math.max(1, Math.min(1000, MAX_TRANSACTION_BYTES / pathBytes));
    }

    /**
     * A builder for a counter that makes (and on {@link #close()} closes) its own Curator client for {@code
     * connectString}: {@code host:port[,host:port...][/chroot]}, the port defaulting to 2181, the chroot becoming
     * the client's namespace.
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
     * A builder for a counter on a started Curator client the caller owns: the counter uses it (its namespace,
     * its session) and never closes it.
     *
     * @throws NullPointerException if null
     */
    public static Builder builder(CuratorFramework curator) {
        return new Builder(null, Objects.requireNonNull(curator, "curator"));
    }

    /** For a store: a counter on its client, which it does not close. */
    static ZooKeeperSequenceCounter onStore(ZooKeeperAccess zk, String path) {
        return new ZooKeeperSequenceCounter(zk, path, MAX_ID);
    }

    /** The counter node's path (within the client's namespace). */
    public String path() {
        return path;
    }

    /**
     * The next id: one write of the counter node.
     *
     * @throws IdSourceUnavailableException if ZooKeeper does not answer within the command timeout
     * @throws IdGenerationException if the counter is used up ({@value #MAX_ID} ids), its node lacks its {@code
     *     open} child, or the node was deleted or re-created since this generator first used it
     * @throws IllegalStateException if the counter, or the client it runs on, is closed
     */
    @Override
    public long nextId() {
        return increment(1)[0];
    }

    /**
     * {@code count} consecutive ids in one transaction ({@code count / 1000} or more transactions for large
     * batches, each of consecutive ids, ascending); if one fails, the ids of those before it are dropped (a gap).
     *
     * @throws IllegalArgumentException if {@code count} is out of range ({@link IdGenerator#checkBatchCount})
     * @throws IdGenerationException as {@link #nextId()}
     */
    @Override
    public long[] nextIds(int count) {
        IdGenerator.checkBatchCount(count);
        long[] ids = new long[count];
        for (int filled = 0; filled < count; ) {
            long[] part = increment(Math.min(writesPerTransaction, count - filled));
            System.arraycopy(part, 0, ids, filled, part.length);
            filled += part.length;
        }
        return ids;
    }

    private long[] increment(int writes) {
        ensureOpen();
        long last = highest.get();
        boolean checked = writes > 1 || last == 0 || last >= checkedFrom;
        for (int attempt = 1; ; attempt++) {
            CuratorFramework curator = zk.curator();
            CuratorEvent event = zk.call(path, "incrementing the counter " + path, cb -> {
                if (!checked) {
                    curator.setData().inBackground(cb).forPath(path, EMPTY);
                    return;
                }
                List<CuratorOp> ops = new ArrayList<>(writes + 1);
                ops.add(curator.transactionOp().check().forPath(openPath));
                for (int i = 0; i < writes; i++) {
                    ops.add(curator.transactionOp().setData().forPath(path, EMPTY));
                }
                curator.transaction().inBackground(cb).forOperations(ops);
            });
            KeeperException.Code code = ZooKeeperAccess.code(event);
            if (code == KeeperException.Code.OK) {
                long[] ids = checked ? ids(event.getOpResults(), writes) : new long[] {id(event.getStat())};
                highest.accumulateAndGet(ids[ids.length - 1], Math::max);
                return ids;
            }
            if (code != KeeperException.Code.NONODE) {
                ensureOpen();
                throw zk.failed(path, "incrementing the counter " + path, code);
            }
            // the counter node or its open child is missing
            if (attempt > 1 || !createIfMissing()) {
                throw missingOpenChild();
            }
        }
    }

    private long[] ids(@Nullable List<CuratorTransactionResult> results, int writes) {
        if (results == null || results.size() != writes + 1) {
            throw new IdSourceUnavailableException(path, "the transaction incrementing the counter " + path + " on "
                    + zk.describe() + " answered " + (results == null ? "no" : results.size()) + " results for "
                    + (writes + 1) + " operations", null);
        }
        long[] ids = new long[writes];
        for (int i = 0; i < writes; i++) {
            // consecutive versions of one node in one transaction: each is checked, a wrap may fall inside
            ids[i] = id(results.get(i + 1).getResultStat());
        }
        return ids;
    }

    /** The id a write's reply carries: its node's new version, if the node is the one first seen and not past the end. */
    private long id(@Nullable Stat stat) {
        if (stat == null) {
            throw new IdSourceUnavailableException(path, "a write of the counter " + path + " on " + zk.describe()
                    + " answered without the node's state", null);
        }
        checkSameNode(stat.getCzxid());
        long id = stat.getVersion();
        if (id <= 0 || id > maxId) {
            highest.set(Long.MAX_VALUE); // from now on every write of this generator is checked, and fails
            sealQuietly();
            throw usedUp(id);
        }
        return id;
    }

    private void checkSameNode(long seen) {
        long first = czxid.get();
        if (first == 0 && czxid.compareAndSet(0, seen)) {
            return;
        }
        first = czxid.get();
        if (first != seen) {
            throw new IdGenerationException("the counter node " + path + " on " + zk.describe()
                    + " was deleted and created again (created by transaction 0x" + Long.toHexString(seen)
                    + ", not 0x" + Long.toHexString(first) + " as when this generator first used it): its sequence"
                    + " started again and would repeat ids already handed out; no id was returned. Restore the"
                    + " node, or move the generators to a counter of a new name that starts above every id handed out");
        }
    }

    /**
     * Creates the counter node and its open child in one transaction, if the node does not exist and this
     * generator never saw one. Whether to write again: the node and its open child are there now, created by
     * this client or by another one since the failed write.
     *
     * @throws IdGenerationException if this generator saw the node before: it was deleted
     */
    private boolean createIfMissing() {
        CuratorFramework curator = zk.curator();
        CuratorEvent exists = zk.call(path, "checking the counter node " + path,
                cb -> curator.checkExists().inBackground(cb).forPath(path));
        KeeperException.Code code = ZooKeeperAccess.code(exists);
        if (code == KeeperException.Code.OK) {
            // the node is there: created by another client since the write failed (with its open child: try
            // again), or it lacks its open child
            CuratorEvent open = zk.call(path, "checking the counter node's child " + openPath,
                    cb -> curator.checkExists().inBackground(cb).forPath(openPath));
            KeeperException.Code openCode = ZooKeeperAccess.code(open);
            if (openCode != KeeperException.Code.OK && openCode != KeeperException.Code.NONODE) {
                throw zk.failed(path, "checking the counter node's child " + openPath, openCode);
            }
            return openCode == KeeperException.Code.OK;
        }
        if (code != KeeperException.Code.NONODE) {
            throw zk.failed(path, "checking the counter node " + path, code);
        }
        long first = czxid.get();
        if (first != 0) {
            throw new IdGenerationException("the counter node " + path + " on " + zk.describe()
                    + " was deleted (this generator used the node created by transaction 0x" + Long.toHexString(first)
                    + "): a new one would start again at 1 and repeat ids. Restore the node, or move the generators"
                    + " to a counter of a new name that starts above every id handed out; no id was returned");
        }
        int slash = path.lastIndexOf('/');
        if (slash > 0) {
            String parent = path.substring(0, slash);
            CuratorEvent created = zk.call(path, "creating the parents of the counter node " + path,
                    cb -> curator.create().creatingParentsIfNeeded().withMode(CreateMode.PERSISTENT)
                            .inBackground(cb).forPath(parent, EMPTY));
            KeeperException.Code parentCode = ZooKeeperAccess.code(created);
            if (parentCode != KeeperException.Code.OK && parentCode != KeeperException.Code.NODEEXISTS) {
                throw zk.failed(path, "creating the parents of the counter node " + path, parentCode);
            }
        }
        CuratorEvent created = zk.call(path, "creating the counter node " + path,
                cb -> curator.transaction().inBackground(cb).forOperations(
                        curator.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(path, EMPTY),
                        curator.transactionOp().create().withMode(CreateMode.PERSISTENT).forPath(openPath, EMPTY)));
        KeeperException.Code createCode = ZooKeeperAccess.code(created);
        if (createCode == KeeperException.Code.OK || createCode == KeeperException.Code.NODEEXISTS) {
            return true; // created here, or by another client at the same moment (with its open child)
        }
        if (createCode == KeeperException.Code.NOCHILDRENFOREPHEMERALS) {
            throw new IdGenerationException("the counter node " + path + " cannot be created on " + zk.describe()
                    + ": its parent is an ephemeral node; choose a path on persistent nodes");
        }
        throw zk.failed(path, "creating the counter node " + path, createCode);
    }

    /** Deletes the open child, so that no client increments further; a failure leaves that to the next one. */
    private void sealQuietly() {
        try {
            CuratorFramework curator = zk.curator();
            zk.call(path, "closing the used-up counter " + path, cb -> curator.delete().inBackground(cb).forPath(openPath));
        } catch (RuntimeException e) {
            // the next client that sees a version past the end tries again
        }
    }

    private IdGenerationException usedUp(long version) {
        return new IdGenerationException("the counter " + path + " on " + zk.describe() + " is used up: its node's"
                + " version, which is the id, reached " + (version <= 0 ? "the 32-bit limit and wrapped to " + version
                : version) + ", past the last id " + maxId + " a ZooKeeper version can hold without wrapping back to"
                + " ids already handed out. No id was returned, and the counter is now closed for every client (its"
                + " child " + OPEN_CHILD + " deleted). Move to a counter of a new name whose ids are told apart from"
                + " these (a segment allocator with a first id above " + maxId + ", or a prefix), never re-create this"
                + " one");
    }

    private IdGenerationException missingOpenChild() {
        return new IdGenerationException("the counter node " + path + " on " + zk.describe() + " has no child "
                + OPEN_CHILD + ": the counter was used up (" + maxId + " ids), or the node was created by someone"
                + " else than this library. No id was returned. If it was used up, move to a counter of a new name;"
                + " if it was created by hand and its version (the last id) is known to be the highest id handed"
                + " out, create " + openPath + " as a persistent node");
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the counter " + path + " on " + zk.describe() + " is closed");
        }
    }

    /** Closes the Curator client if the counter made it; idempotent. Later calls throw IllegalStateException. */
    @Override
    public void close() {
        closed = true;
        zk.close();
    }

    @Override
    public String toString() {
        return "ZooKeeperSequenceCounter[" + path + " on " + zk.describe() + (closed ? ", closed" : "") + "]";
    }

    /** Configures a counter; every setter checks its argument at once. */
    public static final class Builder extends ZooKeeperBuilder<Builder> {
        private @Nullable String path;
        private long maxId = MAX_ID;

        private Builder(@Nullable String connectString, @Nullable CuratorFramework curator) {
            super(connectString, curator);
        }

        /**
         * The counter node; required. Its missing parents are created as persistent nodes; counters that should
         * share a sequence need the same path (and namespace).
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not an absolute path below the root without a trailing {@code '/'},
         *     not a valid ZooKeeper path, under {@code /zookeeper}, or longer than 200 characters
         */
        public Builder path(String path) {
            this.path = ZooKeeperAccess.checkPath("path", path);
            return this;
        }



        /**
         * For tests only: the last id, below {@link #MAX_ID}, so that the end of the sequence is reached in a few
         * writes (ZooKeeper offers no way to set a version; reaching the real end takes 2^31 writes). The
         * counter treats it exactly as the real end.
         */
        Builder maxId(long maxId) {
            if (maxId < 1 || maxId > MAX_ID) {
                throw new IllegalArgumentException("maxId must be between 1 and " + MAX_ID + ", was " + maxId);
            }
            this.maxId = maxId;
            return this;
        }

        /**
         * Connects, when the counter makes its own client (waiting at most the command timeout), checks that no
         * node on the path is ephemeral, and returns the counter. The node itself is created on first use.
         *
         * @throws IllegalStateException if no path was set, or the supplied Curator client is not started
         * @throws IdSourceUnavailableException if no connection is made, or the check gets no reply, within the
         *     command timeout
         * @throws IllegalArgumentException if a node on the path is ephemeral
         */
        public ZooKeeperSequenceCounter build() {
            if (path == null) {
                throw new IllegalStateException("no counter path set: call path(\"/distkit/ids/counters/<name>\")"
                        + " before build()");
            }
            ZooKeeperAccess zk = access();
            try {
                zk.checkNoEphemeral("counter path", path);
            } catch (RuntimeException e) {
                zk.close();
                throw e;
            }
            return new ZooKeeperSequenceCounter(zk, path, maxId);
        }
    }

    static Duration checkPositive(String what, Duration value) {
        Objects.requireNonNull(value, what);
        if (value.isNegative() || value.isZero()) {
            throw new IllegalArgumentException(what + " must be positive, was " + value);
        }
        return value;
    }
}
