package io.distkit.lock.etcd;

import io.distkit.lock.LockBackendException;
import io.distkit.lock.spi.Acquisition;
import io.distkit.lock.spi.Attempt;
import io.distkit.lock.spi.LockMode;
import io.distkit.lock.etcd.KeyNames.KeyName;
import io.distkit.lock.spi.LockRequest;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One acquire call: a key in the lock's queue, kept across attempts (it is the acquisition's place).
 *
 * <p>A key holds the lock when no key that blocks it is older (has a lower create revision): for a plain
 * lock and for a writer every earlier key of the queue, for a reader only earlier writers, so readers share
 * and a reader that arrives after a waiting writer waits for it (first come, first served). The first attempt
 * puts the key with the session's lease, unless it exists already (an earlier reply was lost), and in the
 * same transaction reads the newest blockers, among which is the one just before its own, if any.
 * Later attempts check in one transaction that the key is still there with its create revision and read
 * the newest blocker older than it; a key that vanished (its session ended) is put again, at the end of the
 * queue. A waiter watches only that predecessor's key for deletion, from the revision it read, so one waiter
 * wakes per release (or the readers behind one writer); a failed or compacted watch wakes it too, and the next attempt
 * reads and watches afresh. Each attempt also restarts the session's lease unless that happened at most a
 * third of the lease time before the attempt began: a waiter keeps its place, and a grant is reported with the
 * age of its session's lease, from which the engine counts its deadline.
 *
 * <p><b>Keys.</b> {@code <queue><client tag>/<slot>}, holding the owner value, where the queue is the plain
 * lock's {@code <prefix><name>/}, or the read-write lock's {@code <prefix><name>%rw/} followed by {@code r/}
 * for readers and {@code w/} for writers; names are reused once their keys are known gone ({@link KeyNames}).
 * An attempt after one that answered Acquired means the engine gave that grant back (it came too late) and
 * is deleting it by its create revision, possibly much later: the next put deletes that key in its own
 * transaction and puts a key of another name, so a create revision is never granted twice. An auto-renewed lock uses the client's
 * shared session for its lease time; one that is not renewed a private session of its own, which nothing
 * else keeps alive. {@code finish(false)} deletes, by owner value, every key the acquisition may have put;
 * what it cannot confirm (a failed delete, a put whose reply was lost and may still land) is left to the
 * backend, which retries on every renewal pass.
 *
 * <p>A session found gone spends one of the attempt's session tries; a key that merely vanished does not
 * (the put that follows finds out whether the session is gone). A keep-alive without an answer after a
 * successful put is no failure for a waiter: it keeps its key and asks again at once.
 *
 * <p>Attempts never overlap (the engine's rule), and {@code finish} comes after the last one completed.
 */
final class EtcdAcquisition implements Acquisition<EtcdLease> {

    private static final Logger LOG = LoggerFactory.getLogger(EtcdAcquisition.class);
    private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);
    /** How often a session may be replaced within one attempt (it ended under the attempt). */
    private static final int SESSION_TRIES = 2;
    /** The pause before an attempt refused during a leader election is made again. */
    private static final long UNAVAILABLE_PAUSE_MILLIS = 200;
    /** The pause before a failed watch wakes its waiter, so that a watch that always fails is no busy loop. */
    private static final long WATCH_FAILURE_PAUSE_MILLIS = 100;

    /** Right after our put, the newest two keys that can block us include our predecessor, if we have one. */
    private static final GetOption NEWEST_TWO = GetOption.builder().isPrefix(true).withKeysOnly(true)
            .withSortField(GetOption.SortTarget.CREATE).withSortOrder(GetOption.SortOrder.DESCEND).withLimit(2).build();

    private final EtcdLockBackend backend;
    private final LockRequest request;
    /** The keys that come before ours and hold us back: every key of the queue, or for a reader only the writers'. */
    private final ByteSequence blockers;
    /** Where our own keys go: the queue itself, or its reader or writer side. */
    private final ByteSequence side;
    private final ByteSequence owner;
    private final long ttlSeconds;
    /** The oldest session lease a grant may be reported under without restarting it: a third of the lease time. */
    private final long maxLeaseAgeNanos;

    // written by attempts and read by finish, which the engine runs one after the other
    private volatile @Nullable Session session;
    private volatile @Nullable KeyName key;
    /** Our key's create revision, 0 while it is not known to exist. */
    private volatile long ownRevision;
    private volatile @Nullable PredecessorWatch watch;
    /** Whether the latest attempt answered Acquired: another attempt means the engine gave that grant back. */
    private volatile boolean granted;
    /** The key of a grant given back, deleted by the next put's transaction. */
    private volatile @Nullable KeyName retired;
    /** Every key name this acquisition took, for finish to delete what may exist and give the names back. */
    private final Map<KeyName, PutKey> puts = new LinkedHashMap<>();

    /** A key name we took; ambiguous if a put was sent that no reply said was applied or not. */
    private static final class PutKey {
        final KeyName name;
        volatile boolean ambiguous;
        /** A reply said the key is gone (deleted by a later put's transaction): nothing to clean up. */
        volatile boolean gone;

        PutKey(KeyName name) {
            this.name = name;
        }
    }

    EtcdAcquisition(EtcdLockBackend backend, LockRequest request) {
        this.backend = backend;
        this.request = request;
        // one queue per lock, ordered by create revision: the plain lock's, or both sides of the read-write lock's
        ByteSequence queue = request.mode() == LockMode.EXCLUSIVE ? backend.namePrefix(request.name())
                : backend.readWritePrefix(request.name());
        this.blockers = request.mode() == LockMode.READ ? queue.concat(EtcdLockBackend.WRITERS) : queue;
        this.side = switch (request.mode()) {
            case EXCLUSIVE -> queue;
            case WRITE -> queue.concat(EtcdLockBackend.WRITERS);
            case READ -> queue.concat(EtcdLockBackend.READERS);
        };
        this.owner = EtcdLockBackend.bytes(request.owner());
        this.ttlSeconds = request.leaseTime().toSeconds();
        this.maxLeaseAgeNanos = request.leaseTime().toNanos() / 3;
    }

    @Override
    public CompletionStage<Attempt<EtcdLease>> attempt() {
        closeWatch();
        if (granted) {
            // the engine gave our grant back (it came too late) and may still be deleting that key by its
            // create revision: never grant that revision again. The next put deletes it and queues anew.
            granted = false;
            retired = key;
            key = null;
            ownRevision = 0;
        }
        long startedAt = System.nanoTime();
        long floor = backend.highestRevision(); // any answer to this attempt must be at least this
        CompletableFuture<Attempt<EtcdLease>> attempt;
        try {
            attempt = ownRevision == 0 ? put(startedAt, floor, SESSION_TRIES) : check(startedAt, floor, SESSION_TRIES);
        } catch (RuntimeException e) {
            attempt = CompletableFuture.failedFuture(e);
        }
        return backend.mapFailure(attempt, request.name(), "acquire").handle(this::passingOrFinal);
    }

    /**
     * An attempt refused while the cluster elects a leader ({@code UNAVAILABLE}: "leader changed", "no
     * leader", a member that went away) is answered as {@link Attempt#unavailable}, so that a waiter keeps
     * its place and tries again, for as long as the backend's {@link EtcdLockBackend#unavailableLimit()}
     * allows. Trying again is safe: a put that was applied is found by the next one (its key is ours).
     */
    private Attempt<EtcdLease> passingOrFinal(@Nullable Attempt<EtcdLease> answer, @Nullable Throwable failure) {
        if (failure == null) {
            return answer;
        }
        if (EtcdCalls.isUnavailable(failure)) {
            return Attempt.unavailable(EtcdCalls.unwrap(failure), Duration.ofMillis(UNAVAILABLE_PAUSE_MILLIS));
        }
        throw failure instanceof CompletionException completion ? completion : new CompletionException(failure);
    }

    /** The shared session for an auto-renewed lock; for one that is not renewed, this acquisition's own. */
    private CompletableFuture<Session> sessionFor() {
        if (request.autoRenew()) {
            return backend.sessions().current(ttlSeconds);
        }
        Session own = session;
        if (own != null && !own.shared && !own.isDead()) {
            return CompletableFuture.completedFuture(own);
        }
        return backend.sessions().fresh(ttlSeconds);
    }

    private PutKey remember(KeyName name) {
        synchronized (puts) {
            return puts.computeIfAbsent(name, PutKey::new);
        }
    }

    /** Our key name for a put with {@code s}'s lease: the one we have, or a new one for a new session. */
    private KeyName keyFor(Session s) {
        KeyName current = key;
        if (current == null || current.session != s) {
            current = backend.keyNames().take(side, s);
            key = current;
        }
        session = s;
        return current;
    }

    /** Puts our key unless it exists, and reads the queue, in one transaction. */
    private CompletableFuture<Attempt<EtcdLease>> put(long startedAt, long floor, int sessionTries) {
        if (sessionTries <= 0) {
            return CompletableFuture.failedFuture(new LockBackendException(request.name(), "the sessions of "
                    + backend.describe() + " keep ending while the lock is acquired (each lease gone within its "
                    + ttlSeconds + " s)", null));
        }
        return sessionFor().thenCompose(s -> {
            KeyName name = keyFor(s);
            ByteSequence k = name.bytes;
            PutKey record = remember(name);
            KeyName retiredName = retired;
            ByteSequence old = retiredName == null ? null : retiredName.bytes;
            CompletableFuture<Boolean> fresh = refresh(s, startedAt);
            List<Op> then = new ArrayList<>(4);
            List<Op> otherwise = new ArrayList<>(2);
            if (old != null) { // our own key (the name holds our owner value): nobody else's to lose
                then.add(Op.delete(old, DeleteOption.DEFAULT));
                otherwise.add(Op.delete(old, DeleteOption.DEFAULT));
            }
            then.add(Op.put(k, owner, PutOption.builder().withLeaseId(s.leaseId).build()));
            then.add(Op.get(blockers, NEWEST_TWO));
            otherwise.add(Op.get(k, GetOption.DEFAULT));
            return backend.calls().call(() -> backend.kv().txn()
                            .If(new Cmp(k, Cmp.Op.EQUAL, CmpTarget.createRevision(0)))
                            .Then(then.toArray(Op[]::new))
                            .Else(otherwise.toArray(Op[]::new))
                            .commit())
                    .handle((response, failure) -> {
                        if (failure != null) {
                            if (EtcdCalls.isNotFound(failure)) { // "requested lease not found": the session ended
                                backend.sessions().ended(s); // gives its names back; the next put takes a new one
                                return put(startedAt, floor, sessionTries - 1);
                            }
                            record.ambiguous = true; // it may still be applied: finish(false) keeps looking
                            return CompletableFuture.<Attempt<EtcdLease>>failedFuture(failure);
                        }
                        if (retiredName != null && retired == retiredName) {
                            retired = null; // deleted by either branch
                            PutKey retiredKey;
                            synchronized (puts) {
                                retiredKey = puts.get(retiredName);
                            }
                            retiredKey.gone = true;
                            backend.keyNames().giveBack(retiredName);
                        }
                        return afterPut(response, s, name, fresh, startedAt, floor, sessionTries);
                    })
                    .thenCompose(Function.identity());
        });
    }

    private CompletableFuture<Attempt<EtcdLease>> afterPut(TxnResponse response, Session s, KeyName name,
            CompletableFuture<Boolean> fresh, long startedAt, long floor, int sessionTries) {
        long revision = response.getHeader().getRevision();
        ByteSequence k = name.bytes;
        if (!response.isSucceeded()) {
            // the key exists: an earlier attempt's put took effect though its reply was lost
            checkNotRewound(revision, floor, false);
            backend.observe(response);
            List<KeyValue> own = response.getGetResponses().get(0).getKvs();
            if (own.isEmpty()) {
                return put(startedAt, floor, sessionTries - 1);
            }
            if (!own.get(0).getValue().equals(owner)) {
                // not ours (our name was given back while this attempt ran: its session ended): a new name
                key = null;
                return put(startedAt, floor, sessionTries - 1);
            }
            ownRevision = own.get(0).getCreateRevision();
            return check(startedAt, floor, sessionTries);
        }
        checkNotRewound(revision, floor, true); // our put made this revision: it must be new
        backend.observe(response);
        ownRevision = revision;
        // every other key is older than ours, which was just put: the newest other blocker is our predecessor
        KeyValue predecessor = null;
        for (KeyValue newest : response.getGetResponses().get(0).getKvs()) {
            if (!newest.getKey().equals(k)) {
                predecessor = newest;
                break;
            }
        }
        if (predecessor == null) {
            return grant(s, name, revision, fresh, startedAt, floor, sessionTries);
        }
        return CompletableFuture.completedFuture(busy(predecessor, revision));
    }

    /**
     * Confirms our key still exists with the create revision it was put with, and reads the queue, in one
     * transaction: a waiter whose session ended while it waited must not be told it holds the lock
     * (etcd issue 11456).
     */
    private CompletableFuture<Attempt<EtcdLease>> check(long startedAt, long floor, int sessionTries) {
        Session s = session;
        KeyName name = key;
        long own = ownRevision;
        if (s == null || name == null || own == 0) {
            return put(startedAt, floor, sessionTries);
        }
        ByteSequence k = name.bytes;
        CompletableFuture<Boolean> fresh = refresh(s, startedAt);
        GetOption before = GetOption.builder().isPrefix(true).withKeysOnly(true).withMaxCreateRevision(own - 1)
                .withSortField(GetOption.SortTarget.CREATE).withSortOrder(GetOption.SortOrder.DESCEND).withLimit(1)
                .build();
        return backend.calls().call(() -> backend.kv().txn()
                        .If(new Cmp(k, Cmp.Op.EQUAL, CmpTarget.createRevision(own)))
                        .Then(Op.get(blockers, before))
                        .commit())
                .thenCompose(response -> {
                    long revision = response.getHeader().getRevision();
                    checkNotRewound(revision, floor, false);
                    backend.observe(response);
                    if (!response.isSucceeded()) {
                        // our key is gone (its session ended, or it was deleted): queue again, at the end, under
                        // the same name unless the session changed. This spends no session try: the put finds
                        // out whether the session is still there.
                        ownRevision = 0;
                        return put(startedAt, floor, sessionTries);
                    }
                    List<KeyValue> previous = response.getGetResponses().get(0).getKvs();
                    if (previous.isEmpty()) { // no blocker older than our key: the lock is ours
                        return grant(s, name, own, fresh, startedAt, floor, sessionTries);
                    }
                    return CompletableFuture.completedFuture(busy(previous.get(0), revision));
                });
    }

    /** Our key is the lowest: the lock is ours once the session's lease is known to run a full TTL from the attempt. */
    private CompletableFuture<Attempt<EtcdLease>> grant(Session s, KeyName name, long token,
            CompletableFuture<Boolean> fresh, long startedAt, long floor, int sessionTries) {
        return fresh.handle((alive, failure) -> {
            long age = startedAt - s.refreshedAt();
            if (failure == null && alive && age > maxLeaseAgeNanos) {
                failure = new IllegalStateException("the keep-alive of " + s + " is too old for a grant"); // never
            }
            if (failure != null) {
                // etcd did not say whether it restarted the lease: the key stands and keeps our place, but the
                // lock cannot be reported held. A waiter asks again at once; a caller who does not wait learns why.
                if (request.willWait()) {
                    return CompletableFuture.completedFuture(Attempt.<EtcdLease>busy(Duration.ZERO, null));
                }
                return CompletableFuture.<Attempt<EtcdLease>>failedFuture(failure);
            }
            if (!alive) { // the lease ended under the attempt, and the key with it
                ownRevision = 0;
                return put(startedAt, floor, sessionTries - 1);
            }
            granted = true;
            // the engine counts the lease from the session's last restart, which may predate the attempt
            return CompletableFuture.completedFuture(Attempt.acquired(token, new EtcdLease(request.name(), name, token, s),
                    Duration.ofNanos(Math.max(0, age))));
        }).thenCompose(Function.identity());
    }

    /**
     * A keep-alive for the session, unless its lease was granted or restarted at most a third of the lease
     * time before the attempt began: then at least two thirds of it are left, the grant is reported with that
     * age, and an uncontended acquire costs one transaction, not a transaction and a keep-alive.
     */
    private CompletableFuture<Boolean> refresh(Session s, long startedAt) {
        if (s.refreshedSince(startedAt - maxLeaseAgeNanos)) {
            return CompletableFuture.completedFuture(true);
        }
        CompletableFuture<Boolean> alive = backend.sessions().keepAlive(s);
        alive.exceptionally(failure -> false); // a busy answer does not need it; a grant waits for it
        return alive;
    }

    /**
     * @param seenBefore the highest revision seen before the request was sent
     * @param madeByUs whether the answer's revision is the one our own write created, so above all seen before
     */
    private void checkNotRewound(long revision, long seenBefore, boolean madeByUs) {
        if (madeByUs ? revision <= seenBefore : revision < seenBefore) {
            throw backend.rewound(request.name(), revision, seenBefore);
        }
    }

    /**
     * Someone else holds the lock. A waiter watches its predecessor's key for deletion from the revision
     * just read, and retries after a third of the lease in any case, which also keeps its session alive.
     */
    private Attempt<EtcdLease> busy(@Nullable KeyValue predecessor, long revision) {
        Duration keepPlace = request.leaseTime().dividedBy(3);
        if (!request.willWait()) {
            return Attempt.busy(request.leaseTime(), null);
        }
        if (predecessor == null) { // cannot be while a lower key exists; look again soon rather than trust it
            return Attempt.busy(Duration.ofMillis(WATCH_FAILURE_PAUSE_MILLIS), null);
        }
        PredecessorWatch listener = new PredecessorWatch();
        try {
            listener.watcher = backend.watch().watch(predecessor.getKey(),
                    WatchOption.builder().withRevision(revision + 1).withNoPut(true).build(), listener);
            watch = listener;
        } catch (RuntimeException e) {
            LOG.debug("lock '{}': could not watch the predecessor key on {}: {}", request.name(), backend.describe(),
                    e.toString());
            return Attempt.busy(Duration.ofMillis(WATCH_FAILURE_PAUSE_MILLIS), null);
        }
        return Attempt.busy(keepPlace, listener.wakeUp);
    }

    private void closeWatch() {
        PredecessorWatch current = watch;
        watch = null;
        if (current != null) {
            current.close();
        }
    }

    @Override
    public CompletionStage<Void> finish(boolean acquired) {
        closeWatch();
        KeyName held = acquired ? key : null; // the engine's from now on: released by the backend
        List<PutKey> keys;
        synchronized (puts) {
            keys = new ArrayList<>(puts.values());
        }
        if (acquired && keys.size() == 1) {
            return DONE; // the common case: one name, held
        }
        Session own = session;
        List<CompletableFuture<Void>> deletes = new ArrayList<>(keys.size());
        for (PutKey record : keys) {
            if (record.name == held) {
                continue;
            }
            if (record.gone || record.name.session.isDead()) { // deleted, or gone with its session
                backend.keyNames().giveBack(record.name);
            } else {
                deletes.add(delete(record));
            }
        }
        CompletableFuture<Void> all = CompletableFuture.allOf(deletes.toArray(CompletableFuture[]::new));
        if (!acquired && own != null && !own.shared) {
            return all.whenComplete((ignored, failure) -> backend.sessions().retire(own)); // no lock of ours uses it
        }
        return all;
    }

    /**
     * Deletes a key we may have put if it still holds our owner value (a reply may have been lost, whatever
     * the last one said). One whose delete failed, or whose put may still land, is left to the backend's
     * clean-up, which retries on every renewal pass.
     */
    private CompletableFuture<Void> delete(PutKey record) {
        ByteSequence k = record.name.bytes;
        return backend.calls().call(() -> backend.kv().txn()
                        .If(new Cmp(k, Cmp.Op.EQUAL, CmpTarget.value(owner)))
                        .Then(Op.delete(k, DeleteOption.DEFAULT))
                        .commit())
                .handle((response, failure) -> {
                    if (failure != null) {
                        LOG.warn("lock '{}': could not delete the waiting key of an acquisition that gave up on {};"
                                + " retrying on each renewal pass, and it goes with its session's lease ({} s): {}",
                                request.name(), backend.describe(), record.name.session.ttlSeconds,
                                EtcdCalls.unwrap(failure).toString());
                        backend.abandon(record.name, owner, 0);
                    } else {
                        backend.observe(response);
                        if (!response.isSucceeded() && record.ambiguous) {
                            // nothing there yet, but a put whose reply was lost may still be applied
                            backend.abandon(record.name, owner,
                                    System.nanoTime() + backend.calls().timeout().multipliedBy(2).toNanos());
                        } else {
                            backend.keyNames().giveBack(record.name); // deleted, or never there
                        }
                    }
                    return null;
                });
    }

    /**
     * Wakes the waiter when the predecessor's key is deleted, or when the watch fails or ends; never when we
     * close it ourselves (the engine would take that for a release it missed and try again at once).
     */
    private final class PredecessorWatch implements Watch.Listener {
        final CompletableFuture<Void> wakeUp = new CompletableFuture<>();
        volatile Watch.@Nullable Watcher watcher;
        private volatile boolean closed;

        @Override
        public void onNext(WatchResponse response) {
            if (!response.getEvents().isEmpty()) { // DELETE events only: puts are filtered out
                wake();
            }
        }

        @Override
        public void onError(Throwable failure) {
            if (closed) {
                return;
            }
            LOG.debug("lock '{}': the watch of the predecessor key on {} failed, looking again: {}", request.name(),
                    backend.describe(), failure.toString());
            // compacted, cancelled, or the cluster unreachable: the next attempt reads and watches afresh
            if (!backend.calls().schedule(() -> wakeUp.complete(null),
                    TimeUnit.MILLISECONDS.toNanos(WATCH_FAILURE_PAUSE_MILLIS))) {
                wake();
            }
        }

        @Override
        public void onCompleted() {
            if (!closed) {
                wake();
            }
        }

        /** Completes the wake-up here: the engine sends the next attempt from jetcd's thread (it only sends). */
        private void wake() {
            wakeUp.complete(null);
        }

        void close() {
            closed = true;
            Watch.Watcher current = watcher;
            if (current != null) {
                try {
                    current.close();
                } catch (RuntimeException e) {
                    LOG.debug("closing a watch on {} failed: {}", backend.describe(), e.toString());
                }
            }
        }
    }
}
