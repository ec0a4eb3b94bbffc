package io.distkit.lock.etcd;

import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockOptions;
import io.distkit.lock.spi.Acquisition;
import io.distkit.lock.spi.LockBackend;
import io.distkit.lock.spi.LockRequest;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The etcd lock primitive the engine builds on.
 *
 * <p><b>Store.</b> A lock is the set of keys under {@code <prefix><encoded name>/}, one per acquisition
 * that holds or waits for it: {@code <client tag>/<slot>} ({@link KeyNames}), holding the owner value and
 * attached to the lease of the client's session for that lease time, or of a private session for a lock
 * that is not renewed ({@link Sessions}). A session etcd reports gone is reported to the engine at once
 * ({@link #start}). The holder is the key with the
 * lowest create revision; its create revision is the fencing token. Revisions only grow in an etcd
 * cluster, so tokens do too. The encoded name contains no {@code '/'}, so no name's keys fall under
 * another's prefix.
 *
 * <p><b>Invariant.</b> An acquisition is told it holds the lock only by a transaction that saw its own key,
 * with the create revision it was put with, as the lowest under the name, and the grant tells the engine
 * how long before the attempt its session's lease was last restarted (at most a third of the lease time;
 * older ones are restarted first), so the engine's deadline never outlasts the key on etcd. Renewal restarts each session's lease once and checks that each key is
 * still there with its token; release and clean-up delete only a key that is still this acquisition's.
 *
 * <p><b>Revision rewind guard.</b> The backend remembers the highest revision any reply showed. A reply
 * below the highest seen before its request was sent means the cluster went back in time (restored
 * from an older snapshot): the attempt fails rather than hand out a token that may repeat.
 */
final class EtcdLockBackend implements LockBackend<EtcdLease> {

    /** The smallest lease etcd grants with its default election timeout (1 s, heartbeat 100 ms): 1.5 s rounded up. */
    static final Duration MIN_LEASE = Duration.ofSeconds(2);
    /** etcd's default limit on operations in one transaction ({@code --max-txn-ops}). */
    static final int MAX_TXN_OPS = 128;

    private static final GetOption KEY_ONLY = GetOption.builder().withKeysOnly(true).build();

    private final Client client;
    private final boolean ownsClient;
    private final String prefix;
    private final EtcdCalls calls;
    private final Sessions sessions;
    private final KeyNames keyNames = new KeyNames();
    private final AtomicLong highestRevision = new AtomicLong();
    /** Keys an acquisition gave up on but could not confirm deleted: retried on every renewal pass. */
    private final Map<ByteSequence, Abandoned> abandoned = new ConcurrentHashMap<>();

    /**
     * A key to delete by owner value: its delete failed, or its put's reply was lost and the put may still
     * be applied (then it is kept until {@code keepUntil}, a {@link System#nanoTime()}, even if found absent).
     */
    private static final class Abandoned {
        final KeyNames.KeyName name;
        final ByteSequence key;
        final ByteSequence owner;
        final Session session;
        final long keepUntil;
        final AtomicBoolean inFlight = new AtomicBoolean();

        Abandoned(KeyNames.KeyName name, ByteSequence owner, long keepUntil) {
            this.name = name;
            this.key = name.bytes;
            this.owner = owner;
            this.session = name.session;
            this.keepUntil = keepUntil;
        }
    }

    EtcdLockBackend(Client client, boolean ownsClient, String prefix, EtcdCalls calls) {
        this.client = client;
        this.ownsClient = ownsClient;
        this.prefix = prefix;
        this.calls = calls;
        this.sessions = new Sessions(client.getLeaseClient(), calls);
    }

    /** Reports every lock of a session that etcd said is gone as lost, as soon as any call learns it. */
    @Override
    public void start(LeaseEvents<EtcdLease> events) {
        sessions.onEnded(session -> {
            keyNames.sessionEnded(session);
            events.lost(lease -> lease.session() == session, "the etcd " + session + " of its lock ended on "
                    + describe() + " (its lease expired or was revoked), and its keys with it");
        });
    }

    @Override
    public String describe() {
        return calls.describe();
    }

    @Override
    public void validate(LockOptions options) {
        checkLeaseTime(options.leaseTime());
    }

    /**
     * etcd leases are whole seconds, and etcd silently lengthens a lease below its minimum.
     *
     * @throws IllegalArgumentException naming leaseTime, the value and the rule
     */
    static void checkLeaseTime(Duration leaseTime) {
        if (leaseTime.getNano() != 0) {
            throw new IllegalArgumentException("leaseTime must be whole seconds on etcd (its leases have a TTL in"
                    + " seconds), was " + leaseTime);
        }
        if (leaseTime.compareTo(MIN_LEASE) < 0) {
            throw new IllegalArgumentException("leaseTime must be at least " + MIN_LEASE.toSeconds()
                    + " s on etcd (the minimum lease etcd grants), was " + leaseTime);
        }
    }

    @Override
    public boolean supportsReadWrite() {
        return true;
    }

    /** An election passes within the command timeout; unavailable for twice that in a row is an outage. */
    @Override
    public Duration unavailableLimit() {
        return calls.timeout().multipliedBy(2);
    }

    /** jetcd completes its futures on its event loop, and so do our stages when etcd answers. */
    @Override
    public boolean completesOnIoThreads() {
        return true;
    }

    @Override
    public Acquisition<EtcdLease> newAcquisition(LockRequest request) {
        return new EtcdAcquisition(this, request);
    }

    @Override
    public CompletionStage<Boolean> renew(EtcdLease lease, Duration leaseTime) {
        return renewAll(List.of(lease), List.of(leaseTime)).thenApply(renewed -> renewed.get(0));
    }

    /**
     * One keep-alive per session, and one read of every key (a transaction per {@value #MAX_TXN_OPS}
     * keys), all sent at once: a lock is renewed if its session's lease was restarted and its key is still
     * there with its token.
     */
    @Override
    public CompletionStage<List<Boolean>> renewAll(List<EtcdLease> leases, List<Duration> leaseTimes) {
        cleanUpAbandoned();
        int n = leases.size();
        if (n == 0) {
            return CompletableFuture.completedFuture(List.of());
        }
        Map<Session, CompletableFuture<Boolean>> alive = new IdentityHashMap<>();
        for (EtcdLease lease : leases) {
            alive.computeIfAbsent(lease.session(), sessions::keepAlive);
        }
        boolean[] present = new boolean[n];
        List<CompletableFuture<?>> calls = new ArrayList<>(alive.values());
        for (int from = 0; from < n; from += MAX_TXN_OPS) {
            int start = from;
            int end = Math.min(n, from + MAX_TXN_OPS);
            Op[] gets = new Op[end - start];
            for (int i = start; i < end; i++) {
                gets[i - start] = Op.get(leases.get(i).key(), KEY_ONLY);
            }
            calls.add(this.calls.call(() -> kv().txn().Then(gets).commit()).thenAccept(response -> {
                observe(response);
                List<GetResponse> reads = response.getGetResponses();
                for (int i = start; i < end; i++) {
                    List<KeyValue> kvs = reads.get(i - start).getKvs();
                    present[i] = !kvs.isEmpty() && kvs.get(0).getCreateRevision() == leases.get(i).token();
                }
            }));
        }
        CompletableFuture<List<Boolean>> all = CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new))
                .thenApply(ignored -> {
                    List<Boolean> out = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        out.add(present[i] && alive.get(leases.get(i).session()).join());
                    }
                    return out;
                });
        return mapFailure(all, n == 1 ? leases.get(0).name() : null, n == 1 ? "renew" : "renewal of " + n + " locks");
    }

    /** Deletes the key if its create revision is still the token: never another acquisition's key. */
    @Override
    public CompletionStage<Boolean> release(EtcdLease lease) {
        return mapFailure(calls.call(() -> kv().txn()
                        .If(new Cmp(lease.key(), Cmp.Op.EQUAL, CmpTarget.createRevision(lease.token())))
                        .Then(Op.delete(lease.key(), DeleteOption.DEFAULT))
                        .commit())
                .thenApply(response -> {
                    observe(response);
                    keyNames.giveBack(lease.keyName()); // deleted now, or gone before: either way not there
                    sessions.retire(lease.session()); // a private session: nothing else uses it
                    return response.isSucceeded();
                }), lease.name(), "release");
    }

    // ---- keys left behind -----------------------------------------------------------------------------

    /** Leaves a key of a finished acquisition to be deleted by owner value on the renewal passes. */
    void abandon(KeyNames.KeyName name, ByteSequence owner, long keepUntil) {
        abandoned.put(name.bytes, new Abandoned(name, owner, keepUntil));
    }

    /**
     * One owner-checked delete per abandoned key, in the background. An entry is dropped once its session is
     * known dead (the key went with it), or a delete confirmed it gone and no late put can bring it back.
     */
    private void cleanUpAbandoned() {
        for (Abandoned entry : abandoned.values()) {
            if (entry.session.isDead()) {
                abandoned.remove(entry.key, entry); // its name was given back when the session ended
                continue;
            }
            if (!entry.inFlight.compareAndSet(false, true)) {
                continue;
            }
            calls.call(() -> kv().txn()
                            .If(new Cmp(entry.key, Cmp.Op.EQUAL, CmpTarget.value(entry.owner)))
                            .Then(Op.delete(entry.key, DeleteOption.DEFAULT))
                            .commit())
                    .whenComplete((response, failure) -> {
                        entry.inFlight.set(false);
                        if (failure != null) {
                            return; // the next pass tries again
                        }
                        observe(response);
                        if (response.isSucceeded() || entry.keepUntil == 0 || System.nanoTime() - entry.keepUntil > 0) {
                            abandoned.remove(entry.key, entry);
                            keyNames.giveBack(entry.name);
                        }
                    });
        }
    }

    /** Revokes the sessions (their keys go with them), then closes the jetcd client if this backend made it. */
    @Override
    public void close() {
        try {
            sessions.close();
        } finally {
            try {
                if (ownsClient) {
                    client.close();
                }
            } finally {
                calls.close();
            }
        }
    }

    // ---- for the acquisitions -------------------------------------------------------------------------

    KV kv() {
        return client.getKVClient();
    }

    Watch watch() {
        return client.getWatchClient();
    }

    Sessions sessions() {
        return sessions;
    }

    KeyNames keyNames() {
        return keyNames;
    }

    EtcdCalls calls() {
        return calls;
    }

    /** {@code <prefix><encoded name>/}: every key of the plain lock, and nothing else, starts with it. */
    ByteSequence namePrefix(String name) {
        return bytes(prefix + encodeName(name) + "/");
    }

    /**
     * {@code <prefix><encoded name>%rw/}: every key of the read-write lock of that name, readers under {@link
     * #READERS} and writers under {@link #WRITERS}. Encoded names have every {@code '%'} escaped, so this is
     * no plain lock's prefix and the two locks of a name are independent.
     */
    ByteSequence readWritePrefix(String name) {
        return bytes(prefix + encodeName(name) + "%rw/");
    }

    static final ByteSequence READERS = bytes("r/");
    static final ByteSequence WRITERS = bytes("w/");

    /**
     * The name with {@code '%'} and {@code '/'} percent-encoded: one to one, and free of {@code '/'}, so a
     * name's prefix never contains another name's keys.
     */
    static String encodeName(String name) {
        StringBuilder out = new StringBuilder(name.length() + 8);
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c == '%') {
                out.append("%25");
            } else if (c == '/') {
                out.append("%2F");
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    static ByteSequence bytes(String text) {
        return ByteSequence.from(text, StandardCharsets.UTF_8);
    }

    /** The highest revision any reply showed so far. */
    long highestRevision() {
        return highestRevision.get();
    }

    void observe(TxnResponse response) {
        long revision = response.getHeader().getRevision();
        highestRevision.accumulateAndGet(revision, Math::max);
    }

    /** The cluster answered with a revision at or below one it had shown before: it went back in time. */
    LockBackendException rewound(String lockName, long answered, long seenBefore) {
        return new LockBackendException(lockName, "the revision of " + describe() + " went back: it answered at "
                + "revision " + answered + " after it had shown " + seenBefore + " (restored from an older snapshot?);"
                + " no fencing token is handed out, since it might repeat one given before", null);
    }

    <T> CompletableFuture<T> mapFailure(CompletableFuture<T> stage, @Nullable String lockName, String operation) {
        return stage.handle((value, failure) -> failure == null ? CompletableFuture.completedFuture(value)
                        : CompletableFuture.<T>failedFuture(calls.failure(lockName, operation, failure)))
                .thenCompose(Function.identity());
    }
}
