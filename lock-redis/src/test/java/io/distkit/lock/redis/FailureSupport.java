package io.distkit.lock.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockLostException;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.history.CheckResult;
import io.distkit.testkit.history.History;
import io.distkit.testkit.history.Op;
import io.distkit.testkit.server.RedisServer;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * What the Redis failure tests share: server-side lock state read straight from Redis, expiry bounds
 * from {@code PTTL}, a {@link History} of in-JVM holders with their losses, seeds, and bounded async
 * helpers. Every time here is on the {@link System#nanoTime()} scale, which the histories use too.
 */
final class FailureSupport {

    static final long MS = 1_000_000L;

    private FailureSupport() {}

    /** Lease options: renewal every lease/3 unless said otherwise. */
    static LockOptions lease(Duration lease) {
        return LockOptions.builder().leaseTime(lease).build();
    }

    static LockOptions lease(Duration lease, boolean autoRenew) {
        return LockOptions.builder().leaseTime(lease).autoRenew(autoRenew).build();
    }

    /** The client's drift allowance for {@code lease} (the engine's: 1% + 2 ms), in nanoseconds. */
    static long drift(Duration lease) {
        return lease.toNanos() / 100 + 2 * MS;
    }

    /** A key prefix of its own, so that one test's keys and commands are told apart from the rest. */
    static String freshPrefix() {
        return "fail:" + UUID.randomUUID() + ":";
    }

    /**
     * The seed of a test's random choices, printed so that a failing run can be repeated:
     * {@code -Ddistkit.seed=N} fixes it.
     */
    static long seed(String test) {
        String fixed = System.getProperty("distkit.seed");
        long seed = fixed != null ? Long.parseLong(fixed) : new SecureRandom().nextLong();
        System.out.println(test + ": seed " + seed + " (repeat with -Ddistkit.seed=" + seed + ")");
        return seed;
    }

    // ---- server-side state ------------------------------------------------------------------------

    /** What Redis holds for one lock: owner value, fence counter, remaining TTL ({@code -2}: no key). */
    record LockState(@Nullable String owner, @Nullable String fence, long pttl) {}

    static LockState state(RedisServer server, LockKeys keys) {
        return new LockState((String) server.call("GET", keys.lock()), (String) server.call("GET", keys.fence()),
                (Long) server.call("PTTL", keys.lock()));
    }

    /**
     * Checks that a stale holder's operation left the current holder's lock as it was: same owner value
     * and fence, still alive, and its TTL not above {@code maxPttl} (the current holder's own lease: a
     * stale renewal with a longer lease would push it above). A check that returns its verdict instead of
     * throwing, so that a negative control can show it fails.
     */
    static CheckResult untouched(RedisServer server, LockKeys keys, LockState before, long maxPttl) {
        return untouched(server, keys, before, 0, maxPttl);
    }

    /** {@link #untouched(RedisServer, LockKeys, LockState, long)} with a TTL that must also stay above {@code minPttl}. */
    static CheckResult untouched(RedisServer server, LockKeys keys, LockState before, long minPttl, long maxPttl) {
        LockState now = state(server, keys);
        List<String> violations = new ArrayList<>();
        if (now.owner() == null || !now.owner().equals(before.owner())) {
            violations.add("owner of " + keys.lock() + " changed from " + before.owner() + " to " + now.owner());
        }
        if (now.fence() == null || !now.fence().equals(before.fence())) {
            violations.add("fence of " + keys.lock() + " changed from " + before.fence() + " to " + now.fence());
        }
        if (now.pttl() <= minPttl || now.pttl() > maxPttl) {
            violations.add("TTL of " + keys.lock() + " is " + now.pttl() + " ms, expected within (" + minPttl + ", "
                    + maxPttl + "]");
        }
        return new CheckResult("new holder untouched", violations);
    }

    /**
     * When a key expires, bounded from both sides on the nanoTime scale: {@code PTTL} is answered at some
     * server instant between sending and receiving, so the expiry is at least {@code sent + pttl} and at
     * most {@code received + pttl + 1 ms} (milliseconds are truncated).
     */
    record Expiry(long lower, long upper) {}

    static Expiry expiry(RedisServer server, String key) {
        long sent = System.nanoTime();
        long pttl = (Long) server.call("PTTL", key);
        long received = System.nanoTime();
        assertThat(pttl).as("PTTL of %s", key).isPositive();
        return new Expiry(sent + pttl * MS, received + (pttl + 1) * MS);
    }

    /** The handle's local lease deadline on the nanoTime scale (the handle shows it as an Instant). */
    static long deadlineNanos(LockHandle handle) {
        Instant now = Instant.now();
        long nanoNow = System.nanoTime();
        return nanoNow + Duration.between(now, handle.leaseDeadline()).toNanos();
    }

    /** Waits for the handle's deadline to move forward by more than 300 ms: a renewal's reply arrived. */
    static void awaitRenewalReply(LockHandle handle) {
        long before = deadlineNanos(handle);
        org.awaitility.Awaitility.await().pollInterval(Duration.ofMillis(1)).atMost(Duration.ofSeconds(3))
                .until(() -> deadlineNanos(handle) - before > 300 * MS);
    }

    // ---- fences without the safeguards: negative controls ----------------------------------------------

    /**
     * A lock whose fence is a plain counter, never seeded: {@code SET NX PX}, then {@code INCR}. KEYS: lock,
     * fence; ARGV: owner, lease ms. Returns the token, or -1 if taken. A restart without persistence starts
     * it from 1 again.
     */
    static final String PLAIN_COUNTER_ACQUIRE = """
            if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
              return redis.call('INCR', KEYS[2])
            end
            return -1
            """;

    /**
     * The fence as this backend had it before its tokens were floored at the server's time: seeded from
     * {@code TIME} only when missing, then {@code INCR}. Same keys, arguments and answer as
     * {@link #PLAIN_COUNTER_ACQUIRE}. A failover that loses the last increment issues that token again.
     */
    static final String SEEDED_COUNTER_ACQUIRE = """
            if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
              if redis.call('EXISTS', KEYS[2]) == 0 then
                local now = redis.call('TIME')
                redis.call('SET', KEYS[2], now[1] .. string.format('%06d', tonumber(now[2])))
              end
              return redis.call('INCR', KEYS[2])
            end
            return -1
            """;

    /** Runs one of the control scripts; returns the token, or -1 if the lock was taken. */
    static long controlAcquire(RedisServer server, String script, LockKeys keys, String owner, Duration lease) {
        return (Long) server.call("EVAL", script, "2", keys.lock(), keys.fence(), owner, Long.toString(lease.toMillis()));
    }

    /** Calls of one command so far, from {@code INFO commandstats}. */
    static long calls(RedisServer server, String command) {
        String stats = (String) server.call("INFO", "commandstats");
        String prefix = "cmdstat_" + command + ":calls=";
        for (String line : stats.split("\r\n")) {
            if (line.startsWith(prefix)) {
                return Long.parseLong(line.substring(prefix.length(), line.indexOf(',')));
            }
        }
        return 0;
    }

    /**
     * Calls so far of every command but {@code INFO} (the counting itself) and {@code PUBSUB} (a test's
     * own probe), by command name; inner script commands included.
     */
    static java.util.Map<String, Long> commandCounts(RedisServer server) {
        String stats = (String) server.call("INFO", "commandstats");
        java.util.Map<String, Long> counts = new java.util.TreeMap<>();
        for (String line : stats.split("\r\n")) {
            if (line.startsWith("cmdstat_") && !line.startsWith("cmdstat_info:") && !line.startsWith("cmdstat_pubsub")) {
                int from = line.indexOf(":calls=") + ":calls=".length();
                counts.put(line.substring("cmdstat_".length(), line.indexOf(':')),
                        Long.parseLong(line.substring(from, line.indexOf(',', from))));
            }
        }
        return counts;
    }

    /** {@code after - before} per command, commands that did not change left out. */
    static java.util.Map<String, Long> difference(java.util.Map<String, Long> before, java.util.Map<String, Long> after) {
        java.util.Map<String, Long> difference = new java.util.TreeMap<>();
        after.forEach((command, calls) -> {
            long delta = calls - before.getOrDefault(command, 0L);
            if (delta != 0) {
                difference.put(command, delta);
            }
        });
        return difference;
    }

    // ---- async -------------------------------------------------------------------------------------

    /** Runs {@code body} on a daemon thread of its own (the common pool may have one thread on 2 cores). */
    static <T> CompletableFuture<T> async(String name, Callable<T> body) {
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
    static <T> T await(CompletableFuture<T> future, Duration timeout) throws Exception {
        try {
            return future.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        } catch (TimeoutException e) {
            throw new AssertionError("nothing within " + timeout, e);
        }
    }

    // ---- histories -----------------------------------------------------------------------------------

    /**
     * A history of holders in this JVM: acquisitions (OK with the token, FAIL when busy, INFO when the
     * outcome is unknown), releases, and each loss as a LOST op carrying the holder's local deadline, the
     * moment it stopped believing it held the lock.
     */
    static final class Recorder {
        final History history = new History();

        Optional<Held> tryAcquire(String process, DistributedLock lock, Duration wait) throws InterruptedException {
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
        Held acquire(String process, DistributedLock lock, Duration wait) throws InterruptedException {
            return tryAcquire(process, lock, wait)
                    .orElseThrow(() -> new AssertionError(process + " did not get " + lock.name() + " within " + wait));
        }

        /** Opens a fault window; the note's first word names the fault ({@link Op#RESTART}, ...). */
        Op faultStart(String note) {
            return history.faultStart("test", null, note);
        }

        void faultEnd(Op start) {
            history.faultEnd(start);
        }
    }

    /** One acquired handle and what became of it. */
    static final class Held {
        final String process;
        final LockHandle handle;
        final long token;
        /** nanoTime right after the acquire returned: later than the grant, never earlier. */
        final long acquiredAt;
        /** nanoTime when the handle's onLost listener ran. */
        final CompletableFuture<Long> lostAt = new CompletableFuture<>();
        private final Recorder recorder;

        Held(Recorder recorder, String process, LockHandle handle, long acquiredAt) {
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
        long awaitLost(Duration timeout) throws Exception {
            return await(lostAt, timeout);
        }

        /** Releases; must succeed. */
        void release() {
            History.Pending call = recorder.history.invoke(process, Op.Type.RELEASE, handle.lockName(), token, Op.NONE);
            handle.release();
            call.ok();
        }

        /** Releases, which must throw {@link LockLostException}; returns it (its message has the reason). */
        LockLostException releaseLost() {
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
