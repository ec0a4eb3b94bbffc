package io.distkit.id;

/**
 * A store that ids come from, opened from a URI by {@link IdStores#connect}: a Redis server, an etcd or
 * ZooKeeper ensemble, a database. It gives the three things an id scheme needs from a store, all on one
 * connection:
 *
 * <pre>{@code
 * try (IdStore store = IdStores.connect("redis://localhost:6379")) {
 *     IdGenerator orders = store.counter("orders");                  // the store's own sequence: 1, 2, 3, ...
 *     SegmentIdGenerator items = SegmentIdGenerator.builder(store.segmentAllocator(), "items").build();
 *     SnowflakeIdGenerator events = SnowflakeIdGenerator.builder(SnowflakeLayout.TWITTER)
 *             .workerIdAssigner(store.workerIdAssigner()).build();
 *     ...
 * }
 * }</pre>
 *
 * <p>Closing the store closes every counter and assigner it handed out (generators built on them then fail
 * with a clear error); the allocator needs no closing of its own.
 */
public interface IdStore extends AutoCloseable {

    /** Where the ids come from, for messages and logs (no password). */
    String describe();

    /**
     * Ids that are the store's own sequence for {@code name}: strictly increasing in real-time order across
     * every client of the store, never repeated; {@link IdGenerator#nextIds(int)} reserves a batch in one
     * request where the store can. Every call returns a generator on the same sequence.
     *
     * @throws IllegalArgumentException if {@code name} is not a valid tag ({@link SegmentAllocator#checkTag})
     * @throws IdSourceUnavailableException if the store cannot be reached, or does not keep the sequence safe
     *     from rewinding (the message says what to change)
     * @throws IllegalStateException if the store is closed
     */
    IdGenerator counter(String name);

    /**
     * Ranges of ids per tag, for {@code SegmentIdGenerator}; one allocator per store, safe for many threads.
     *
     * @throws IllegalStateException if the store is closed
     */
    SegmentAllocator segmentAllocator();

    /**
     * Worker ids for snowflake generators, leased on the store; one assigner per store.
     *
     * @throws IllegalStateException if the store is closed
     */
    WorkerIdAssigner workerIdAssigner();

    /** Closes what this store handed out and its connection; idempotent. */
    @Override
    void close();
}
