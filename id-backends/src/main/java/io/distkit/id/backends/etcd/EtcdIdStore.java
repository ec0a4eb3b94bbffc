package io.distkit.id.backends.etcd;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdGenerator;
import io.distkit.id.IdStore;
import io.distkit.id.SegmentAllocator;
import io.distkit.id.WorkerIdAssigner;
import io.etcd.jetcd.Client;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * An {@link IdStore} on etcd: {@link EtcdRevisionCounter}s, an {@link EtcdSegmentAllocator} and an
 * {@link EtcdWorkerIdAssigner}, all on one jetcd client and under one key prefix. Opened from
 * {@code etcd://host:2379[,host:2379...][/key/prefix/]} (or {@code etcds://} for TLS) by
 * {@link io.distkit.id.IdStores#connect(String)} (see {@link EtcdIdStoreProvider}), or on a client of yours with
 * {@link #of(Client, String)}. Nothing is asked of etcd before the first id, range or worker id.
 *
 * <p>A counter refuses a cluster whose revision went back below what it handed out (restored from an older
 * snapshot). Without a watermark directory ({@code ?watermarks=/a/directory} in the URI, or
 * {@link #of(Client, String, Path)}) the watermark lives in memory only, and a counter made after a restart of the
 * process cannot tell; with one, each counter keeps it in a file there, written ahead once per chunk of ids
 * ({@link EtcdRevisionCounter.Builder#watermarkFile}). One process per directory and key prefix.
 */
public final class EtcdIdStore implements IdStore {

    private final Client client;
    private final boolean ownsClient;
    private final String keyPrefix;
    private final String description;
    private final java.time.Duration commandTimeout;
    private final EtcdSegmentAllocator allocator;
    private final @Nullable Path watermarkDirectory;
    private final Map<String, EtcdRevisionCounter> counters = new HashMap<>(); // guarded by this
    private final List<AutoCloseable> handedOut = new ArrayList<>(); // guarded by this
    private @Nullable WorkerIdAssigner assigner; // guarded by this
    private boolean closed; // guarded by this

    private EtcdIdStore(Client client, boolean ownsClient, EtcdConnection connection) {
        this.client = client;
        this.ownsClient = ownsClient;
        this.keyPrefix = connection.keyPrefix;
        this.commandTimeout = connection.commandTimeout;
        this.watermarkDirectory = connection.watermarkDirectory;
        this.description = connection.describe() + ", keys under " + keyPrefix
                + (watermarkDirectory == null ? "" : ", watermarks in " + watermarkDirectory);
        this.allocator = EtcdSegmentAllocator.builder(client).keyPrefix(keyPrefix).commandTimeout(commandTimeout)
                .build();
    }

    /**
     * A store on a jetcd client you own (closing the store does not close it), under {@code keyPrefix}.
     *
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if the prefix is blank, over 200 characters or has a control character
     */
    public static EtcdIdStore of(Client client, String keyPrefix) {
        EtcdConnection connection = EtcdConnection.of(Objects.requireNonNull(client, "client"));
        connection.keyPrefix = EtcdConnection.checkKeyPrefix(keyPrefix);
        return new EtcdIdStore(client, false, connection);
    }

    /**
     * A store on a jetcd client you own, under {@code keyPrefix}, whose counters keep their watermarks in files in
     * {@code watermarkDirectory} (see the class comment).
     *
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if the prefix is blank, over 200 characters or has a control character, or
     *     the directory does not exist
     */
    public static EtcdIdStore of(Client client, String keyPrefix, Path watermarkDirectory) {
        EtcdConnection connection = EtcdConnection.of(Objects.requireNonNull(client, "client"));
        connection.keyPrefix = EtcdConnection.checkKeyPrefix(keyPrefix);
        connection.watermarkDirectory = checkWatermarkDirectory(watermarkDirectory);
        return new EtcdIdStore(client, false, connection);
    }

    static Path checkWatermarkDirectory(Path directory) {
        Objects.requireNonNull(directory, "watermarkDirectory");
        if (!Files.isDirectory(directory) || !Files.isWritable(directory)) {
            throw new IllegalArgumentException("watermark directory " + directory.toAbsolutePath() + " does not exist or"
                    + " is not a writable directory: create it (counters keep one file each there)");
        }
        return directory;
    }

    /**
     * The file of the counter on {@code key} in {@code directory}: the key percent-encoded, or, where that would
     * make too long a file name, its SHA-256.
     */
    static Path watermarkFile(Path directory, String key) {
        String encoded = URLEncoder.encode(key, StandardCharsets.UTF_8).replace("*", "%2A");
        if (encoded.length() > 200 || encoded.startsWith(".")) {
            try {
                byte[] hash = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
                encoded = "sha256-" + HexFormat.of().formatHex(hash);
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("this JVM has no SHA-256", e);
            }
        }
        return directory.resolve(encoded + ".watermark");
    }

    /** A store with a client of its own for {@code connection}'s endpoints. */
    static EtcdIdStore open(EtcdConnection connection) {
        Client client = connection.client();
        try {
            return new EtcdIdStore(client, connection.ownsClient(), connection);
        } catch (RuntimeException | Error e) {
            if (connection.ownsClient()) {
                client.close();
            }
            throw e;
        }
    }

    @Override
    public String describe() {
        return description;
    }

    /**
     * The {@link EtcdRevisionCounter} on key {@code <keyPrefix>counter/<name>}: one per name and store (it is
     * thread-safe), with its watermark in a file of the watermark directory if the store has one, else in memory.
     *
     * @throws IllegalArgumentException if {@code name} is not a valid tag
     * @throws IdGenerationException if the counter's watermark file cannot be read or is not one a counter wrote
     * @throws IllegalStateException if the store is closed
     */
    @Override
    public synchronized IdGenerator counter(String name) {
        SegmentAllocator.checkTag(name);
        ensureOpen();
        EtcdRevisionCounter counter = counters.get(name);
        if (counter == null) {
            EtcdRevisionCounter.Builder builder = EtcdRevisionCounter.builder(client).keyPrefix(keyPrefix).name(name)
                    .commandTimeout(commandTimeout);
            if (watermarkDirectory != null) {
                builder.watermarkFile(watermarkFile(watermarkDirectory, keyPrefix + "counter/" + name));
            }
            counter = builder.build();
            counters.put(name, counter);
            handedOut.add(counter);
        }
        return counter;
    }

    /** The store's allocator ({@link EtcdSegmentAllocator}, ranges under {@code <keyPrefix>segment/<tag>}). */
    @Override
    public synchronized SegmentAllocator segmentAllocator() {
        ensureOpen();
        return allocator;
    }

    /** The store's assigner ({@link EtcdWorkerIdAssigner}, default lease), made on the first call. */
    @Override
    public synchronized WorkerIdAssigner workerIdAssigner() {
        ensureOpen();
        if (assigner == null) {
            assigner = EtcdWorkerIdAssigner.builder(client).keyPrefix(keyPrefix).commandTimeout(commandTimeout).build();
            handedOut.add(assigner);
        }
        return assigner;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("this id store on " + description + " is closed");
        }
    }

    @Override
    public void close() {
        List<AutoCloseable> toClose;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            toClose = List.copyOf(handedOut);
            handedOut.clear();
        }
        try {
            for (AutoCloseable closeable : toClose) {
                try {
                    closeable.close();
                } catch (Exception e) {
                    // best effort: the client goes below, which ends whatever is left
                }
            }
            allocator.close();
        } finally {
            if (ownsClient) {
                client.close();
            }
        }
    }

    @Override
    public String toString() {
        return "EtcdIdStore[" + description + "]";
    }
}
