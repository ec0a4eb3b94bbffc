package io.distkit.id.backends.zookeeper;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.Segment;
import io.distkit.id.SegmentAllocator;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.CuratorEvent;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.jspecify.annotations.Nullable;

/**
 * Ranges of ids reserved in ZooKeeper, for the segment generator of {@code id-segment}
 * ({@code io.distkit.id.segment.SegmentIdGenerator}).
 *
 * <pre>{@code
 * ZooKeeperSegmentAllocator allocator = ZooKeeperSegmentAllocator.builder("127.0.0.1:2181").build();
 * Segment first = allocator.allocate("order", 1000);    // [1, 1001), then [1001, 2001), ...
 * }</pre>
 *
 * <p>One persistent node per tag, {@code <basePath>/<encoded tag>}, whose data is the start of the next range in
 * decimal ({@code zkCli get} shows it). The tag is encoded one to one into a single path element ({@code '%'},
 * {@code '/'} and the characters ZooKeeper refuses in paths are percent-encoded), so two tags never share a
 * node. A tag seen for the first time is created at the builder's {@link Builder#firstId} (default 1); of
 * several allocators creating it at once, one creates it and all use it.
 *
 * <p><b>Allocation</b> reads the node with its version and writes {@code start + step} conditional on that
 * version: a compare-and-set, ordered by ZooKeeper's leader across every client. A write that loses to another
 * allocator's ({@code BADVERSION}) reads again, after a short random pause, at most 32 times
 * in all and within the command timeout, then gives up with an {@link IdSourceUnavailableException} saying so.
 * The value only grows, so ranges never overlap across processes and restarts and the ranges of one allocator
 * ascend. ZooKeeper acknowledges a write once a quorum has it on disk: an acknowledged range is never handed
 * out again; a write whose reply was lost leaves its range unused (a gap). A step that would take the value
 * past {@link Long#MAX_VALUE} writes nothing and is refused.
 *
 * <p>Safe for any number of threads; every allocation is two round trips (three when the tag is new).
 */
public final class ZooKeeperSegmentAllocator implements SegmentAllocator {

    /** The base path used unless {@link Builder#basePath} sets another. */
    public static final String DEFAULT_BASE_PATH = "/distkit/ids/segments";
    /** How long one allocation may take unless {@link Builder#commandTimeout} sets another: 5 seconds. */
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(5);
    /** Compare-and-set attempts per allocation; one more follows only another allocator's success. */
    static final int MAX_ATTEMPTS = 32;

    private final ZooKeeperAccess zk;
    private final String basePath;
    private final long firstId;

    private ZooKeeperSegmentAllocator(ZooKeeperAccess zk, String basePath, long firstId) {
        this.zk = zk;
        this.basePath = basePath;
        this.firstId = firstId;
    }

    /**
     * A builder for an allocator that makes its own Curator client for {@code connectString} ({@code
     * host:port[,host:port...][/chroot]}), closed by {@link #close()}.
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
     * A builder for an allocator on a started Curator client the caller owns (its namespace, its session); the
     * allocator never closes it.
     *
     * @throws NullPointerException if null
     */
    public static Builder builder(CuratorFramework curator) {
        return new Builder(null, Objects.requireNonNull(curator, "curator"));
    }

    /** For a store: an allocator on its client, checked already. */
    static ZooKeeperSegmentAllocator onStore(ZooKeeperAccess zk, String basePath) {
        return new ZooKeeperSegmentAllocator(zk, basePath, 1);
    }

    /** The node of {@code tag}, for operators and tests: {@code <basePath>/<encoded tag>}. */
    public String tagPath(String tag) {
        return basePath + "/" + ZooKeeperAccess.encode(SegmentAllocator.checkTag(tag));
    }

    /**
     * Reserves the next {@code step} ids of {@code tag}: exactly {@code step} ids, from the node's value on.
     *
     * @throws NullPointerException if {@code tag} is null
     * @throws IllegalArgumentException if {@code tag} is refused by {@link SegmentAllocator#checkTag}, or {@code
     *     step} is not positive
     * @throws IdGenerationException if the tag's node holds no number, a negative one, or one whose ids would
     *     pass {@link Long#MAX_VALUE}; nothing was reserved
     * @throws IdSourceUnavailableException if ZooKeeper does not answer within the command timeout, or other
     *     allocators won every attempt; if a write took effect all the same, its ids are never used (a gap)
     * @throws IllegalStateException if the allocator, or the client it runs on, is closed
     */
    @Override
    public Segment allocate(String tag, long step) {
        SegmentAllocator.checkTag(tag);
        SegmentAllocator.checkStep(step);
        String path = basePath + "/" + ZooKeeperAccess.encode(tag);
        CuratorFramework curator = zk.curator();
        long giveUpAt = System.nanoTime() + zk.timeout().toNanos();
        int attempts = 0;
        while (attempts < MAX_ATTEMPTS && (attempts == 0 || System.nanoTime() - giveUpAt < 0)) {
            attempts++;
            CuratorEvent read = zk.call(tag, "reading tag '" + tag + "' at " + path,
                    cb -> curator.getData().inBackground(cb).forPath(path));
            KeeperException.Code code = ZooKeeperAccess.code(read);
            if (code == KeeperException.Code.NONODE) {
                create(tag, path); // or someone else did: read again
                continue;
            }
            if (code != KeeperException.Code.OK) {
                throw zk.failed(tag, "reading tag '" + tag + "' at " + path, code);
            }
            long start = parse(tag, path, read.getData());
            if (start > Long.MAX_VALUE - step) {
                throw new IdGenerationException("the ids of tag '" + tag + "' at " + path + " on " + zk.describe()
                        + " would overflow: the next range starts at " + start + " and a step of " + step
                        + " would pass Long.MAX_VALUE; nothing was reserved. Move the tag's ids to a new tag");
            }
            Stat stat = read.getStat();
            KeeperException.Code written = zk.compareAndSet(tag, "reserving " + step + " ids of tag '" + tag + "' at "
                    + path, path, ZooKeeperAccess.bytes(Long.toString(start + step)), stat.getVersion());
            if (written == KeeperException.Code.OK) {
                return new Segment(tag, start, start + step);
            }
            if (written == KeeperException.Code.BADVERSION) {
                pauseAfterLostRace(attempts); // another allocator reserved a range: read again
            }
            // NONODE: deleted between the read and the write; created again at the next attempt
        }
        throw new IdSourceUnavailableException(tag, "no range of tag '" + tag + "' could be reserved at " + path + " on "
                + zk.describe() + " in " + attempts + " attempts within " + zk.timeout() + ": each time another"
                + " allocator wrote the tag's node between this one's read and write; retry, or use larger steps"
                + " so that allocators write less often", null);
    }

