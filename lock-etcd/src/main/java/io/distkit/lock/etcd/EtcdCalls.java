package io.distkit.lock.etcd;

import io.distkit.common.CallTimeouts;
import io.distkit.common.DaemonThreads;
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
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Bounds every jetcd call by the command timeout and turns its failures into {@link LockBackendException}s
 * that lead with the cause and name the cluster. The engine needs every stage to complete; jetcd retries
 * unreachable endpoints for a long time by itself.
 *
 * <p><b>Threads.</b> A stage this class hands out completes on jetcd's event loop when etcd answers
 * (the engine's and this backend's callbacks are short and never block, and a caller blocked in {@code
 * acquire} or {@code release} wakes straight from there: one thread hand-off per round trip, not two),
 * and on an executor of the backend's own ({@code distkit-etcd-<n>} daemon threads, created as needed and
 * ended when idle) when it times out. Users' {@code acquireAsync} callbacks never run on jetcd's threads:
 * the backend says {@link EtcdLockBackend#completesOnIoThreads() so}, and the engine hands those results
 * over on its own scheduler.
 *
 * <p><b>Timeouts.</b> Every call is bounded by one {@link CallTimeouts} (a queue, not a timer task per
 * call).
 */
final class EtcdCalls {

    private final String description;
    private final ThreadPoolExecutor executor;
    private final CallTimeouts timeouts;

    EtcdCalls(Duration timeout, String description) {
        this.description = description;
        this.executor = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 30, TimeUnit.SECONDS, new SynchronousQueue<>(),
                DaemonThreads.factory("etcd"));
        this.timeouts = new CallTimeouts(timeout, this::execute, "etcd");
    }

    /** Runs the task on the backend's executor, or here if that is shut down. */
    void execute(Runnable task) {
        try {
            executor.execute(task);
        } catch (RejectedExecutionException shutDown) {
            task.run();
        }
    }

    /** Runs the task on the backend's executor after the delay; false if the timer is shut down (nothing runs). */
    boolean schedule(Runnable task, long delayNanos) {
        return timeouts.schedule(task, delayNanos) != null;
    }

    /** Stops the threads; called last, when the backend closes. Stages still pending complete on jetcd's threads. */
    void close() {
        timeouts.close();
        executor.shutdown();
    }

    Duration timeout() {
        return timeouts.timeout();
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
        return bound(started);
    }

    /**
     * A stage of our own that completes like {@code started} or with a {@link TimeoutException} after the
     * command timeout (at most a tick later), whichever comes first (see Threads above). {@code
     * started} itself is left alone (completing jetcd's future would race its own handlers and does not
     * cancel the call).
     */
    <T> CompletableFuture<T> bound(CompletableFuture<T> started) {
        CompletableFuture<T> out = new CompletableFuture<>();
        started.whenComplete((value, failure) -> {
            if (failure != null) {
                out.completeExceptionally(failure);
            } else {
                out.complete(value);
            }
        });
        timeouts.bound(out);
        return out;
    }

    /**
     * What to tell the user when etcd refused to authenticate this client, or null if it did not: jetcd
     * reports a wrong password as {@code UNAUTHENTICATED} without a description (etcd's reason is in the
     * cause chain), and missing credentials as {@code INVALID_ARGUMENT: etcdserver: user name is empty}.
     */
    private @Nullable String credentialsRefusal(Throwable cause) {
        StringBuilder chain = new StringBuilder();
        for (Throwable t = cause; t != null; t = t.getCause()) {
            chain.append(' ').append(t.getMessage());
        }
        String reasons = chain.toString();
        if (reasons.contains("user name is empty")) {
            return description + " has authentication enabled and no user was given: put user:password@ in the"
                    + " etcd:// URI, or call credentials(user, password) on the builder";
        }
        if (Status.fromThrowable(cause).getCode() == Status.Code.UNAUTHENTICATED
                || reasons.contains("authentication failed") || reasons.contains("invalid user ID or password")) {
            return description + " refused the credentials (UNAUTHENTICATED: " + (reasons.contains("authentication failed")
                    ? "authentication failed, invalid user ID or password" : "not authenticated")
                    + "): check the user name and password in the URI or in credentials(user, password)";
        }
        return null;
    }

    /**
     * Whether the cluster could not serve the call for the moment: gRPC {@code UNAVAILABLE}, which etcd
     * answers while it elects a leader ("leader changed", "no leader") and jetcd reports for a member that
     * went away. Not a timeout of ours, and not a refusal (credentials, a missing lease).
     */
    static boolean isUnavailable(Throwable failure) {
        Throwable cause = unwrap(failure);
        if (cause instanceof LockException && cause.getCause() != null) {
            cause = cause.getCause(); // already described by failure(): judge what it describes
        }
        if (cause instanceof EtcdException etcd) {
            return etcd.getErrorCode() == ErrorCode.UNAVAILABLE;
        }
        return Status.fromThrowable(cause).getCode() == Status.Code.UNAVAILABLE;
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
        String refusal = credentialsRefusal(cause);
        if (refusal != null) {
            message = operation + " failed: " + refusal;
            return new LockBackendException(lockName, message, cause); // nothing was applied: no clean-up remark
        } else if (cause instanceof TimeoutException) {
            message = operation + " got no reply from " + description + " within " + timeouts.timeout()
                    + ": etcd may be down, paused, without quorum or unreachable, or the network slow; or the"
                    + " connection never got through its set-up: a TLS server reached with etcd:// (use etcds://),"
                    + " or a server certificate this client does not trust (give its CA: ?ca= or trustCertificates)";
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
