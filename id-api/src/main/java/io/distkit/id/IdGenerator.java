package io.distkit.id;

/**
 * A source of unique 64-bit ids.
 *
 * <p><b>Uniqueness.</b> No id is returned twice by any generator of the same source (the same
 * store, key, tag, or worker-id space), whether the generators live in one process or many, and
 * whether they were restarted in between. Ids are never negative. Gaps are allowed: ids handed out
 * to a generator that crashes before returning them are simply never seen.
 *
 * <p><b>Order.</b> Whether ids increase is promised by each implementation, not by this
 * interface. Implementations that promise order promise at least this: the ids one generator
 * returns to one thread strictly increase, and a generator that replaces a crashed or closed one
 * starts above every id the old one returned.
 *
 * <p><b>Failures.</b> When a generator cannot return an id that it is sure is unique, it throws an
 * {@link IdGenerationException} instead: {@link ClockMovedBackwardsException},
 * {@link WorkerLeaseLostException} or {@link IdSourceUnavailableException}. It never returns a
 * possibly duplicated id.
 *
 * <p>Implementations are safe for use by many threads at once.
 */
public interface IdGenerator {

    /** Largest {@code count} accepted by {@link #nextIds(int)}. */
    int MAX_BATCH = 1_000_000;

    /**
     * Returns the next id.
     *
     * @return an id never returned before by any generator of this source, never negative
     * @throws ClockMovedBackwardsException if the clock moved back further than the implementation
     *     is willing to wait out
     * @throws WorkerLeaseLostException if this generator's worker id is no longer leased to it
     * @throws IdSourceUnavailableException if the backing store cannot be reached in time
     * @throws IdGenerationException for any other failure to produce an id known to be unique
     */
    long nextId();

    /**
     * Returns {@code count} ids at once, with the same uniqueness (and, where the implementation
     * promises it, ordering) as {@code count} calls of {@link #nextId()} made one after another by
     * the calling thread. Backends that can reserve a batch in one round trip override this.
     *
     * <p>This default calls {@link #nextId()} {@code count} times. If one of those calls throws, the
     * ids obtained before it are dropped: they become a gap, never a duplicate.
     *
     * @param count how many ids, from 1 to {@link #MAX_BATCH}
     * @return a new array of {@code count} distinct ids
     * @throws IllegalArgumentException if {@code count} is below 1 or above {@link #MAX_BATCH}
     * @throws IdGenerationException as {@link #nextId()} does
     */
    default long[] nextIds(int count) {
        checkBatchCount(count);
        long[] ids = new long[count];
        for (int i = 0; i < count; i++) {
            ids[i] = nextId();
        }
        return ids;
    }

    /**
     * Checks a {@code count} argument of {@link #nextIds(int)}, for implementations that override it
     * and must refuse the same values with the same message.
     *
     * @param count the requested batch size
     * @return {@code count}, when it is in range
     * @throws IllegalArgumentException if {@code count} is below 1 or above {@link #MAX_BATCH}; the
     *     message names the argument, the value and the allowed range
     */
    static int checkBatchCount(int count) {
        if (count < 1 || count > MAX_BATCH) {
            throw new IllegalArgumentException(
                    "count must be between 1 and " + MAX_BATCH + " (IdGenerator.MAX_BATCH), was " + count);
        }
        return count;
    }
}
