package io.distkit.id.backends.etcd;

import io.distkit.id.IdGenerator;
import io.distkit.id.IdStore;
import io.distkit.id.SegmentAllocator;
import io.distkit.id.WorkerIdAssigner;
import io.etcd.jetcd.Client;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * An {@link IdStore} on etcd: {@link EtcdRevisionCounter}s, an {@link EtcdSegmentAllocator} and an
 * {@link EtcdWorkerIdAssigner}, all on one jetcd client and under one key prefix. Opened from
 * {@code etcd://host:2379[,host:2379...][/key/prefix/]} (or {@code etcds://} for TLS) by
 * {@link io.distkit.id.IdStores#connect(String)} (see {@link EtcdIdStoreProvider}), or on a client of yours with
 * {@link #of(Client, String)}.
 *
 * <p>The counters of a store keep their watermark in memory only: a counter refuses a cluster whose revision
 * went back below what it handed out, but a counter made after a restart of the process cannot tell. For that,
 * build an {@link EtcdRevisionCounter} with a {@link EtcdRevisionCounter.Builder#watermarkFile watermark file}.
 */
public final class EtcdIdStore implements IdStore {

    private final Client client;
    private final boolean ownsClient;
    private final String keyPrefix;
    private final String description;
    private final java.time.Duration commandTimeout;
    private final EtcdSegmentAllocator allocator;
    private final List<AutoCloseable> handedOut = new ArrayList<>(); // guarded by this
    private @Nullable WorkerIdAssigner assigner; // guarded by this
    private boolean closed; // guarded by this

    private EtcdIdStore(Client client, boolean ownsClient, EtcdConnection connection) {
        this.client = client;
        this.ownsClient = ownsClient;
        this.keyPrefix = connection.keyPrefix;
        this.commandTimeout = connection.commandTimeout;
        this.description = connection.describe() + ", keys under " + keyPrefix;
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
     * An {@link EtcdRevisionCounter} on key {@code <keyPrefix>counter/<name>}, with its watermark in memory.
     *
     * @throws IllegalArgumentException if {@code name} is not a valid tag
     * @throws IllegalStateException if the store is closed
     */
    @Override
    public synchronized IdGenerator counter(String name) {
        SegmentAllocator.checkTag(name);
        ensureOpen();
        EtcdRevisionCounter counter = EtcdRevisionCounter.builder(client).keyPrefix(keyPrefix).name(name)
                .commandTimeout(commandTimeout).build();
        handedOut.add(counter);
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
