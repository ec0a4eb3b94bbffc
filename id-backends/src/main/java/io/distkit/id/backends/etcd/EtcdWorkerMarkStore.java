package io.distkit.id.backends.etcd;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.backends.WorkerMarkStore;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The high-water marks of worker ids in etcd: per lock name one key {@code <keyPrefix>worker-mark/<lock name>}
 * whose value is {@code "<fencing token> <mark>"}, the token of the latest holder heard from. Reads and saves
 * are compare-and-swap transactions on the key's mod revision: a holder with a lower token than the key's
 * changes nothing, and a holder's read raises the key's token to its own first, so the holder it took over from
 * can no longer save. etcd persists every acknowledged write before it answers.
 */
final class EtcdWorkerMarkStore implements WorkerMarkStore {

    /** Transactions one read or save tries before it gives up: each lost one means another holder wrote. */
    static final int MAX_ATTEMPTS = 16;

    private final KV kv;
    private final String markPrefix;
    private final String lockPrefix;
    private final EtcdCalls calls;

    /**
     * @param markPrefix what the mark keys start with, {@code <keyPrefix>worker-mark/}
     * @param lockPrefix the key prefix of the lock client that holds the worker ids (for {@link #heldLockNames})
     */
    EtcdWorkerMarkStore(KV kv, String markPrefix, String lockPrefix, EtcdCalls calls) {
        this.kv = kv;
        this.markPrefix = markPrefix;
        this.lockPrefix = lockPrefix;
        this.calls = calls;
    }

    @Override
    public String source() {
        return markPrefix;
    }

    @Override
    public String describe() {
        return "keys " + markPrefix + "<lock name> of " + calls.describe();
    }

    private record Mark(long token, long timestamp, long modRevision) {}

    @Override
    public OptionalLong read(String lockName, long fencingToken) {
        ByteSequence key = EtcdCalls.bytes(markPrefix + lockName);
        String what = "reading the last timestamp of " + lockName;
        @Nullable Mark mark = mark(lockName, calls.await(kv.get(key), markPrefix, what).getKvs());
        for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
            if (mark != null && mark.token() > fencingToken) {
                return OptionalLong.empty();
            }
            long timestamp = mark == null ? 0 : mark.timestamp();
            if (mark != null && mark.token() == fencingToken) {
                return OptionalLong.of(timestamp);
            }
            TxnResponse txn = swap(key, mark, fencingToken, timestamp, what);
            if (txn.isSucceeded()) {
                return OptionalLong.of(timestamp);
            }
            mark = refused(lockName, txn);
        }
        throw contended(lockName, what);
    }

    @Override
    public boolean save(String lockName, long fencingToken, long timestamp) {
        ByteSequence key = EtcdCalls.bytes(markPrefix + lockName);
        String what = "saving last timestamp " + timestamp + " of " + lockName;
        @Nullable Mark mark = mark(lockName, calls.await(kv.get(key), markPrefix, what).getKvs());
        for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
            if (mark != null && mark.token() > fencingToken) {
                return false;
            }
            if (mark != null && mark.token() == fencingToken && mark.timestamp() >= timestamp) {
                return true; // persisted already
            }
            long raised = mark == null ? timestamp : Math.max(mark.timestamp(), timestamp);
            TxnResponse txn = swap(key, mark, fencingToken, raised, what);
            if (txn.isSucceeded()) {
                return true;
            }
            mark = refused(lockName, txn);
        }
        throw contended(lockName, what);
    }

    /** Puts {@code "<token> <timestamp>"} if the key is still as {@code seen}; else reads it back. */
    private TxnResponse swap(ByteSequence key, @Nullable Mark seen, long token, long timestamp, String what) {
        Cmp unchanged = seen == null ? new Cmp(key, Cmp.Op.EQUAL, CmpTarget.createRevision(0))
                : new Cmp(key, Cmp.Op.EQUAL, CmpTarget.modRevision(seen.modRevision()));
        return calls.await(kv.txn().If(unchanged)
                .Then(Op.put(key, EtcdCalls.bytes(token + " " + timestamp), PutOption.DEFAULT))
                .Else(Op.get(key, GetOption.DEFAULT))
                .commit(), markPrefix, what);
    }

    private @Nullable Mark refused(String lockName, TxnResponse txn) {
        List<GetResponse> gets = txn.getGetResponses();
        return gets.isEmpty() ? null : mark(lockName, gets.get(0).getKvs());
    }

    private @Nullable Mark mark(String lockName, List<KeyValue> kvs) {
        if (kvs.isEmpty()) {
            return null;
        }
        KeyValue kv = kvs.get(0);
        String text = EtcdCalls.text(kv.getValue());
        String[] parts = text.split(" ", -1);
        try {
            if (parts.length == 2) {
                long token = Long.parseLong(parts[0]);
                long timestamp = Long.parseLong(parts[1]);
                if (token >= 0 && timestamp >= 0) {
                    return new Mark(token, timestamp, kv.getModRevision());
                }
            }
        } catch (NumberFormatException e) {
            // described below
        }
        throw new IdGenerationException("etcd key " + markPrefix + lockName + " on " + calls.describe() + " holds '"
                + (text.length() > 40 ? text.substring(0, 40) + "..." : text).replaceAll("\\p{Cntrl}", "?")
                + "', not '<fencing token> <last timestamp>' as distkit writes it: another program writes there;"
                + " give the assigner a key prefix of its own");
    }

    private IdSourceUnavailableException contended(String lockName, String what) {
        return new IdSourceUnavailableException(markPrefix, what + " on " + calls.describe() + " lost "
                + MAX_ATTEMPTS + " transactions in a row to other writers of key " + markPrefix + lockName
                + "; retry", null);
    }

    /** The worker-id locks held now: one keys-only range read of the lock keys under {@code namePrefix}. */
    @Override
    public Set<String> heldLockNames(String namePrefix) {
        String prefix = lockPrefix + encode(namePrefix);
        GetResponse keys = calls.await(kv.get(EtcdCalls.bytes(prefix),
                GetOption.builder().isPrefix(true).withKeysOnly(true).build()), markPrefix, "reading the held worker ids");
        Set<String> names = new HashSet<>();
        for (KeyValue key : keys.getKvs()) {
            String rest = EtcdCalls.text(key.getKey()).substring(lockPrefix.length());
            int slash = rest.indexOf('/');
            String encoded = slash < 0 ? rest : rest.substring(0, slash);
            String name = decode(encoded);
            if (name != null) {
                names.add(name);
            }
        }
        return names;
    }

    /**
     * A lock name as lock-etcd puts it into its keys: {@code '%'} and {@code '/'} percent-encoded (a mirror of
     * lock-etcd's key layout, {@code <keyPrefix><encoded name>/<client>/<slot>}; only the order of acquire's
     * attempts depends on it).
     */
    static String encode(String name) {
        return name.replace("%", "%25").replace("/", "%2F");
    }

    /** The name {@link #encode} made, or null for a key part that is no lock name (a read-write lock's). */
    static @Nullable String decode(String encoded) {
        StringBuilder out = new StringBuilder(encoded.length());
        for (int i = 0; i < encoded.length(); i++) {
            char c = encoded.charAt(i);
            if (c != '%') {
                out.append(c);
            } else if (encoded.startsWith("%25", i)) {
                out.append('%');
                i += 2;
            } else if (encoded.startsWith("%2F", i)) {
                out.append('/');
                i += 2;
            } else {
                return null;
            }
        }
        return out.toString();
    }
}
