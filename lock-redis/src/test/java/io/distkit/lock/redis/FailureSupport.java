package io.distkit.lock.redis;

import static io.distkit.testkit.history.LockRecorder.MS;
import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.lock.LockOptions;
import io.distkit.lock.redis.internal.LockKeys;
import io.distkit.testkit.history.CheckResult;
import io.distkit.testkit.server.RedisServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * What the Redis failure tests share beyond {@link io.distkit.testkit.history.LockRecorder} (holder
 * histories, seeds, deadlines, async helpers): server-side lock state read straight from Redis, expiry
 * bounds from {@code PTTL}, control scripts and command counts. Every time here is on the
 * {@link System#nanoTime()} scale, which the histories use too.
 */
final class FailureSupport {

    private FailureSupport() {}

    /** Lease options: renewal every lease/3 unless said otherwise. */
    static LockOptions lease(Duration lease) {
        return LockOptions.builder().leaseTime(lease).build();
    }

    static LockOptions lease(Duration lease, boolean autoRenew) {
        return LockOptions.builder().leaseTime(lease).autoRenew(autoRenew).build();
    }

    /** A key prefix of its own, so that one test's keys and commands are told apart from the rest. */
    static String freshPrefix() {
        return "fail:" + UUID.randomUUID() + ":";
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
}