    private void create(String tag, String path) {
        CuratorFramework curator = zk.curator();
        CuratorEvent created = zk.call(tag, "creating tag '" + tag + "' at " + path,
                cb -> curator.create().creatingParentsIfNeeded().withMode(CreateMode.PERSISTENT).inBackground(cb)
                        .forPath(path, ZooKeeperAccess.bytes(Long.toString(firstId))));
        KeeperException.Code code = ZooKeeperAccess.code(created);
        if (code == KeeperException.Code.NOCHILDRENFOREPHEMERALS) {
            throw new IdGenerationException("tag '" + tag + "' cannot be created at " + path + " on " + zk.describe()
                    + ": a node on the base path " + basePath + " is ephemeral; choose a base path on persistent nodes");
        }
        if (code != KeeperException.Code.OK && code != KeeperException.Code.NODEEXISTS) {
            throw zk.failed(tag, "creating tag '" + tag + "' at " + path, code);
        }
    }

    private long parse(String tag, String path, byte @Nullable [] data) {
        String text = ZooKeeperAccess.text(data).strip();
        long start;
        try {
            start = Long.parseLong(text);
        } catch (NumberFormatException e) {
            throw new IdGenerationException("the node " + path + " of tag '" + tag + "' on " + zk.describe()
                    + " holds '" + ZooKeeperAccess.excerpt(data) + "', not the decimal start of the tag's next range;"
                    + " nothing was reserved. Set it to at least the highest id ever handed out for the tag, plus one"
                    + " (zkCli: set " + path + " <number>)", e);
        }
        if (start < 0) {
            throw new IdGenerationException("the node " + path + " of tag '" + tag + "' on " + zk.describe()
                    + " holds " + start + ", below 0: ids are never negative; nothing was reserved. Set it to at least"
                    + " the highest id ever handed out for the tag, plus one");
        }
        return start;
    }

    /** A random pause of up to 2^attempt ms (at most 50 ms): allocators that lost a race do not meet again. */
    private static void pauseAfterLostRace(int attempts) {
        long maxMillis = Math.min(50, 1L << Math.min(attempts, 6));
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(ThreadLocalRandom.current().nextLong(maxMillis + 1)));
    }

    /** Closes the Curator client if the allocator made it; idempotent. */
    public void close() {
        zk.close();
    }

    @Override
    public String toString() {
        return "ZooKeeperSegmentAllocator[" + basePath + " on " + zk.describe() + "]";
    }

    /** Configures an allocator; every setter checks its argument at once. */
    public static final class Builder extends ZooKeeperBuilder<Builder> {
        private String basePath = DEFAULT_BASE_PATH;
        private long firstId = 1;

        private Builder(@Nullable String connectString, @Nullable CuratorFramework curator) {
            super(connectString, curator);
        }

        /**
         * The path under which each tag's node lies; default {@value ZooKeeperSegmentAllocator#DEFAULT_BASE_PATH}.
         * Its missing parents are created as persistent nodes.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not an absolute path below the root without a trailing {@code '/'},
         *     not a valid ZooKeeper path, under {@code /zookeeper}, or longer than 200 characters
         */
        public Builder basePath(String basePath) {
            this.basePath = ZooKeeperAccess.checkPath("basePath", basePath);
            return this;
        }

        /**
         * Where the first range of a tag seen for the first time starts; default 1.
         *
         * @throws IllegalArgumentException if negative
         */
        public Builder firstId(long firstId) {
            if (firstId < 0) {
                throw new IllegalArgumentException("firstId must not be negative, was " + firstId);
            }
            this.firstId = firstId;
            return this;
        }



        /**
         * Connects, when the allocator makes its own client (waiting at most the command timeout), checks that no
         * node on the base path is ephemeral, and returns the allocator.
         *
         * @throws IllegalStateException if the supplied Curator client is not started
         * @throws IdSourceUnavailableException if no connection is made, or the check gets no reply, within the
         *     command timeout
         * @throws IllegalArgumentException if a node on the base path is ephemeral
         */
        public ZooKeeperSegmentAllocator build() {
            ZooKeeperAccess zk = access();
            try {
                zk.checkNoEphemeral("base path", basePath);
            } catch (RuntimeException e) {
                zk.close();
                throw e;
            }
            return new ZooKeeperSegmentAllocator(zk, basePath, firstId);
        }
    }
}
