package io.distkit.lock.spi;

import io.distkit.lock.LockOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The primitive a lock backend implements; {@link LockEngine} builds the whole {@link
 * io.distkit.lock.LockClient} on top. Every method is non-blocking: results come as stages that
 * always complete (backends bound their network calls with their own timeouts).
 *
 * @param <S> the backend's record of one held lease (owner value, key, node path...); its
 *     {@code equals} must identify one lease
 */
public interface LockBackend<S> {

    /** Short description for messages and logs, e.g. {@code redis 127.0.0.1:6379}. */
    String describe();

    /**
     * Called once by the engine before anything else, with the callback through which the backend
     * reports leases it knows are lost (a session expired, a lease revoked).
     */
    default void start(LeaseEvents<S> events) {}

    /**
     * Refuses options this backend cannot honour (a lease below the server minimum, say).
     *
     * @throws IllegalArgumentException naming the option, the value and the rule
     */
    default void validate(LockOptions options) {}

    /** Whether {@link LockMode#READ} and {@link LockMode#WRITE} requests are supported. */
    default boolean supportsReadWrite() {
        return false;
    }

    /**
     * How long attempts may answer {@link Attempt#unavailable} in a row before the engine makes the latest
     * cause the acquisition's failure, even while the caller would wait longer: a leader election passes in
     * seconds, a cluster that stays without a leader is an outage the caller must hear about. Measured from
     * the first such answer of the run; any other answer starts it afresh.
     */
    default Duration unavailableLimit() {
        return Duration.ofSeconds(30);
    }

    /**
     * Whether this backend completes its stages on its driver's I/O threads (an event loop that also
     * delivers other replies). The engine then hands {@code acquireAsync} results to the user on its
     * own scheduler, so a user's callback that blocks cannot stall the backend; the blocking calls
     * ({@code acquire}, {@code tryAcquire}, {@code release}) wait on the stage directly and pay no
     * thread hand-off. A backend that answers false completes on threads where a blocking callback
     * harms nobody else.
     */
    default boolean completesOnIoThreads() {
        return false;
    }

    /** Starts one acquire call; cheap, no I/O needed. */
    Acquisition<S> newAcquisition(LockRequest request);

    /**
     * Extends one lease by {@code leaseTime} from now, if it is still ours.
     *
     * @return true if extended; false if the lock is no longer ours (expired, deleted, taken);
     *     exceptionally if the backend could not say
     */
    CompletionStage<Boolean> renew(S lease, Duration leaseTime);

    /**
     * Extends many leases, one result each in the same order. Override to do it in one round trip;
     * the default renews one by one. A failed element fails the whole stage. An element may be {@code null}:
     * the backend cannot say for that lease alone (a quorum backend whose nodes answered for some leases but
     * not for this one); the engine treats it as a failed renewal of that lease only, keeps its deadline and
     * tries again before it, while the other leases of the batch are extended or lost as answered.
     */
    default CompletionStage<List<Boolean>> renewAll(List<S> leases, List<Duration> leaseTimes) {
        List<CompletableFuture<Boolean>> each = new ArrayList<>(leases.size());
        for (int i = 0; i < leases.size(); i++) {
            each.add(renew(leases.get(i), leaseTimes.get(i)).toCompletableFuture());
        }
        return CompletableFuture.allOf(each.toArray(CompletableFuture[]::new))
                .thenApply(ignored -> each.stream().map(CompletableFuture::join).toList());
    }

    /**
     * Releases a lease if it is still ours; never touches a lock that someone else holds now.
     *
     * @return true if it was ours and is gone now; false if it was no longer ours
     */
    CompletionStage<Boolean> release(S lease);

    /**
     * {@link #release} for a caller whose thread waits for the answer anyway (a user's {@code
     * release()}): a backend whose I/O blocks (JDBC) may do the work right here instead of handing it
     * to a thread of its own, which saves two thread wake-ups. Its own timeouts must then bound the
     * call. Default: {@link #release}.
     */
    default CompletionStage<Boolean> releaseOnCallerThread(S lease) {
        return release(lease);
    }

    /** Called once when the client closes, after its leases were released. Closes what the backend opened. */
    default void close() {}

    /** How a backend reports leases it knows are lost. */
    @FunctionalInterface
    interface LeaseEvents<S> {
        /**
         * Marks every held lease matching {@code affected} as lost; their handles turn invalid and
         * their listeners fire. The engine does not try to release them.
         */
        void lost(java.util.function.Predicate<? super S> affected, String reason);
    }
}
