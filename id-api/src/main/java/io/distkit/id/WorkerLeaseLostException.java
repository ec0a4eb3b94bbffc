package io.distkit.id;

import org.jspecify.annotations.Nullable;

/**
 * The worker id a generator relies on is no longer leased to it (the lease expired while the
 * process was paused or cut off from the store, or the assigner was closed). Another process may
 * own the id now, so this generator stops issuing ids for good; create a new generator, which
 * acquires a fresh lease.
 */
public class WorkerLeaseLostException extends IdGenerationException {

    private final int workerId;

    /**
     * @param workerId the worker id whose lease was lost
     */
    public WorkerLeaseLostException(int workerId) {
        this(workerId, "the lease expired or was taken over", null);
    }

    /**
     * @param workerId the worker id whose lease was lost
     * @param reason why it is considered lost, included in the message
     * @param cause the underlying failure, or null if there is none
     */
    public WorkerLeaseLostException(int workerId, String reason, @Nullable Throwable cause) {
        super("lease on worker id " + workerId + " lost: " + reason
                + "; this generator issues no more ids, create a new one to acquire a fresh worker id", cause);
        this.workerId = workerId;
    }

    /** The worker id whose lease was lost. */
    public int workerId() {
        return workerId;
    }
}
