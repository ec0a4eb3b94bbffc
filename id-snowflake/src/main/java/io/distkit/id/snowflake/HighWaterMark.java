package io.distkit.id.snowflake;

import java.time.Duration;

/**
 * The bound on the timestamps a {@link LockFreeSnowflakeGenerator} may issue, and what keeps it
 * persisted through the worker lease. The generator reads {@link #limit} when a call moves to a new
 * timestamp (one volatile read) and calls {@link #reserveUpTo} only for a timestamp above it.
 *
 * <p>The one implementation users run is {@link TimestampReservation}; the generator takes the
 * implementation through its (package-private) constructor so that tests can run the same history on
 * a deliberately unsafe design and show that their checks catch it.
 */
abstract class HighWaterMark {

    /** Creates the mark of a generator, once the generator may issue ids above {@code startAbove}. */
    @FunctionalInterface
    interface Factory {

        /**
         * @param generator the generator the mark bounds; its state, lease and time are set
         * @param persistInterval the rhythm of the saves ({@link SnowflakeIdGenerator.Builder#persistInterval})
         * @param persistedBefore the timestamp the lease read from its store
         * @param startAbove the timestamp the first id is above
         * @throws RuntimeException as the lease's {@code saveLastTimestamp} throws it, if a first save fails
         */
        HighWaterMark start(LockFreeSnowflakeGenerator generator, Duration persistInterval, long persistedBefore,
                long startAbove);
    }

    /**
     * No id has a timestamp above it. Written only upwards, by the implementation, once what justifies
     * it is persisted; read without a lock by the generator's hot path.
     */
    volatile long limit;

    HighWaterMark(long limit) {
        this.limit = limit;
    }

    /**
     * The slow path of a call that needs {@code timestamp}, above {@link #limit}: returns once the limit
     * covers it, or throws; never returns without that.
     *
     * @throws io.distkit.id.WorkerLeaseLostException if the store says the lease is lost (the generator
     *     is then stopped)
     * @throws io.distkit.id.IdSourceUnavailableException if the limit cannot be moved up now
     */
    abstract void reserveUpTo(long timestamp);

    /**
     * Stops the background work and waits for a save in progress; called once, by the generator's
     * close, after it stopped issuing ids and before it closes the lease. Never throws because the
     * store is unreachable.
     */
    abstract void close();
}
