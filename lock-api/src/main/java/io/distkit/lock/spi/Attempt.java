package io.distkit.lock.spi;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletionStage;
import org.jspecify.annotations.Nullable;

/**
 * The outcome of one acquisition attempt: the lock was taken, someone else holds it, or the backend cannot
 * say for the moment.
 *
 * @param <S> the backend's record of a held lease
 */
public sealed interface Attempt<S> {

    /** The lock is ours, with this fencing token; {@code lease} is what renew and release need. */
    static <S> Attempt<S> acquired(long fencingToken, S lease) {
        return new Acquired<>(fencingToken, lease, Duration.ZERO);
    }

    /**
     * The lock is ours, under a server-side lease that was last restarted {@code leaseAge} before this
     * attempt was made: a lease shared by several locks (an etcd session) that the backend did not
     * restart for this grant, because enough of it was left. The engine counts the local deadline and
     * the first renewal from that earlier moment, so a backend need not spend a round trip restarting
     * the lease on every acquire.
     *
     * @param leaseAge how long before the attempt the lease last ran a full lease time; zero if the
     *     attempt itself started or restarted it
     */
    static <S> Attempt<S> acquired(long fencingToken, S lease, Duration leaseAge) {
        return new Acquired<>(fencingToken, lease, leaseAge);
    }

    /**
     * Someone else holds the lock. The engine tries again when {@code wakeUp} completes (a release
     * notification, a watch event) or after {@code retryAfter} (the holder's remaining lease: a
     * crashed holder notifies nobody), whichever comes first, within the caller's wait.
     *
     * @param retryAfter when to try again without a notification; null for "only when woken" (the
     *     engine still retries once per lease, in case a notification was lost); zero for "at once"
     *     (say, after preparing a wake-up), which a backend must not answer twice in a row
     * @param wakeUp completes when another attempt is worth making; null if the backend cannot notify
     * @throws IllegalArgumentException if both are null: the waiter would never try again
     */
    static <S> Attempt<S> busy(@Nullable Duration retryAfter, @Nullable CompletionStage<?> wakeUp) {
        return new Busy<>(retryAfter, wakeUp, null);
    }

    /**
     * The backend could not answer, for a reason that passes by itself (a leader election), and the
     * attempt can safely be made again (a request that may have been applied is resolved by the next
     * attempt). While the caller waits, the engine tries again after {@code retryAfter}; a caller that
     * does not wait, or whose wait runs out before a later attempt answered, gets {@code cause} as the
     * acquire's failure, not an empty result: nobody was found holding the lock. Once such answers have
     * come in a row for {@link LockBackend#unavailableLimit()}, the latest cause fails the acquisition.
     */
    static <S> Attempt<S> unavailable(Throwable cause, Duration retryAfter) {
        Objects.requireNonNull(cause, "cause");
        Objects.requireNonNull(retryAfter, "retryAfter");
        return new Busy<>(retryAfter, null, cause);
    }

    /** See {@link Attempt#acquired}. */
    record Acquired<S>(long fencingToken, S lease, Duration leaseAge) implements Attempt<S> {
        public Acquired {
            Objects.requireNonNull(lease, "lease");
            Objects.requireNonNull(leaseAge, "leaseAge");
            if (leaseAge.isNegative()) {
                throw new IllegalArgumentException("leaseAge must not be negative, was " + leaseAge);
            }
        }
    }

    /** See {@link Attempt#busy} and {@link Attempt#unavailable} (which sets {@code unavailable}). */
    record Busy<S>(@Nullable Duration retryAfter, @Nullable CompletionStage<?> wakeUp, @Nullable Throwable unavailable)
            implements Attempt<S> {
        public Busy {
            if (retryAfter == null && wakeUp == null) {
                throw new IllegalArgumentException("a busy attempt needs retryAfter or wakeUp, or nobody would retry");
            }
            if (retryAfter != null && retryAfter.isNegative()) {
                retryAfter = Duration.ZERO;
            }
        }
    }
}
