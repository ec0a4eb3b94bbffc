package io.distkit.testkit.history;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockLostException;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A {@link History} of lock holders in the test's own JVM, for the failure scenarios of docs/failures.md:
 * acquisitions (OK with the token, FAIL when busy, INFO when the outcome is unknown), releases, and each
 * loss as a LOST op carrying the holder's local deadline, the moment it stopped believing it held the lock.
 * Plus the time helpers those tests share, all on the {@link System#nanoTime()} scale the histories use.
 * Backend-neutral: the server-side views (a key's TTL, its owner) stay with each backend's tests.
 */
public final class LockRecorder {

    /** One millisecond in nanoseconds. */
    public static final long MS = 1_000_000L;

    /** The recorded operations. */
    public final History history = new History();

    /** An empty recorder. */
    public LockRecorder() {}

    /** The engine's drift allowance for {@code lease} (1% + 2 ms), in nanoseconds. */
    public static long drift(Duration lease) {
        return lease.toNanos() / 100 + 2 * MS;
    }

    /**
     * The seed of a test's random choices, printed so that a failing run can be repeated:
     * {@code -Ddistkit.seed=N} fixes it.
     */
    public static long seed(String test) {
        String fixed = System.getProperty("distkit.seed");
        long seed = fixed != null ? Long.parseLong(fixed) : new SecureRandom().nextLong();
        System.out.println(test + ": seed " + seed + " (repeat with -Ddistkit.seed=" + seed + ")");
        return seed;
    }

    /** The handle's local lease deadline on the nanoTime scale (the handle shows it as an Instant). */
    public static long deadlineNanos(LockHandle handle) {
        Instant now = Instant.now();
        long nanoNow = System.nanoTime();
        return nanoNow + Duration.between(now, handle.leaseDeadline()).toNanos();
    }

    /** Waits at most 3 s for the handle's deadline to move forward by more than 300 ms: a renewal's reply arrived. */
    public static void awaitRenewalReply(LockHandle handle) {
        long before = deadlineNanos(handle);
        org.awaitility.Awaitility.await().pollInterval(Duration.ofMillis(1)).atMost(Duration.ofSeconds(3))
                .until(() -> deadlineNanos(handle) - before > 300 * MS);
    }

    /** Runs {@code body} on a daemon thread of its own (the common pool may have one thread on 2 cores). */
    public static <T> CompletableFuture<T> async(String name, Callable<T> body) {
        CompletableFuture<T> result = new CompletableFuture<>();
        Thread thread = new Thread(() -> {
            try {
                result.complete(body.call());
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        }, "failure-test-" + name);
        thread.setDaemon(true);
        thread.start();
        return result;
    }

    /** Waits at most {@code timeout} for {@code future}; its failure is rethrown as it is. */
    public static <T> T await(CompletableFuture<T> future, Duration timeout) throws Exception {
        try {
            return future.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        } catch (TimeoutException e) {
            throw new AssertionError("nothing within " + timeout, e);
        }
    }

    /** Tries for at most {@code wait}; records OK with the token, FAIL if busy, INFO if the backend failed. */
    public Optional<Held> tryAcquire(String process, DistributedLock lock, Duration wait) throws InterruptedException {
        History.Pending call = history.invoke(process, Op.Type.ACQUIRE, lock.name());
        Optional<LockHandle> handle;
        try {
            handle = lock.tryAcquire(wait);
        } catch (LockBackendException e) {
            call.info(e.toString());
            throw e;
        }
        if (handle.isEmpty()) {
            call.fail("busy");
            return Optional.empty();
        }
        long acquiredAt = System.nanoTime();
        call.ok(handle.get().fencingToken());
        return Optional.of(new Held(this, process, handle.get(), acquiredAt));
    }

    /** Acquires within {@code wait} or fails the test. */
    public Held acquire(String process, DistributedLock lock, Duration wait) throws InterruptedException {
        return tryAcquire(process, lock, wait)
                .orElseThrow(() -> new AssertionError(process + " did not get " + lock.name() + " within " + wait));
    }

    /** Opens a fault window; the note's first word names the fault ({@link Op#RESTART}, ...). */
    public Op faultStart(String note) {
        return history.faultStart("test", null, note);
    }

    /** Closes the fault window {@code start} opened. */
    public void faultEnd(Op start) {
        history.faultEnd(start);
    }

    /** One acquired handle and what became of it. */
    public static final class Held {
        public final String process;
        public final LockHandle handle;
        public final long token;
        /** nanoTime right after the acquire returned: later than the grant, never earlier. */
        public final long acquiredAt;
        /** nanoTime when the handle's onLost listener ran. */
        public final CompletableFuture<Long> lostAt = new CompletableFuture<>();
        private final LockRecorder recorder;

        Held(LockRecorder recorder, String process, LockHandle handle, long acquiredAt) {
            this.recorder = recorder;
            this.process = process;
            this.handle = handle;
            this.token = handle.fencingToken();
            this.acquiredAt = acquiredAt;
            handle.onLost(() -> {
                lostAt.complete(System.nanoTime());
                recorder.history.lost(process, handle.lockName(), token, deadlineNanos(handle));
            });
        }

        /** Waits at most {@code timeout} for the loss to be reported; returns when its listener ran. */
        public long awaitLost(Duration timeout) throws Exception {
            return await(lostAt, timeout);
        }

        /** Releases; must succeed. */
        public void release() {
            History.Pending call = recorder.history.invoke(process, Op.Type.RELEASE, handle.lockName(), token, Op.NONE);
            handle.release();
            call.ok();
        }

        /** Releases, which must throw {@link LockLostException}; returns it (its message has the reason). */
        public LockLostException releaseLost() {
            History.Pending call = recorder.history.invoke(process, Op.Type.RELEASE, handle.lockName(), token, Op.NONE);
            List<LockLostException> thrown = new ArrayList<>();
            assertThatThrownBy(() -> {
                try {
                    handle.release();
                } catch (LockLostException e) {
                    thrown.add(e);
                    throw e;
                }
            }).as("release by %s of token %d", process, token).isInstanceOf(LockLostException.class);
            call.fail("lost");
            return thrown.get(0);
        }
    }
}
