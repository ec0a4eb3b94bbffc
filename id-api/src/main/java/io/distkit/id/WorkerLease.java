package io.distkit.id;

/**
 * One worker id, leased to one generator by a {@link WorkerIdAssigner}.
 *
 * <p>The lease is valid from acquisition until it is closed, its assigner is closed, or it is
 * <em>lost</em>: renewal found it gone from the store, or could not reach the store before the
 * lease deadline. Loss is final. After loss, another process may hold the same worker id, so a
 * generator must stop issuing ids the moment {@link #isValid()} turns false.
 *
 * <p>The lease also carries a high-water mark, {@link #lastTimestamp()}, so that a new holder of
 * the worker id never issues ids at a time an earlier holder already used (a restart after a
 * backward clock step would otherwise repeat them).
 */
public interface WorkerLease extends AutoCloseable {

    /** The leased worker id, in {@code [0, maxWorkerIds)} as passed to the assigner. */
    int workerId();

    /**
     * True until the lease is closed or lost. A true answer may be stale by up to one renewal
     * round; generators also stop at their own local deadline.
     */
    boolean isValid();

    /**
     * The highest timestamp any earlier holder of this worker id persisted through
     * {@link #saveLastTimestamp(long)}, in the generator's own time unit; 0 if none was ever saved.
     * Read from the store when the lease was acquired and fixed for the life of this lease, so a
     * generator can refuse to start (or wait) while its clock is not above it.
     */
    long lastTimestamp();

    /**
     * Persists {@code timestamp} as the high-water mark of this worker id, so that its next holder
     * starts above it. A value lower than the mark already stored leaves the mark unchanged.
     *
     * @param timestamp a timestamp in the generator's own time unit, not negative
     * @throws IllegalArgumentException if {@code timestamp} is negative
     * @throws WorkerLeaseLostException if the lease is lost or closed; nothing was persisted
     * @throws IdSourceUnavailableException if the store cannot be reached; whether the value was
     *     persisted is unknown
     */
    void saveLastTimestamp(long timestamp);

    /**
     * Registers a listener that runs once, on a library thread (never the caller's), when the lease
     * is lost. It does not run when the lease is closed normally. Registered after the loss, it runs
     * at once, still on a library thread. A listener that throws does not stop the others.
     *
     * @param listener what to run on loss
     */
    void onLost(Runnable listener);

    /**
     * Releases the worker id so that another process can lease it, and stops renewing. The lease
     * turns invalid. Idempotent; never throws because the store is unreachable (the lease then
     * expires on the store by itself).
     */
    @Override
    void close();
}
