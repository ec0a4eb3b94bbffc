package io.distkit.id.backends.etcd;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdGenerator;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.SegmentAllocator;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.Response;
import io.etcd.jetcd.kv.PutResponse;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Ids that are etcd revisions: each id is the revision of a put to the counter's key. Revisions are the
 * cluster's own global sequence: every write of every client gets the next one, so the ids of all counters on
 * a cluster are distinct and increase in real-time order (an id returned after another was returned, by any
 * counter on the cluster, is higher), with gaps where other keys were written. No counter contends with
 * another: a put never conflicts.
 *
 * <pre>{@code
 * try (EtcdRevisionCounter orders = EtcdRevisionCounter.builder("http://127.0.0.1:2379").name("orders")
 *         .watermarkFile(Path.of("/var/lib/app/orders.watermark")).build()) {
 *     long id = orders.nextId();
 * }
 * }</pre>
 *
 * <p><b>Batches.</b> {@link #nextIds(int)} sends {@code count} puts at once (at most
 * {@value #MAX_IN_FLIGHT} in flight) and returns their revisions sorted. A transaction would not do: all
 * operations of one transaction share one revision, and it may not put one key twice. So a batch costs
 * {@code count} writes to the cluster, but about one round trip per {@value #MAX_IN_FLIGHT} ids.
 *
 * <p><b>A cluster that went back.</b> A cluster restored from an older snapshot (or wiped, or replaced) has a
 * lower revision than before: it would hand out again the revisions written since the snapshot. The counter
 * keeps a watermark, the highest id it handed out, and refuses, with an {@link IdSourceUnavailableException}
 * saying so, a revision at or below it (checked against the watermark as it was when the request was sent, so
 * that concurrent callers do not trip it). It also refuses a reply from a cluster whose cluster id differs
 * from the one it first talked to. The watermark lives in memory; to keep it across restarts of the process,
 * name a file with {@link Builder#watermarkFile}: the counter writes there, before it returns an id above the
 * file's value, a ceiling {@link Builder#watermarkChunk chunk} ids ahead (so the file is written once per chunk,
 * not per id), and on {@link #close()} the exact watermark. A counter started on the file refuses a revision at
 * or below the last one the file recorded as reached, and skips (without returning them) revisions up to the
 * file's ceiling, which a crashed predecessor may have handed out: at most one chunk of puts, once. Restoring
 * etcd with {@code etcdutl snapshot restore --bump-revision <n> --mark-compacted} (etcd 3.5.8 or later),
 * {@code n} above the ids handed out since the snapshot, brings it back above every id.
 *
 * <p>Each put adds a revision to the key's history; let etcd compact it ({@code --auto-compaction-retention}).
 * Thread-safe. Every wait is bounded by the command timeout.
 */
public final class EtcdRevisionCounter implements IdGenerator, AutoCloseable {

    /** The key prefix used unless {@link Builder#keyPrefix} sets another. */
    public static final String DEFAULT_KEY_PREFIX = EtcdConnection.DEFAULT_KEY_PREFIX;
    /** How long one etcd call may take unless {@link Builder#commandTimeout} sets another: 5 seconds. */
    public static final Duration DEFAULT_COMMAND_TIMEOUT = EtcdConnection.DEFAULT_COMMAND_TIMEOUT;
    /** How far ahead the watermark file is written unless {@link Builder#watermarkChunk} sets another. */
    public static final long DEFAULT_WATERMARK_CHUNK = 1000;
    /** Puts of one {@link #nextIds(int)} in flight at once. */
    public static final int MAX_IN_FLIGHT = 256;

    private static final String FILE_HEADER = "distkit etcd revision counter watermark";
    private static final Pattern FILE_FORMAT = Pattern.compile(
            "\\Q" + FILE_HEADER + "\\E\\R(?:key .*\\R)?reached (\\d+)\\Rceiling (\\d+)\\R?");

    private final Client client;
    private final boolean ownsClient;
    private final KV kv;
    private final String keyText;
    private final ByteSequence key;
    private final EtcdCalls calls;
    private final @Nullable Path watermarkFile;
    private final long chunk;

    /** The highest revision this counter handed out, or known the cluster reached (from the file). */
    private final AtomicLong watermark = new AtomicLong();
    /** Revisions up to this one may have been handed out by a crashed predecessor: skipped. 0 once passed. */
    private volatile long skipUpTo;
    /** Held while the counter is open: one counter a watermark file, across processes. */
    private final @Nullable HeldFile fileLock;
    /**
     * The lock files this JVM holds. The file lock is the process's (POSIX): a second channel on the file, closed
     * after its refused tryLock, would drop it; so a second counter of this process is refused before it opens one.
     */
    private static final Set<Path> HELD_IN_THIS_JVM = ConcurrentHashMap.newKeySet();

    /** A watermark file's lock file, by its absolute path, and the lock on it. */
    private record HeldFile(Path path, FileLock lock) {}
    /** The ceiling in the file (guarded by this). */
    private long persistedCeiling;
    /** The cluster id of the first reply; 0 until then. */
    private final AtomicLong clusterId = new AtomicLong();
    private volatile boolean closed; // written under this

    private EtcdRevisionCounter(Builder b, Client client, long reached, long ceiling, @Nullable HeldFile fileLock) {
        this.fileLock = fileLock;
        this.client = client;
        this.ownsClient = b.connection.ownsClient();
        this.kv = client.getKVClient();
        this.keyText = b.connection.keyPrefix + "counter/" + b.name;
        this.key = EtcdCalls.bytes(keyText);
        this.calls = new EtcdCalls(b.connection.commandTimeout, b.connection.describe());
        this.watermarkFile = b.watermarkFile;
        this.chunk = b.chunk;
        this.watermark.set(reached);
        this.skipUpTo = ceiling > reached ? ceiling : 0;
        this.persistedCeiling = ceiling;
    }

    /**
     * A builder for a counter on a jetcd client the caller owns: the counter uses it and never closes it.
     *
     * @throws NullPointerException if {@code client} is null
     */
    public static Builder builder(Client client) {
        return new Builder(EtcdConnection.of(client));
    }

    /**
     * A builder for a counter with a jetcd client of its own for these endpoints ({@code http://host:port},
     * {@code https://host:port}, or {@code host:port} for plain HTTP), closed with the counter.
     *
     * @throws NullPointerException if {@code endpoints} or one of them is null
     * @throws IllegalArgumentException if there is none, or one is malformed (the message says which and why)
     */
    public static Builder builder(String... endpoints) {
        return new Builder(EtcdConnection.of(endpoints));
    }

    /** The etcd key whose puts give the ids. */
    public String key() {
        return keyText;
    }

    /**
     * The highest id this counter handed out (or, right after start, the highest revision its watermark file
     * recorded as reached); 0 if none.
     */
    public long watermark() {
        return watermark.get();
    }

    /**
     * The next revision of the cluster: one put.
     *
     * @throws IdSourceUnavailableException if etcd cannot be reached within the command timeout, or its
     *     revision went back below this counter's watermark, or its cluster id changed
     * @throws IllegalStateException if the counter is closed
     */
    @Override
    public long nextId() {
        return take(1)[0];
    }

    /**
     * {@code count} revisions, ascending, from {@code count} puts sent at once ({@value #MAX_IN_FLIGHT} in flight
     * at most). If one fails, none is returned: those that took effect are gaps.
     *
     * @throws IllegalArgumentException if {@code count} is below 1 or above {@link IdGenerator#MAX_BATCH}
     * @throws IdSourceUnavailableException as {@link #nextId()} does
     */
    @Override
    public long[] nextIds(int count) {
        IdGenerator.checkBatchCount(count);
        return take(count);
    }

    private long[] take(int count) {
        ensureOpen();
        long floor = watermark.get(); // as at the send: any reply at or below it means the cluster went back
        long[] ids = new long[count];
        int have = 0;
        while (have < count) {
            long skip = skipUpTo;
            int want = count - have;
            if (skip > floor) { // skip a crashed predecessor's possible ids in one go, not one round trip each
                want = (int) Math.min(MAX_IN_FLIGHT, Math.max(want, skip - floor));
            }
            long[] revisions = put(want);
            for (long revision : revisions) {
                if (revision <= floor) {
                    throw wentBack(revision, floor);
                }
            }
            for (long revision : revisions) {
                if (revision > skip && have < count) {
                    ids[have++] = revision;
                }
            }
            floor = Math.max(floor, Arrays.stream(revisions).max().orElse(floor));
        }
        Arrays.sort(ids);
        handOut(ids[count - 1]);
        return ids;
    }

    /** {@code n} puts, in windows of {@link #MAX_IN_FLIGHT}; their revisions, checked for the cluster id. */
    private long[] put(int n) {
        long[] revisions = new long[n];
        int done = 0;
        while (done < n) {
            int window = Math.min(MAX_IN_FLIGHT, n - done);
            List<CompletableFuture<PutResponse>> puts = new ArrayList<>(window);
            for (int i = 0; i < window; i++) {
                try {
                    puts.add(kv.put(key, ByteSequence.EMPTY));
                } catch (RuntimeException e) {
                    puts.forEach(p -> p.cancel(false));
                    throw calls.failure(keyText, "putting key " + keyText, e);
                }
            }
            long deadline = System.nanoTime() + calls.timeout().toNanos();
            for (int i = 0; i < window; i++) {
                PutResponse reply;
                try {
                    reply = calls.await(puts.get(i), deadline, keyText, "putting key " + keyText);
                } catch (RuntimeException e) {
                    puts.forEach(p -> p.cancel(false));
                    throw e;
                }
                checkCluster(reply.getHeader());
                revisions[done + i] = reply.getHeader().getRevision();
            }
            done += window;
        }
        return revisions;
    }

    private void checkCluster(Response.Header header) {
        long id = header.getClusterId();
        long known = clusterId.compareAndExchange(0, id);
        if (known != 0 && known != id) {
            throw new IdSourceUnavailableException(keyText, calls.describe() + " answered as etcd cluster "
                    + Long.toHexString(id) + ", but this counter started on cluster " + Long.toHexString(known)
                    + ": the cluster was replaced or restored from a snapshot, or the endpoints lead to another"
                    + " cluster. Its revisions may repeat ids handed out before, so this counter hands out none."
                    + " Check that the cluster's revision is above every id ever handed out on it (restore with"
                    + " etcdutl snapshot restore --bump-revision <n> --mark-compacted), then build a new counter", null);
        }
    }

    private IdSourceUnavailableException wentBack(long revision, long floor) {
        return new IdSourceUnavailableException(keyText, "the revision of " + calls.describe() + " went back: a put"
                + " got revision " + revision + ", but this counter has handed out (or its watermark file "
                + (watermarkFile == null ? "" : watermarkFile.toAbsolutePath() + " ") + "recorded) revision " + floor
                + ". Was the cluster restored from an older snapshot, or its data wiped? Its revisions would repeat"
                + " ids handed out before, so this counter hands out none. Restore etcd from a snapshot taken after"
                + " revision " + floor + ", or raise its revision above every id handed out (etcdutl snapshot restore"
                + " --bump-revision <n> --mark-compacted, etcd 3.5.8 or later); only if the old ids no longer matter,"
                + " delete the watermark file and build a new counter", null);
    }

    /** Records {@code max} as handed out: first in the file if it is above its ceiling, then in memory. */
    private synchronized void handOut(long max) {
        ensureOpen(); // a close meanwhile wrote the exact watermark: these ids are gaps
        if (watermarkFile != null && max > persistedCeiling) {
            long ceiling = max > Long.MAX_VALUE - chunk ? Long.MAX_VALUE : max + chunk;
            write(watermarkFile, max, ceiling);
            persistedCeiling = ceiling;
        }
        watermark.accumulateAndGet(max, Math::max);
        if (skipUpTo != 0 && max > skipUpTo) {
            skipUpTo = 0;
        }
    }

    private void write(Path file, long reached, long ceiling) {
        String content = FILE_HEADER + "\nkey " + keyText + "\nreached " + reached + "\nceiling " + ceiling + "\n";
        Path temp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                channel.write(ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8)));
                channel.force(true);
            }
            try {
                Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temp, file, StandardCopyOption.REPLACE_EXISTING);
            }
            Path dir = file.toAbsolutePath().getParent();
            if (dir != null) {
                try (FileChannel directory = FileChannel.open(dir, StandardOpenOption.READ)) {
                    directory.force(true);
                } catch (IOException notSupported) {
                    // some file systems cannot sync a directory; the rename is as durable as they make it
                }
            }
        } catch (IOException e) {
            throw new IdGenerationException("cannot write the watermark file " + file.toAbsolutePath() + " of counter "
                    + keyText + " (" + e + "); no id is handed out above what it records. Check the file's directory"
                    + " and permissions", e);
        }
    }

    /** {reached, ceiling} of the file, or {0, 0} if it does not exist. */
    private static long[] read(Path file) {
        if (!Files.exists(file)) {
            return new long[] {0, 0};
        }
        String content;
        try {
            content = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IdGenerationException("cannot read the watermark file " + file.toAbsolutePath() + ": " + e, e);
        }
        Matcher m = FILE_FORMAT.matcher(content);
        if (!m.matches()) {
            throw new IdGenerationException("the watermark file " + file.toAbsolutePath() + " is not one this counter"
                    + " wrote (expected '" + FILE_HEADER + "', 'reached <n>', 'ceiling <n>' lines); name another file,"
                    + " or restore this one");
        }
        try {
            return new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))};
        } catch (NumberFormatException e) {
            throw new IdGenerationException("the watermark file " + file.toAbsolutePath() + " holds a number out of"
                    + " range: " + e.getMessage(), e);
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("this etcd revision counter on key " + keyText + " is closed");
        }
    }

    /**
     * Writes the exact watermark to the watermark file, if any, and closes the jetcd client if it was made for
     * this counter. Idempotent. Ids being fetched meanwhile are not handed out.
     *
     * @throws IdGenerationException if the watermark file cannot be written (the counter is closed all the same;
     *     the file keeps its ceiling, which is above every id handed out)
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        try {
            long last = watermark.get();
            if (watermarkFile != null && last > 0 && skipUpTo == 0) {
                synchronized (this) {
                    write(watermarkFile, last, last);
                    persistedCeiling = last;
                }
            }
        } finally {
            release(fileLock);
            if (ownsClient) {
                client.close();
            }
        }
    }

    /**
     * Locks {@code <file>.lock} for this counter: two counters writing one watermark file would each write their
     * own watermark over the other's, and a lower one would let a restored cluster's repeated revisions through.
     *
     * @throws IdGenerationException if another counter, in this or another process, has the file, or the lock
     *     file cannot be made
     */
    private static HeldFile lockFile(Path file) {
        Path lockPath = file.resolveSibling(file.getFileName() + ".lock").toAbsolutePath().normalize();
        String inUse = "the watermark file " + file.toAbsolutePath() + " is in use by another etcd revision counter"
                + " (its lock " + lockPath + " is held, in this process or another): give each counter a file of its"
                + " own, or close the other one first";
        // checked before the file is opened: closing any channel on a file drops this process's lock on it
        if (!HELD_IN_THIS_JVM.add(lockPath)) {
            throw new IdGenerationException(inUse);
        }
        FileChannel channel = null;
        try {
            channel = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock = channel.tryLock();
            if (lock != null) {
                return new HeldFile(lockPath, lock);
            }
        } catch (IOException | OverlappingFileLockException e) {
            closeQuietly(channel);
            HELD_IN_THIS_JVM.remove(lockPath);
            throw new IdGenerationException("cannot lock the watermark file " + file.toAbsolutePath() + " (through "
                    + lockPath + "): " + e + "; check the directory and its permissions", e);
        }
        closeQuietly(channel);
        HELD_IN_THIS_JVM.remove(lockPath);
        throw new IdGenerationException(inUse);
    }

    /** Tests only: what the death of the process leaves, its file lock released and nothing written on close. */
    void dieForTest() {
        closed = true;
        release(fileLock);
    }

    private static void release(@Nullable HeldFile held) {
        if (held != null) {
            closeQuietly(held.lock().channel()); // releases the lock with it
            HELD_IN_THIS_JVM.remove(held.path());
        }
    }

    private static void closeQuietly(@Nullable FileChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                // nothing held any more
            }
        }
    }

    @Override
    public String toString() {
        return "EtcdRevisionCounter[" + calls.describe() + ", key " + keyText + ", watermark " + watermark.get()
                + (watermarkFile == null ? "" : " (file " + watermarkFile + ")") + (closed ? ", closed" : "") + "]";
    }

    /** Configures a counter; every setter checks its argument at once. */
    public static final class Builder extends EtcdBuilder<Builder> {
        private String name = "default";
        private @Nullable Path watermarkFile;
        private long chunk = DEFAULT_WATERMARK_CHUNK;

        private Builder(EtcdConnection connection) {
            super(connection);
        }

        /**
         * The counter's name: its key is {@code <keyPrefix>counter/<name>}. Default {@code default}.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not a valid tag ({@link SegmentAllocator#checkTag})
         */
        public Builder name(String name) {
            this.name = SegmentAllocator.checkTag(name);
            return this;
        }

        /**
         * Keeps the watermark in this file across restarts, so that a counter started after etcd was restored
         * from an older snapshot refuses instead of repeating ids (see the class comment). One counter per file:
         * the counter holds a lock on {@code <file>.lock} beside it while it is open, and a second counter on the
         * file, in this process or another, is refused when built. The file is created on the first id; its
         * directory must exist. Default: none (the watermark lives as long as the counter).
         *
         * @throws NullPointerException if null
         */
        public Builder watermarkFile(Path file) {
            this.watermarkFile = Objects.requireNonNull(file, "watermarkFile");
            return this;
        }

        /**
         * How far above an id the watermark file's ceiling is written: the file is written about once per
         * {@code chunk} revisions, and a counter started after a crash skips at most {@code chunk} revisions.
         * Default {@value EtcdRevisionCounter#DEFAULT_WATERMARK_CHUNK}.
         *
         * @throws IllegalArgumentException if not positive
         */
        public Builder watermarkChunk(long chunk) {
            if (chunk < 1) {
                throw new IllegalArgumentException("watermarkChunk must be positive, was " + chunk);
            }
            this.chunk = chunk;
            return this;
        }

        /**
         * The counter. Reads the watermark file, if any; nothing is asked of etcd before the first id.
         *
         * @throws IdGenerationException if the watermark file cannot be read or is not one a counter wrote
         * @throws IllegalStateException if {@link #trustCertificates} was set but no endpoint uses https
         */
        public EtcdRevisionCounter build() {
            @Nullable HeldFile lock = watermarkFile == null ? null : lockFile(watermarkFile);
            try {
                long[] file = watermarkFile == null ? new long[] {0, 0} : read(watermarkFile);
                Client client = connection.client();
                return new EtcdRevisionCounter(this, client, file[0], file[1], lock);
            } catch (RuntimeException | Error e) {
                release(lock);
                throw e;
            }
        }
    }
}
