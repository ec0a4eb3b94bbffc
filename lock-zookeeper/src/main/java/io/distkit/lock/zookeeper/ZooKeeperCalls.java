package io.distkit.lock.zookeeper;

import io.distkit.common.CallTimeouts;
import io.distkit.common.DaemonThreads;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.curator.CuratorConnectionLossException;
import org.apache.curator.RetryPolicy;
import org.apache.curator.retry.RetryUntilElapsed;
import org.apache.curator.framework.api.BackgroundCallback;
import org.apache.curator.framework.api.CuratorEvent;
import org.apache.zookeeper.KeeperException;
import org.jspecify.annotations.Nullable;

/**
 * Curator's background calls as stages of our own: each completes with the reply's {@link CuratorEvent}
 * (whatever its result code: the caller decides what "no node" means), or with a {@link TimeoutException}
 * after the command timeout, whichever comes first. A reply completes the stage on Curator's event thread:
 * what runs there (the engine's and this backend's continuations) is short and never blocks, and a caller
 * blocked in {@code acquire} or {@code release} wakes straight from there, one thread hand-off per round trip
 * instead of two. Users' {@code acquireAsync} callbacks never run there: the backend says so
 * ({@link ZooKeeperLockBackend#completesOnIoThreads()}) and the engine hands those results over on its own
 * scheduler. A timeout completes the stage on one of the backend's own threads. Calls are bounded by one
 * {@link CallTimeouts} (a queue, not a timer task per call). Also the one place that turns ZooKeeper
 * failures into messages for users.
 */
final class ZooKeeperCalls {

    /** One Curator background call, started with the callback that receives its reply. */
    @FunctionalInterface
    interface Call {
        void start(BackgroundCallback callback) throws Exception;
    }

    private final String description;
    private final ScheduledThreadPoolExecutor threads;
    private final CallTimeouts timeouts;

    ZooKeeperCalls(Duration timeout, String description) {
        this.description = description;
        this.threads = new ScheduledThreadPoolExecutor(2, DaemonThreads.factory("zookeeper"));
        this.threads.setRemoveOnCancelPolicy(true);
        this.timeouts = new CallTimeouts(timeout, this::execute, "zookeeper");
        // timers (lease ends of private sessions, sweeps) are moot once closed: the backend closed what they would
        this.threads.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    }

    /**
     * The retry policy for Curator clients whose calls we bound with {@code timeout}: Curator retries a call
     * that lost its connection for at most half of it. Curator's retries run on after our call gave up, and a
     * create retried then could make a node after the next attempt looked for one; with a budget below the
     * timeout, no retry is sent after our call timed out.
     */
    static RetryPolicy retryPolicy(Duration timeout) {
        int budget = (int) Math.max(1, Math.min(Integer.MAX_VALUE, timeout.toMillis() / 2));
        return new RetryUntilElapsed(budget, Math.min(100, budget));
    }

    Duration timeout() {
        return timeouts.timeout();
    }

    String describe() {
        return description;
    }

    /** The backend's threads, for work that may block (closing a private session's client). */
    Executor executor() {
        return this::execute;
    }

    /** Runs {@code task} on a backend thread; inline once the backend is closed. */
    void execute(Runnable task) {
        try {
            threads.execute(task);
        } catch (RejectedExecutionException shutDown) {
            task.run();
        }
    }

    /** Runs {@code task} after {@code delay} on a backend thread; not at all once the backend is closed. */
    @Nullable ScheduledFuture<?> schedule(Runnable task, Duration delay) {
        try {
            return threads.schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException shutDown) {
            return null;
        }
    }

    /** Starts a call (a synchronous throw becomes a failed stage) bounded by the command timeout. */
    CompletableFuture<CuratorEvent> call(Call call) {
        CompletableFuture<CuratorEvent> out = new CompletableFuture<>();
        try {
            call.start((client, event) -> out.complete(event));
        } catch (Exception e) {
            out.completeExceptionally(e);
        }
        timeouts.bound(out);
        return out;
    }

    /** {@code event} if it reports success; else throws the {@link KeeperException} its result code stands for. */
    static CuratorEvent ok(CuratorEvent event) {
        KeeperException.Code code = KeeperException.Code.get(event.getResultCode());
        if (code != KeeperException.Code.OK) {
            throw new CompletionException(KeeperException.create(code, event.getPath()));
        }
        return event;
    }

    /** Whether the event reports that the node does not exist. */
    static boolean noNode(CuratorEvent event) {
        return event.getResultCode() == KeeperException.Code.NONODE.intValue();
    }

    /**
     * Stops the threads; called last, when the backend closes. Work already queued (closing a private session)
     * still runs, for at most the command timeout, before the threads are interrupted.
     */
    void close() {
        timeouts.close();
        threads.shutdown();
        try {
            if (!threads.awaitTermination(timeouts.timeout().toMillis(), TimeUnit.MILLISECONDS)) {
                threads.shutdownNow();
            }
        } catch (InterruptedException e) {
            threads.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    static Throwable unwrap(Throwable failure) {
        Throwable cause = failure;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException) && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause;
    }

    /**
     * Whether the ensemble could not serve the call for the moment and a retry may succeed: the connection was
     * lost (a member went away, a leader election), or a session expired and a new one is being made. Not our
     * own timeout, not a refusal.
     */
    static boolean isPassing(Throwable failure) {
        Throwable cause = unwrap(failure);
        if (cause instanceof LockException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof CuratorConnectionLossException) {
            return true;
        }
        if (cause instanceof KeeperException keeper) {
            return switch (keeper.code()) {
                case CONNECTIONLOSS, OPERATIONTIMEOUT, SESSIONEXPIRED, SESSIONMOVED -> true;
                default -> false;
            };
        }
        return false;
    }

    /** Whether the failure is a call of ours that got no reply within the command timeout. */
    static boolean isTimeout(Throwable failure) {
        Throwable cause = unwrap(failure);
        if (cause instanceof LockException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause instanceof TimeoutException;
    }

    /** A {@link LockBackendException} that says what failed, where, and what to check; a {@link LockException} passes. */
    LockException failure(@Nullable String lockName, String operation, Throwable failure) {
        Throwable cause = unwrap(failure);
        if (cause instanceof LockException lockException) {
            return lockException;
        }
        String message;
        if (cause instanceof TimeoutException) {
            message = operation + " got no reply from " + description + " within " + timeouts.timeout()
                    + ": ZooKeeper may be down, without quorum or unreachable, or the network slow";
        } else if (cause instanceof KeeperException keeper) {
            message = operation + " failed on " + description + " (" + keeper.code() + "): " + keeper.getMessage()
                    + (isPassing(keeper) ? "; the connection to the ensemble was lost (check that a quorum of its"
                            + " members runs and is reachable from this host)" : "");
        } else {
            message = operation + " failed on " + description + ": " + cause;
        }
        if (operation.equals("acquire")) {
            message += "; if the request took effect anyway, the acquisition's node is deleted by its owner value";
        }
        return new LockBackendException(lockName, message, cause);
    }
}
