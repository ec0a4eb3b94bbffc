package io.distkit.lock.etcd;

import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockException;
import io.etcd.jetcd.common.exception.ClosedClientException;
import io.etcd.jetcd.common.exception.ErrorCode;
import io.etcd.jetcd.common.exception.EtcdException;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Bounds every jetcd call by the command timeout and turns its failures into {@link LockBackendException}s
 * that lead with the cause and name the cluster. The engine needs every stage to complete; jetcd retries
 * unreachable endpoints for a long time by itself.
 */
final class EtcdCalls {

    private final Duration timeout;
    private final String description;

    EtcdCalls(Duration timeout, String description) {
        this.timeout = timeout;
        this.description = description;
    }

    Duration timeout() {
        return timeout;
    }

    String describe() {
        return description;
    }

    /** Starts a call (a synchronous throw becomes a failed stage) and fails it after the command timeout. */
    <T> CompletableFuture<T> call(Supplier<CompletableFuture<T>> call) {
        CompletableFuture<T> started;
        try {
            started = call.get();
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        // a stage of our own: orTimeout on jetcd's future itself would race its completion handlers
        return started.thenApply(value -> value).orTimeout(timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** Whether etcd said the thing asked about does not exist (a lease that expired or was revoked). */
    static boolean isNotFound(Throwable failure) {
        Throwable cause = unwrap(failure);
        if (cause instanceof EtcdException etcd) {
            return etcd.getErrorCode() == ErrorCode.NOT_FOUND;
        }
        // jetcd passes some server errors (a transaction's "requested lease not found") through as gRPC statuses
        return Status.fromThrowable(cause).getCode() == Status.Code.NOT_FOUND;
    }

    static Throwable unwrap(Throwable failure) {
        Throwable cause = failure;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException) && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause;
    }

    /**
     * A {@link LockBackendException} that says what failed, where, and what to check; a {@link LockException}
     * passes through unchanged.
     */
    LockException failure(@Nullable String lockName, String operation, Throwable failure) {
        Throwable cause = unwrap(failure);
        if (cause instanceof LockException lockException) {
            return lockException;
        }
        String message;
        if (cause instanceof TimeoutException) {
            message = operation + " got no reply from " + description + " within " + timeout
                    + ": etcd may be down, paused, without quorum or unreachable, or the network slow";
        } else if (cause instanceof ClosedClientException) {
            message = operation + " failed: the jetcd client of " + description + " is closed";
        } else if (cause instanceof EtcdException etcd) {
            message = operation + " was refused by " + description + " (" + etcd.getErrorCode() + "): "
                    + etcd.getMessage() + (etcd.getErrorCode() == ErrorCode.UNAVAILABLE
                            ? "; check that etcd is running there and reachable from this host (address, port,"
                                    + " firewall, TLS and credentials)" : "");
        } else if (cause instanceof StatusRuntimeException || cause instanceof StatusException) {
            Status status = Status.fromThrowable(cause);
            message = operation + " was refused by " + description + " (" + status.getCode() + "): "
                    + status.getDescription() + (status.getCode() == Status.Code.UNAVAILABLE
                            ? "; check that etcd is running there and reachable from this host (address, port,"
                                    + " firewall, TLS and credentials)" : "");
        } else {
            message = operation + " failed on " + description + ": " + cause;
        }
        if (operation.equals("acquire")) {
            message += "; if the request took effect anyway, the acquisition's key is deleted by its owner value";
        }
        return new LockBackendException(lockName, message, cause);
    }
}
