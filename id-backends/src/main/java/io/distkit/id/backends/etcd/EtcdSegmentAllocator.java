package io.distkit.id.backends.etcd;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.Segment;
import io.distkit.id.SegmentAllocator;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * Ranges of ids reserved on etcd: one key per tag, {@code <keyPrefix>segment/<tag>}, whose value is the start of
 * the next range in decimal. An allocation reads the key and, in one transaction, puts {@code start + step} if
 * the key's mod revision is still the one read (or, for a tag never allocated, if the key does not exist: it is
 * created at {@link Builder#firstId}). The allocator remembers the value and mod revision its own last
 * transaction left on each tag's key, so that its next allocation of the tag is that one transaction alone (one
 * round trip) unless another allocator moved the key meanwhile. A transaction that finds the key changed gets the new value back in the
 * same reply and tries again (from the second loss on after a short random pause and a fresh read), at most {@value #MAX_ATTEMPTS} times and for no longer
 * than the command timeout.
 *
 * <pre>{@code
 * EtcdSegmentAllocator allocator = EtcdSegmentAllocator.builder(client).build();
 * SegmentIdGenerator items = SegmentIdGenerator.builder(allocator, "items").build();
 * }</pre>
 *
 * <p>Ranges of one tag never overlap, across allocators, processes and restarts: a range is only handed out
 * after the transaction that moved the key past it was applied. A transaction whose reply was lost leaves its
 * range unused: a gap. The ranges one allocator hands out for a tag ascend. etcd persists every acknowledged
 * write before it answers. Thread-safe; every call is bounded by the command timeout.
 */
public final class EtcdSegmentAllocator implements SegmentAllocator, AutoCloseable {

    /** The key prefix used unless {@link Builder#keyPrefix} sets another. */
    public static final String DEFAULT_KEY_PREFIX = EtcdConnection.DEFAULT_KEY_PREFIX;
    /** How long one etcd call may take unless {@link Builder#commandTimeout} sets another: 5 seconds. */
    public static final Duration DEFAULT_COMMAND_TIMEOUT = EtcdConnection.DEFAULT_COMMAND_TIMEOUT;
    /**
     * Transactions one allocation tries before it gives up (sooner if the command timeout has passed since it
     * began): each lost one means another allocator went first.
     */
    public static final int MAX_ATTEMPTS = 100;

    private final Client client;
    private final boolean ownsClient;
    private final KV kv;
    private final String prefix;
    private final EtcdCalls calls;
    private final long firstId;
    private volatile boolean closed;
    /** Per tag, the key as this allocator's last successful transaction left it: its next start, and mod revision. */
    private final Map<String, KeyValueSeen> lastWritten = new ConcurrentHashMap<>();

    /** A tag's key as seen: the value (the next range's start) and the key's mod revision (0: no key). */
    private record KeyValueSeen(long value, long modRevision) {}

    private EtcdSegmentAllocator(Builder b, Client client) {
        this.client = client;
        this.ownsClient = b.connection.ownsClient();
        this.kv = client.getKVClient();
        this.prefix = b.connection.keyPrefix + "segment/";
        this.calls = new EtcdCalls(b.connection.commandTimeout, b.connection.describe());
        this.firstId = b.firstId;
    }

    /** A builder for an allocator on a jetcd client the caller owns (never closed by the allocator). */
    public static Builder builder(Client client) {
        return new Builder(EtcdConnection.of(client));
    }

    /**
     * A builder for an allocator with a jetcd client of its own for these endpoints, closed with the allocator.
     *
     * @throws IllegalArgumentException if there is no endpoint, or one is malformed
     */
    public static Builder builder(String... endpoints) {
        return new Builder(EtcdConnection.of(endpoints));
    }

    /** The etcd key of {@code tag}. */
    public String key(String tag) {
        return prefix + SegmentAllocator.checkTag(tag);
    }

    /**
     * Reserves {@code [start, start + step)} of {@code tag}: exactly {@code step} ids.
     *
     * @throws NullPointerException if {@code tag} is null
     * @throws IllegalArgumentException if {@code tag} is refused by {@link SegmentAllocator#checkTag}, or
     *     {@code step} is not positive
     * @throws IdGenerationException if the ids would pass {@link Long#MAX_VALUE}, or the tag's key holds
     *     something other than a decimal number at least 0; nothing was reserved
     * @throws IdSourceUnavailableException if etcd cannot be reached within the command timeout, or
     *     every transaction until the command timeout (at most {@value #MAX_ATTEMPTS}) lost to other allocators
     * @throws IllegalStateException if the allocator is closed
     */
    @Override
    public Segment allocate(String tag, long step) {
        SegmentAllocator.checkTag(tag);
        SegmentAllocator.checkStep(step);
        if (closed) {
            throw new IllegalStateException("this etcd segment allocator on " + calls.describe() + " is closed");
        }
        String keyText = prefix + tag;
        ByteSequence key = EtcdCalls.bytes(keyText);
        String what = "reserving " + step + " ids of tag '" + tag + "' (key " + keyText + ")";
        long giveUpAt = System.nanoTime() + calls.timeout().toNanos();
        // what this allocator's own last transaction left on the key, else what the key holds now: the transaction
        // checks the mod revision either way, and a stale guess only costs the refusal, which brings the value
        @Nullable KeyValueSeen current = lastWritten.get(tag);
        if (current == null) {
            current = seen(tag, keyText, calls.await(kv.get(key), keyText, what).getKvs());
        }
        int attempt = 1;
        for (; attempt <= MAX_ATTEMPTS; attempt++) {
            long start;
            Cmp unchanged;
            if (current == null) {
                start = firstId;
                unchanged = new Cmp(key, Cmp.Op.EQUAL, CmpTarget.createRevision(0));
            } else {
                start = current.value();
                unchanged = new Cmp(key, Cmp.Op.EQUAL, CmpTarget.modRevision(current.modRevision()));
            }
            if (start > Long.MAX_VALUE - step) {
                throw new IdGenerationException("the ids of tag '" + tag + "' (etcd key " + keyText + " on "
                        + calls.describe() + ") would overflow: the next range starts at " + start + " and a step of "
                        + step + " would pass Long.MAX_VALUE; nothing was reserved");
            }
            TxnResponse txn = calls.await(kv.txn().If(unchanged)
                    .Then(Op.put(key, EtcdCalls.bytes(Long.toString(start + step)), PutOption.DEFAULT))
                    .Else(Op.get(key, GetOption.DEFAULT))
                    .commit(), keyText, what);
            if (txn.isSucceeded()) {
                // the put's mod revision is the transaction's revision
                lastWritten.merge(tag, new KeyValueSeen(start + step, txn.getHeader().getRevision()),
                        (had, now) -> had.modRevision() > now.modRevision() ? had : now); // threads may finish out of order
                return new Segment(tag, start, start + step);
            }
            // another allocator went first: its value came back with the refusal
            List<GetResponse> now = txn.getGetResponses();
            current = now.isEmpty() ? null : seen(tag, keyText, now.get(0).getKvs());
            if (System.nanoTime() - giveUpAt >= 0) {
                break;
            }
            if (attempt >= 2) {
                // lost twice or more: a random pause, longer after each lost race (up to 6.4 ms), so that racers
                // spread out; then the value as it is after the pause, not the one that came with the refusal
                long bound = TimeUnit.MICROSECONDS.toNanos(100L << Math.min(attempt, 6));
                LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(bound / 4, bound));
                current = seen(tag, keyText, calls.await(kv.get(key), keyText, what).getKvs());
            }
        }
        throw new IdSourceUnavailableException(keyText, "no range of tag '" + tag + "' could be reserved on "
                + calls.describe() + " in " + Math.min(attempt, MAX_ATTEMPTS) + " transactions within " + calls.timeout()
                + ": each time another allocator moved the key first; retry, or use larger steps so that allocators"
                + " meet less often", null);
    }

    private @Nullable KeyValueSeen seen(String tag, String keyText, List<KeyValue> kvs) {
        KeyValue kv = first(kvs);
        return kv == null ? null : new KeyValueSeen(parse(tag, keyText, kv.getValue()), kv.getModRevision());
    }

    private static @Nullable KeyValue first(List<KeyValue> kvs) {
        return kvs.isEmpty() ? null : kvs.get(0);
    }

    private long parse(String tag, String keyText, ByteSequence value) {
        String text = EtcdCalls.text(value);
        long start = -1;
        if (!text.isEmpty() && text.length() <= 19 && text.chars().allMatch(c -> c >= '0' && c <= '9')) {
            try {
                start = Long.parseLong(text);
            } catch (NumberFormatException tooLarge) {
                start = -1;
            }
        }
        if (start < 0) {
            String shown = text.length() > 40 ? text.substring(0, 40) + "..." : text;
            throw new IdGenerationException("etcd key " + keyText + " of tag '" + tag + "' on " + calls.describe()
                    + " holds '" + shown.replaceAll("\\p{Cntrl}", "?") + "', not the next id of the tag as a decimal"
                    + " number from 0 to " + Long.MAX_VALUE + ": another program writes there, or it was changed by"
                    + " hand; nothing was reserved. Put the highest id ever handed out for the tag plus one there, or"
                    + " give the allocator a key prefix of its own");
        }
        return start;
    }

    /** Closes the jetcd client if it was made for this allocator; idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (ownsClient) {
            client.close();
        }
    }

    @Override
    public String toString() {
        return "EtcdSegmentAllocator[" + calls.describe() + ", keys " + prefix + "<tag>" + (closed ? ", closed" : "")
                + "]";
    }

    /** Configures an allocator; every setter checks its argument at once. */
    public static final class Builder extends EtcdBuilder<Builder> {
        private long firstId = 1;

        private Builder(EtcdConnection connection) {
            super(connection);
        }

        /**
         * Where the first range of a tag never allocated starts; default 1.
         *
         * @throws IllegalArgumentException if negative
         */
        public Builder firstId(long firstId) {
            if (firstId < 0) {
                throw new IllegalArgumentException("firstId must not be negative, was " + firstId);
            }
            this.firstId = firstId;
            return this;
        }

        /** The allocator; nothing is asked of etcd before the first allocation. */
        public EtcdSegmentAllocator build() {
            return new EtcdSegmentAllocator(this, connection.client());
        }
    }
}
