package io.distkit.id.backends;

import io.distkit.id.IdSourceUnavailableException;
import java.util.OptionalLong;
import java.util.Set;

/**
 * SPI: where a backend keeps the high-water mark of each worker id ({@link
 * io.distkit.id.WorkerLease#lastTimestamp()}), next to the lock that leases the worker id.
 *
 * <p>Every access is <em>fenced</em> by the fencing token of the lock: a holder whose lock was taken
 * over (it expired while the holder was paused or cut off) has a lower token than the new holder, and
 * must not be able to change the mark once the new holder has read it. So the store keeps, with the
 * mark, the token of the latest holder it heard from, and refuses a lower one.
 *
 * <p>Implementations are safe for use by many threads at once; they never cache a mark.
 */
public interface WorkerMarkStore {

    /** The store's short name for {@link IdSourceUnavailableException}, such as a table or key prefix. */
    String source();

    /** Where the marks are, for messages (the table and the database, the server...). */
    String describe();

    /**
     * The mark of the worker id held as lock {@code lockName} by the acquisition with {@code fencingToken},
     * which has just taken the lock; 0 if none was ever saved. From this call on, a save with a lower token
     * changes nothing.
     *
     * @return the mark, or empty if a holder with a higher token has taken the worker id since (the lock
     *     expired between its grant and this call)
     * @throws IdSourceUnavailableException if the store cannot be reached
     */
    OptionalLong read(String lockName, long fencingToken);

    /**
     * Raises the mark of the worker id held as {@code lockName} to {@code timestamp}, if it is lower, and
     * persists it before returning true (it survives a crash of the store where the store can promise that).
     *
     * @return false, changing nothing, if a holder with a higher token has taken the worker id
     * @throws IdSourceUnavailableException if the store cannot be reached; whether the value was saved is
     *     unknown
     */
    boolean save(String lockName, long fencingToken, long timestamp);

    /**
     * A hint, read in one request: the lock names under {@code namePrefix} whose locks are held now as far
     * as the store can tell, so that an acquire tries the others first instead of one lock attempt per
     * busy worker id. Only the order of the attempts depends on it: a stale answer costs attempts, never
     * safety. Default: nothing known (every worker id is tried in order).
     *
     * @throws IdSourceUnavailableException if the store cannot be reached
     */
    default Set<String> heldLockNames(String namePrefix) {
        return Set.of();
    }
}
