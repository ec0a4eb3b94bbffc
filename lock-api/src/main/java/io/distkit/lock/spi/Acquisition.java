package io.distkit.lock.spi;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The backend's side of one acquire call: the attempts it makes and the state they leave behind
 * (a pub/sub subscription, a queue node, a waiting key). The engine calls {@link #attempt()} until
 * it is acquired or the caller's wait is over, never two at once, then {@link #finish} exactly once.
 *
 * @param <S> the backend's record of a held lease
 */
public interface Acquisition<S> {

    /**
     * Tries once. Completes with {@link Attempt.Acquired} or {@link Attempt.Busy}, or exceptionally
     * when the backend fails. Must complete (backends bound their calls with their own timeouts).
     * An exceptional completion may hide an attempt that took effect: {@link #finish}{@code (false)}
     * then has to resolve it.
     */
    CompletionStage<Attempt<S>> attempt();

    /**
     * Ends the acquisition. With {@code acquired} true the lease now belongs to the engine, which
     * renews and releases it; remove only waiting state. With {@code acquired} false remove everything
     * this acquisition may have created, including a lock that an attempt whose reply was lost may
     * have taken (resolve it by the request's owner value, never by assuming either way).
     *
     * @return completes when the cleanup is done; failures are logged, not thrown to the caller
     */
    default CompletionStage<Void> finish(boolean acquired) {
        return CompletableFuture.completedFuture(null);
    }
}
