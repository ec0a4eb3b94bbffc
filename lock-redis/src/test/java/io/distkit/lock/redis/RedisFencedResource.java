package io.distkit.lock.redis;

import io.distkit.testkit.history.FencedRegister;
import io.distkit.testkit.server.RedisServer;
import io.distkit.testkit.server.Resp;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The protected resource of F3 as a network service: a register kept in Redis, written by one script
 * that refuses a token lower than the highest it has accepted (the same rule as {@link FencedRegister})
 * and logs every write, accepted or not, in the order applied. Because it is reached over TCP, a write
 * can be held in a {@link io.distkit.testkit.server.FaultProxy} and arrive late, and the token check
 * happens when it arrives, as at a real fenced store. {@link #writes()} gives the log in the form
 * {@link io.distkit.testkit.history.Checkers#fencedResource(List)} judges.
 *
 * <p>Built with {@code fencing == false} it accepts every write: the negative control.
 */
final class RedisFencedResource {

    /**
     * KEYS: value, highest token, log. ARGV: process, token, value, fencing (1/0). Tokens are below 2^53,
     * exact as Lua numbers. Log lines: {@code process token value accepted(1/0) serverMicros}.
     */
    private static final String WRITE = """
            local high = redis.call('GET', KEYS[2])
            local token = tonumber(ARGV[2])
            local accepted = ARGV[4] == '0' or not high or token >= tonumber(high)
            if accepted then
              redis.call('SET', KEYS[1], ARGV[3])
              if not high or token > tonumber(high) then
                redis.call('SET', KEYS[2], ARGV[2])
              end
            end
            local now = redis.call('TIME')
            redis.call('RPUSH', KEYS[3], ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. (accepted and '1' or '0')
                .. ' ' .. now[1] .. string.format('%06d', tonumber(now[2])))
            if accepted then return 1 end
            return 0
            """;

    private final RedisServer store;
    private final String valueKey;
    private final String highKey;
    private final String logKey;
    private final boolean fencing;

    RedisFencedResource(RedisServer store, String name, boolean fencing) {
        this.store = store;
        this.valueKey = name + ":value";
        this.highKey = name + ":high";
        this.logKey = name + ":log";
        this.fencing = fencing;
    }

    /**
     * Writes through {@code port} (the store's own, or a proxy's in front of it), waiting at most
     * {@code timeout} for the answer.
     *
     * @return whether the resource accepted the write
     */
    boolean write(int port, Duration timeout, String process, long token, long value) {
        Object reply = Resp.call(store.host(), port, timeout, "EVAL", WRITE, "3", valueKey, highKey, logKey, process,
                Long.toString(token), Long.toString(value), fencing ? "1" : "0");
        return Long.valueOf(1).equals(reply);
    }

    /** Writes straight to the store. */
    boolean write(String process, long token, long value) {
        return write(store.port(), Duration.ofSeconds(5), process, token, value);
    }

    long value() {
        Object value = store.call("GET", valueKey);
        return value == null ? 0 : Long.parseLong((String) value);
    }

    /** Every write in the order the resource applied it; times are the store's clock in microseconds. */
    List<FencedRegister.Write> writes() {
        List<FencedRegister.Write> writes = new ArrayList<>();
        for (Object line : (List<?>) store.call("LRANGE", logKey, "0", "-1")) {
            String[] f = ((String) line).split(" ");
            writes.add(new FencedRegister.Write(f[0], Long.parseLong(f[1]), Long.parseLong(f[2]), Long.parseLong(f[4]),
                    f[3].equals("1")));
        }
        return writes;
    }
}
