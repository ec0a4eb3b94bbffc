package io.distkit.id.backends.etcd;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.common.exception.ClosedClientException;
import io.etcd.jetcd.common.exception.EtcdException;
import io.grpc.Status;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Waits for jetcd calls no longer than the command timeout (jetcd itself retries an unreachable cluster for a
 * long time) and turns their failures into {@link IdSourceUnavailableException}s that say what failed, where,
 * and what to check.
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

    /** Where the calls go, such as {@code etcd 127.0.0.1:2379}. */
    String describe() {
        return description;
    }

    /** The answer of {@code call}, waited for until the command timeout. */
    <T> T await(CompletableFuture<T> call, String source, String what) {
        return await(call, System.nanoTime() + timeout.toNanos(), source, what);
    }

    /** The answer of {@code call}, waited for until {@code deadline} ({@link System#nanoTime()}). */
    <T> T await(CompletableFuture<T> call, long deadline, String source, String what) {
        try {
            return call.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            call.cancel(false);
            throw new IdSourceUnavailableException(source, what + " got no reply from " + description + " within "
                    + timeout + ": etcd may be down, paused, without quorum or unreachable, or the network slow; or"
                    + " the connection never got through its set-up (a TLS server reached with etcd:// instead of"
                    + " etcds://, or a server certificate this client does not trust)", e);
        } catch (ExecutionException | CompletionException e) {
            throw failure(source, what, e.getCause() == null ? e : e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            call.cancel(false);
            throw new IdGenerationException("interrupted while waiting for etcd (" + what + ", " + description
                    + "); whether the request took effect is unknown", e);
        }
    }

    /** The failure of a call, described. */
    RuntimeException failure(String source, String what, Throwable cause) {
        while ((cause instanceof CompletionException || cause instanceof ExecutionException) && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof IdGenerationException id) {
            return id;
        }
        if (cause instanceof ClosedClientException) {
            return new IllegalStateException(what + " failed: the jetcd client of " + description + " is closed", cause);
        }
        StringBuilder chain = new StringBuilder();
        for (Throwable t = cause; t != null; t = t.getCause()) {
            chain.append(' ').append(t.getMessage());
        }
        String reasons = chain.toString();
        Status.Code code = Status.fromThrowable(cause).getCode();
        String detail;
        if (reasons.contains("user name is empty")) {
            detail = description + " has authentication enabled and no user was given: put user:password@ in the"
                    + " etcd:// URI, or call credentials(user, password) on the builder";
        } else if (code == Status.Code.UNAUTHENTICATED || reasons.contains("authentication failed")
                || reasons.contains("invalid user ID or password")) {
            detail = description + " refused the credentials: check the user name and password";
        } else if (cause instanceof EtcdException etcd) {
            detail = description + " refused it (" + etcd.getErrorCode() + "): " + etcd.getMessage();
        } else if (code == Status.Code.UNAVAILABLE) {
            detail = description + " could not be reached or has no leader (UNAVAILABLE: "
                    + Status.fromThrowable(cause).getDescription() + "); check that etcd is running there and"
                    + " reachable from this host (address, port, firewall, TLS and credentials)";
        } else if (code != Status.Code.UNKNOWN) {
            detail = description + " refused it (" + code + "): " + Status.fromThrowable(cause).getDescription();
        } else {
            detail = "failed on " + description + ": " + cause;
        }
        return new IdSourceUnavailableException(source, what + " failed: " + detail
                + "; whether it took effect is unknown (if it did, its ids are skipped)", cause);
    }

    static ByteSequence bytes(String text) {
        return ByteSequence.from(text, StandardCharsets.UTF_8);
    }

    static String text(ByteSequence bytes) {
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
