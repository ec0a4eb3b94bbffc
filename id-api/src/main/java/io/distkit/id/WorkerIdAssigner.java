package io.distkit.id;

/**
 * SPI: leases worker ids to snowflake-style generators so that no two live processes use the same
 * worker id at the same time.
 *
 * <p>The assigner keeps every lease it handed out alive in the background until the lease is
 * closed, the assigner is closed, or renewal fails past the lease deadline; in the last case the
 * lease turns invalid and its {@link WorkerLease#onLost(Runnable) listeners} fire.
 *
 * <p>Implementations are safe for use by many threads at once.
 */
public interface WorkerIdAssigner extends AutoCloseable {

    /**
     * Leases a worker id that no other live lease of the same store holds.
     *
     * @param maxWorkerIds how many worker ids the caller's layout has room for; the id returned is
     *     in {@code [0, maxWorkerIds)}
     * @return a valid lease, kept alive by this assigner
     * @throws IllegalArgumentException if {@code maxWorkerIds} is below 1
     * @throws IdSourceUnavailableException if the store cannot be reached
     * @throws IdGenerationException if every worker id in range is leased to someone else
     * @throws IllegalStateException if this assigner is closed
     */
    WorkerLease acquire(int maxWorkerIds);

    /**
     * Stops renewing and releases every lease this assigner handed out that is still open; those
     * leases turn invalid. Idempotent.
     */
    @Override
    void close();
}
