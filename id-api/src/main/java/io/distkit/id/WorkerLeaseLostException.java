package io.distkit.id;

import org.jspecify.annotations.Nullable;

/**
 * The worker id a generator relies on is no longer leased to it (the lease expired while the
 * process was paused or cut off from the store, or the assigner was closed). Another process may
 * own the id now, so no id is issued under it; the message says what happens next (a generator that
 * leased its worker id from an assigner leases a new one by itself).
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
     * @param reason why it is considered lost and what happens next, included in the message
     * @param cause the underlying failure, or null if there is none
     */
    public WorkerLeaseLostException(int workerId, String reason, @Nullable Throwable cause) {
        super("lease on worker id " + workerId + " lost: " + reason, cause);
        this.workerId = workerId;
    }

    /** The worker id whose lease was lost. */
    public int workerId() {
        return workerId;
    }
}
