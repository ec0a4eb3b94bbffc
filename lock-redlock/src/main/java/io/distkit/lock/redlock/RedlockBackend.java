package io.distkit.lock.redlock;

import io.distkit.common.CallTimeouts;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockException;
import io.distkit.lock.LockOptions;
import io.distkit.lock.redis.internal.InFlight;
import io.distkit.lock.redis.internal.LockKeys;
import io.distkit.lock.redis.internal.ReleaseSignals;
import io.distkit.lock.redis.internal.Script;
import io.distkit.lock.redlock.Round.Answer;
import io.distkit.lock.spi.Acquisition;
import io.distkit.lock.spi.Attempt;
import io.distkit.lock.spi.LockBackend;
import io.distkit.lock.spi.LockEngine;
import io.distkit.lock.spi.LockRequest;
import io.netty.util.concurrent.FastThreadLocalThread;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * The Redlock primitive the engine builds on: a lock is held when a quorum ({@code N/2 + 1}) of independent
 * Redis masters hold its key for the same owner value, with time left on the lease.
 *
 * <p><b>Acquire</b> (one round trip, sometimes two, each sent to the nodes in parallel). First lock-redis's
 * acquire script on every node, with a token the client proposes (its clock in µs, above all it proposed
 * before): {@code SET key owner NX PX lease}, on success the node's fence counter becomes {@code
 * max(fence + 1, proposed)} and comes back as that node's token. The round is over once a quorum of votes
 * granted (or can no longer grant); the token is the largest of the granting votes. If every granting node
 * answered the proposal itself, the quorum's fences hold the token already and the lock is ours (validity
 * left: lease − time since the first request was sent − drift of 1 % + 2 ms). Otherwise (some node's fence
 * was ahead of the proposal) the write-back: each granting node raises its fence counter to that token, if
 * the lock there is still ours; with a quorum of write-backs the lock is ours, if the engine finds it answered
 * before the attempt's local deadline (which ends no later than the validity; a grant past it is given back
 * and asked for again). Either way
 * a quorum of nodes holding the lock has a fence of at least the token when the acquire returns, so tokens
 * strictly increase across holders: that quorum and the granting quorum of any later holder share a node,
 * where the later holder's lock, and so its counter increment, came after.
 *
 * <p>Without a quorum, or with the validity spent, the attempt releases its owner value on every node at
 * once, without waiting for the answers (a silent node would hold them up), and the engine tries again. Each
 * attempt has an owner value of its own, so a late release of one attempt never deletes the next attempt's
 * key; what a release did not confirm is released again when the acquisition ends. Releases go out from a
 * thread that is no connection's event loop, where Netty would write them at once, ahead of an acquire queued
 * on the same connection a moment before; and every command of a round is sent before any answer is looked at.
 * The engine tries again: after a random delay when the votes were split between contenders (so that
 * they do not collide again), at the release notification or the holder's expiry when someone holds the
 * lock, or shortly when too few nodes answered (reported as unavailable: a caller that does not wait gets
 * the reason).
 *
 * <p><b>Renew</b>: one script call per node per renewal pass renews every held lock there; a lock is renewed
 * when a quorum of votes renewed it, lost when too many nodes no longer hold it for a quorum to remain, and
 * otherwise undecided (the engine tries again and declares the loss at the local deadline). <b>Release</b>:
 * compare-and-delete on every node at once, publishing a release message on each.
 *
 * <p><b>Votes</b> are counted only from nodes the client trusts ({@link RedlockNode}, {@link RestartSafeguard}).
 */
final class RedlockBackend implements LockBackend<RedlockLease> {

    /** Largest number of keys one renewal script touches on a node; more leases take several calls. */
    static final int MAX_KEYS_PER_CALL = 1000;
    /** First pause before a give-back is sent again to the nodes that did not confirm it; doubles up to the cap. */
    private static final long GIVE_BACK_RETRY_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long GIVE_BACK_RETRY_CAP_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final CompletableFuture<Void> DONE = CompletableFuture.completedFuture(null);

    private final List<RedlockNode> nodes;
    private final int quorum;
    private final String prefix;
    private final Duration nodeTimeout;
    private final Duration maxLeaseTime;
    private final RestartSafeguard safeguard;
    private final CallTimeouts timeouts;
    private final Runnable afterClose;
    /** Sends give-backs: a thread that is no connection's I/O thread ({@link RedlockAcquisition#releaseAll}). */
    private final Executor sender;
    private final String description;
    private final InFlight inFlight = new InFlight();
    private final AtomicLong lastProposed = new AtomicLong();
    private final Object joinOrder = new Object();
    private volatile boolean closed;

    /** @param afterClose run last by {@link #close()}: shuts down the Lettuce resources the client created */
    RedlockBackend(List<RedlockNode> nodes, String prefix, Duration nodeTimeout, Duration maxLeaseTime,
            RestartSafeguard safeguard, CallTimeouts timeouts, Executor sender, Runnable afterClose) {
        this.nodes = List.copyOf(nodes);
        this.quorum = nodes.size() / 2 + 1;
        this.prefix = prefix;
        this.nodeTimeout = nodeTimeout;
        this.maxLeaseTime = maxLeaseTime;
        this.safeguard = safeguard;
        this.timeouts = timeouts;
        this.afterClose = afterClose;
        this.sender = sender;
        this.description = "redlock " + nodes.stream().map(n -> n.address).collect(Collectors.joining(","));
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public void validate(LockOptions options) {
        checkOptions(options, nodeTimeout, maxLeaseTime, safeguard);
    }

    /**
     * The lease must leave room for the per-node timeout (at most a tenth of it: an acquire that waits a
     * node timeout has most of its validity left) and, with {@link RestartSafeguard#DELAYED_TRUST}, stay
     * within {@code maxLeaseTime}, the window for which a restarted node is kept out.
     *
     * @throws IllegalArgumentException naming the option, the values and the rule
     */
    static void checkOptions(LockOptions options, Duration nodeTimeout, Duration maxLeaseTime,
            RestartSafeguard safeguard) {
        Duration lease = options.leaseTime();
        if (nodeTimeout.multipliedBy(10).compareTo(lease) > 0) {
            throw new IllegalArgumentException("the leaseTime (" + lease + ") must be at least 10 times the"
                    + " Redlock nodeTimeout (" + nodeTimeout + "): an acquire may spend a node timeout before it"
                    + " knows its quorum, and that time comes off the lock's validity; lower nodeTimeout or raise"
                    + " leaseTime");
        }
        if (safeguard == RestartSafeguard.DELAYED_TRUST && lease.compareTo(maxLeaseTime) > 0) {
            throw new IllegalArgumentException("the leaseTime (" + lease + ") is above this Redlock client's"
                    + " maxLeaseTime (" + maxLeaseTime + "): the restart safeguard keeps a restarted node's votes out"
                    + " for maxLeaseTime, which must cover every lease on these nodes; raise maxLeaseTime (on every"
                    + " client of these nodes) or shorten the lease");
        }
    }

    /** A freshly started node set may need a whole {@code maxLeaseTime} before its votes count. */
    @Override
    public Duration unavailableLimit() {
        Duration base = Duration.ofSeconds(30);
        Duration trust = safeguard == RestartSafeguard.DELAYED_TRUST ? maxLeaseTime.plusSeconds(5) : Duration.ZERO;
        return trust.compareTo(base) > 0 ? trust : base;
    }

    /** Lettuce completes commands on its event loops, and so do our stages. */
    @Override
    public boolean completesOnIoThreads() {
        return true;
    }

    @Override
    public Acquisition<RedlockLease> newAcquisition(LockRequest request) {
        return new RedlockAcquisition(request);
    }

    @Override
    public CompletionStage<Boolean> renew(RedlockLease lease, Duration leaseTime) {
        return renewAll(List.of(lease), List.of(leaseTime)).thenApply(renewed -> renewed.get(0));
    }

    /**
     * One round: each node renews every lease in one script call (in chunks of {@link #MAX_KEYS_PER_CALL}).
     * Per lease: renewed with a quorum of renewing votes; lost when so many nodes no longer hold it that no
     * quorum is left; otherwise (nodes silent) unknown, answered {@code null}, which the engine tries again
     * before the lease's deadline; if no lease is decided, the stage fails with the reason.
     */
    @Override
    public CompletionStage<List<Boolean>> renewAll(List<RedlockLease> leases, List<Duration> leaseTimes) {
        int n = leases.size();
        if (n == 0) {
            return CompletableFuture.completedFuture(List.of());
        }
        return inFlight.track(() -> Round.<List<Boolean>>of(nodes, node -> renewOn(node, leases, leaseTimes),
                answers -> false).thenApply(answers -> {
                    List<Boolean> out = new ArrayList<>(n);
                    List<String> undecided = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        int index = i;
                        int renewed = Round.count(answers, a -> a.vote() && a.value().get(index));
                        int gone = Round.count(answers, a -> a.replied() && !a.value().get(index));
                        if (renewed >= quorum) {
                            out.add(true);
                        } else if (nodes.size() - gone < quorum) {
                            out.add(false);
                        } else {
                            out.add(null); // this lease alone is unknown: the engine tries it again
                            undecided.add(leases.get(i).name());
                        }
                    }
                    if (undecided.size() == n) {
                        String lockName = n == 1 ? leases.get(0).name() : null;
                        throw new LockBackendException(lockName, "renewal of " + undecided + " reached no quorum of "
                                + quorum + " of " + nodes.size() + " nodes: " + failures(answers)
                                + "; it is tried again until the lease's local deadline", firstFailure(answers));
                    }
                    return out;
                }));
    }

    private CompletableFuture<List<Boolean>> renewOn(RedlockNode node, List<RedlockLease> leases,
            List<Duration> leaseTimes) {
        int n = leases.size();
        List<CompletableFuture<List<Object>>> calls = new ArrayList<>();
        for (int from = 0; from < n; from += MAX_KEYS_PER_CALL) {
            int to = Math.min(n, from + MAX_KEYS_PER_CALL);
            String[] keys = new String[to - from];
            String[] args = new String[2 * (to - from)];
            for (int i = from; i < to; i++) {
                keys[i - from] = leases.get(i).keys().lock();
                args[2 * (i - from)] = leases.get(i).owner();
                args[2 * (i - from) + 1] = Long.toString(Script.leaseMillis(leaseTimes.get(i)));
            }
            calls.add(node.run(Script.RENEW, keys, args));
        }
        return CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)).thenApply(ignored -> {
            List<Boolean> renewed = new ArrayList<>(n);
            for (CompletableFuture<List<Object>> call : calls) {
                for (Object one : call.join()) {
                    renewed.add(Long.valueOf(1).equals(one));
                }
            }
            if (renewed.size() != n) {
                throw new IllegalStateException("the renew script answered " + n + " keys with " + renewed.size());
            }
            return renewed;
        });
    }

    /**
     * Deletes the lock on every node where it is still ours. True once a quorum deleted it; false when too
     * few nodes still held it for a quorum (it had been lost); a failure when silent nodes leave it open.
     */
    @Override
    public CompletionStage<Boolean> release(RedlockLease lease) {
        return inFlight.track(() -> releaseEverywhere(lease.keys(), lease.owner()).thenApply(answers -> {
            int deleted = Round.count(answers, a -> a.replied() && Long.valueOf(1).equals(a.value()));
            int failed = nodes.size() - Round.count(answers, Answer::replied);
            if (deleted >= quorum) {
                return true;
            }
            if (deleted + failed < quorum) {
                return false;
            }
            throw new LockBackendException(lease.name(), "release deleted the lock on " + deleted + " of "
                    + nodes.size() + " nodes, short of the quorum of " + quorum + ": " + failures(answers)
                    + "; on the others it expires at its lease end", firstFailure(answers));
        }));
    }

    /**
     * Compare-and-delete on every node at once; over at a quorum of deletions or when all answered. Called on a
     * Netty event loop (a reply's callback), it sends from the client's executor instead: on a connection's own
     * event loop Netty writes at once, ahead of an acquire that another thread queued on that connection a moment
     * before, and the acquire would then take the lock after its release.
     */
    private CompletableFuture<List<@Nullable Answer<Long>>> releaseEverywhere(LockKeys keys, String owner) {
        return release(nodes, keys, owner,
                answers -> Round.count(answers, a -> a.replied() && Long.valueOf(1).equals(a.value())) >= quorum);
    }

    /** Compare-and-delete on {@code targets} at once (from the client's executor on a Netty event loop, see above). */
    private CompletableFuture<List<@Nullable Answer<Long>>> release(List<RedlockNode> targets, LockKeys keys, String owner,
            Predicate<List<@Nullable Answer<Long>>> decided) {
        if (Thread.currentThread() instanceof FastThreadLocalThread) {
            return CompletableFuture.supplyAsync(() -> sendRelease(targets, keys, owner, decided), sender)
                    .thenCompose(Function.identity());
        }
        return sendRelease(targets, keys, owner, decided);
    }

    private CompletableFuture<List<@Nullable Answer<Long>>> sendRelease(List<RedlockNode> targets, LockKeys keys,
            String owner, Predicate<List<@Nullable Answer<Long>>> decided) {
        String[] releaseKeys = {keys.lock(), keys.channel()};
        return Round.<Long>of(targets, node -> node.run(Script.RELEASE, releaseKeys, owner), decided);
    }

    /**
     * Stops new work, waits (at most two node timeouts) for commands in flight, then closes the connections.
     * An acquire whose answer arrives after this began gives its lock back itself.
     */
    @Override
    public void close() {
        closed = true;
        try {
            inFlight.awaitIdle(nodeTimeout.multipliedBy(2));
        } finally {
            for (RedlockNode node : nodes) {
                try {
                    node.close();
                } catch (RuntimeException e) {
                    // closing the others matters more
                }
            }
            timeouts.close();
            afterClose.run();
        }
    }


    /**
     * The token an acquire proposes: the wall clock in microseconds, above every token this client proposed
     * before. Each granting node's fence becomes {@code max(fence + 1, proposed)}; when every node of the
     * granting quorum answers the proposal itself, the quorum's fences already hold the token and no
     * write-back is needed. The clock only decides how often that happens (and gives a node that lost its
     * fence in a restart a floor, as the server clock does for lock-redis): never whether tokens increase.
     */
    private long proposeToken() {
        long now = ChronoUnit.MICROS.between(Instant.EPOCH, Instant.now());
        for (;;) {
            long last = lastProposed.get();
            long next = Math.max(now, last + 1);
            if (lastProposed.compareAndSet(last, next)) {
                return next;
            }
        }
    }

    /** What went wrong on the nodes that did not answer usefully, for messages. */
    private String failures(List<? extends @Nullable Answer<?>> answers) {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            Answer<?> answer = answers.size() > i ? answers.get(i) : null;
            RedlockNode node = nodes.get(i);
            if (answer == null) {
                parts.add(node.address + " had not answered");
            } else if (answer.failure() != null) {
                parts.add(node.address + " " + describeFailure(answer.failure()));
            } else if (!answer.vote()) {
                String why = node.whyNoVote();
                parts.add(why != null ? why : node.address + " answered across a reconnect (not counted)");
            }
        }
        return parts.isEmpty() ? "every node answered" : String.join("; ", parts);
    }

    private String describeFailure(Throwable failure) {
        Throwable cause = Script.rootCause(failure);
        if (cause instanceof TimeoutException || cause instanceof io.lettuce.core.RedisCommandTimeoutException) {
            return "gave no reply within the node timeout (" + nodeTimeout + ")";
        }
        return "failed: " + cause.getMessage();
    }

    private static @Nullable Throwable firstFailure(List<? extends @Nullable Answer<?>> answers) {
        for (Answer<?> answer : answers) {
            if (answer != null && answer.failure() != null) {
                return Script.rootCause(answer.failure());
            }
        }
        return null;
    }


    /** One acquire call; attempts never overlap, and {@code finish} comes after the last one completed. */
    private final class RedlockAcquisition implements Acquisition<RedlockLease> {

        private final LockRequest request;
        private final LockKeys keys;
        private final String[] scriptKeys;
        private final String leaseMillis;
        private final long leaseNanos;
        private volatile int attempts;
        private volatile ReleaseSignals.@Nullable Waiter @Nullable [] waiters;
        /**
         * The owner values of this acquisition's attempts that may still be on some node (an attempt's release
         * not yet confirmed by every node, an answer lost): finish releases them everywhere. Each attempt has
         * an owner value of its own, so a late release of one attempt can never delete the key of the next.
         */
        private final Set<String> leftovers = ConcurrentHashMap.newKeySet();

        RedlockAcquisition(LockRequest request) {
            this.request = request;
            this.keys = LockKeys.of(prefix, request.name());
            this.scriptKeys = new String[] {keys.lock(), keys.fence()};
            this.leaseMillis = Long.toString(Script.leaseMillis(request.leaseTime()));
            this.leaseNanos = request.leaseTime().toNanos();
        }

        @Override
        public CompletionStage<Attempt<RedlockLease>> attempt() {
            return inFlight.track(() -> {
                int attempt = ++attempts;
                if (attempt == 1 || waiters != null) {
                    return acquireOnce();
                }
                // the caller waits: subscribe on every node, and check again once the subscriptions cover any release
                ReleaseSignals.Waiter[] joined = new ReleaseSignals.Waiter[nodes.size()];
                CompletableFuture<?>[] subscribed = new CompletableFuture<?>[nodes.size()];
                // one queue order on every node: a release wakes the oldest waiter on each node, and a waiter needs
                // a quorum of those wake-ups; in different orders, two waiters could split them and neither wake
                synchronized (joinOrder) {
                    for (int i = 0; i < joined.length; i++) {
                        joined[i] = nodes.get(i).signals.join(keys.channel());
                        subscribed[i] = joined[i].subscribed();
                    }
                }
                waiters = joined;
                return CompletableFuture.allOf(subscribed).handle((ok, failure) -> null)
                        .thenCompose(ignored -> acquireOnce());
            });
        }

        private CompletableFuture<Attempt<RedlockLease>> acquireOnce() {
            ReleaseSignals.Waiter[] joined = waiters;
            if (joined != null) {
                for (int i = 0; i < joined.length; i++) {
                    nodes.get(i).signals.consume(joined[i]); // this attempt sees every release published before it
                }
            }
            long start = System.nanoTime();
            String proposed = Long.toString(proposeToken());
            String owner = request.owner() + "/" + attempts;
            leftovers.add(owner); // until every node answered that someone else holds the lock, or it was released
            return Round.<List<Object>>of(nodes,
                    node -> node.run(Script.ACQUIRE, scriptKeys, owner, leaseMillis, proposed),
                    answers -> Round.count(answers, a -> a.vote() && granted(a)) >= quorum
                            || Round.count(answers, a -> !(a.vote() && granted(a))) > nodes.size() - quorum)
                    .thenCompose(answers -> {
                        List<RedlockNode> granting = new ArrayList<>();
                        long token = Long.MIN_VALUE;
                        boolean allProposed = true;
                        for (Answer<List<Object>> answer : answers) {
                            if (answer != null && answer.vote() && granted(answer)) {
                                granting.add(answer.node());
                                token = Math.max(token, value(answer));
                                allProposed &= Long.toString(value(answer)).equals(proposed);
                            }
                        }
                        if (granting.size() < quorum) {
                            return giveUp(owner, answers, null);
                        }
                        if (validityLeft(start) <= 0) {
                            return giveUp(owner, answers, "the quorum answered " + elapsedMillis(start) + " ms after the"
                                    + " first request, past the lease's validity (" + request.leaseTime() + " minus drift)");
                        }
                        if (allProposed) {
                            // every granting node took the proposed token as its fence: a quorum holds it already
                            return CompletableFuture.completedFuture(acquired(owner, token));
                        }
                        return writeBack(owner, granting, token, answers);
                    })
                    .thenCompose(this::unlessClosed);
        }

        /**
         * Raises the fence to {@code token} on the granting nodes; the lock is ours with a quorum of them. Whether
         * that came in time is the engine's check: it gives back a grant answered past the local deadline of the
         * attempt's send time, which is never later than this attempt's validity.
         */
        private CompletableFuture<Attempt<RedlockLease>> writeBack(String owner, List<RedlockNode> granting, long token,
                List<@Nullable Answer<List<Object>>> acquireAnswers) {
            String tokenText = Long.toString(token);
            int spare = granting.size() - quorum;
            return Round.<Long>of(granting, node -> node.run(Script.RAISE_FENCE, scriptKeys, owner, tokenText),
                    answers -> Round.count(answers, a -> a.vote() && Long.valueOf(1).equals(a.value())) >= quorum
                            || Round.count(answers, a -> !(a.vote() && Long.valueOf(1).equals(a.value()))) > spare)
                    .thenCompose(answers -> {
                        int confirmed = Round.count(answers, a -> a.vote() && Long.valueOf(1).equals(a.value()));
                        if (confirmed < quorum) {
                            return giveUp(owner, acquireAnswers, "the fencing write-back was confirmed by " + confirmed + " of "
                                    + granting.size() + " granting nodes, short of the quorum of " + quorum + ": "
                                    + failures(answers));
                        }
                        return CompletableFuture.completedFuture(acquired(owner, token));
                    });
        }

        /** The grant of this attempt: the engine owns the lease from here on. */
        private Attempt<RedlockLease> acquired(String owner, long token) {
            leftovers.remove(owner);
            return Attempt.acquired(token, new RedlockLease(request.name(), keys, owner));
        }

        /**
         * Not acquired: releases this owner value on every node at once, then says when to try again. {@code
         * failedAfterQuorum} is set when a quorum granted but the acquire still failed (no validity left, write-back short).
         */
        private CompletableFuture<Attempt<RedlockLease>> giveUp(String owner,
                List<@Nullable Answer<List<Object>>> answers, @Nullable String failedAfterQuorum) {
            boolean anyGrant = Round.count(answers, a -> a.replied() && granted(a)) > 0;
            boolean unknown = Round.count(answers, Answer::replied) < nodes.size();
            if (anyGrant || unknown) {
                // not awaited: a silent node would hold the answer up for a node timeout. The next attempt has
                // an owner value of its own, and what this release does not confirm, finish releases again.
                releaseAll(owner);
            } else {
                leftovers.remove(owner); // every node answered that someone else holds the lock
            }
            return CompletableFuture.completedFuture(nextTry(answers, failedAfterQuorum));
        }

        /** Releases this owner value on every node ({@link #releaseEverywhere}); forgets it once all confirmed. */
        private CompletableFuture<Void> releaseAll(String owner) {
            leftovers.add(owner);
            return releaseEverywhere(keys, owner)
                    .handle((answers, failure) -> {
                        if (failure == null && Round.count(answers, Answer::replied) == nodes.size()) {
                            leftovers.remove(owner);
                        }
                        return null;
                    });
        }

        private Attempt<RedlockLease> nextTry(List<@Nullable Answer<List<Object>>> answers,
                @Nullable String failedAfterQuorum) {
            if (failedAfterQuorum != null) {
                return Attempt.unavailable(new LockBackendException(request.name(), failedAfterQuorum
                        + "; the partial locks were released", null), randomDelay());
            }
            int busy = Round.count(answers, a -> a.replied() && !granted(a));
            int votes = Round.count(answers, a -> a.vote() && granted(a));
            int silent = (int) answers.stream().filter(Objects::isNull).count();
            if (busy + votes + silent < quorum) {
                // even with every silent node, too few could vote: not a busy lock, an outage (or young nodes)
                return Attempt.unavailable(new LockBackendException(request.name(), "no quorum of " + quorum + " of "
                        + nodes.size() + " Redlock nodes could vote: " + failures(answers), firstFailure(answers)),
                        retryWhenUnavailable());
            }
            if (votes > 0) {
                // split vote between contenders: everyone released; try again after a random delay
                return Attempt.busy(randomDelay(), null);
            }
            ReleaseSignals.Waiter[] joined = waiters;
            if (joined == null) {
                // first attempt: subscribe only if the caller really waits (the engine retries at once then)
                return Attempt.busy(Duration.ZERO, null);
            }
            List<CompletableFuture<Void>> signals = new ArrayList<>(joined.length);
            for (int i = 0; i < joined.length; i++) {
                signals.add(nodes.get(i).signals.signal(joined[i]));
            }
            return Attempt.busy(holderExpiry(answers), quorumOf(signals));
        }

        /**
         * Completes once a quorum of nodes announced a release. A holder's release deletes on every node at
         * once, and its messages arrive one by one: trying at the first would meet the deletes still in flight
         * elsewhere, split the votes with nobody, and wait a random delay. A quorum of messages means a quorum
         * of nodes is free, which is what an attempt needs; while fewer nodes are up than a quorum, no attempt
         * could succeed anyway, and the timed retry remains.
         */
        private CompletableFuture<Void> quorumOf(List<CompletableFuture<Void>> signals) {
            CompletableFuture<Void> out = new CompletableFuture<>();
            AtomicInteger left = new AtomicInteger(quorum);
            for (CompletableFuture<Void> signal : signals) {
                signal.whenComplete((ignored, failure) -> {
                    if (left.decrementAndGet() == 0) {
                        out.complete(null);
                    }
                });
            }
            return out;
        }

        /**
         * When enough busy nodes' keys expire for a quorum (no node granted this attempt): the quorum-th smallest
         * remaining TTL, at least a millisecond.
         */
        private Duration holderExpiry(List<@Nullable Answer<List<Object>>> answers) {
            List<Long> ttls = new ArrayList<>();
            for (Answer<List<Object>> answer : answers) {
                if (answer != null && answer.replied() && !granted(answer)) {
                    long pttl = value(answer);
                    ttls.add(pttl >= 0 ? pttl : pttl == -1 ? request.leaseTime().toMillis() : 0);
                }
            }
            if (ttls.isEmpty()) {
                return Duration.ofMillis(1);
            }
            Long[] sorted = ttls.toArray(Long[]::new);
            Arrays.sort(sorted);
            return Duration.ofMillis(Math.max(1, sorted[Math.min(quorum, sorted.length) - 1]));
        }

        private Duration retryWhenUnavailable() {
            long soonest = -1;
            for (RedlockNode node : nodes) {
                long wait = node.nanosUntilTrusted();
                if (wait > 0 && (soonest < 0 || wait < soonest)) {
                    soonest = wait;
                }
            }
            long floor = nodeTimeout.toNanos();
            return Duration.ofNanos(soonest > floor ? Math.min(soonest, TimeUnit.SECONDS.toNanos(1)) : floor);
        }

        /** Uniform in [1 ms, half the node timeout + 1 ms]: contenders that split the votes do not meet again. */
        private Duration randomDelay() {
            long bound = Math.max(1, nodeTimeout.toNanos() / 2);
            return Duration.ofNanos(TimeUnit.MILLISECONDS.toNanos(1) + ThreadLocalRandom.current().nextLong(bound));
        }

        private long validityLeft(long start) {
            return leaseNanos - (System.nanoTime() - start) - LockEngine.driftNanos(leaseNanos);
        }

        private long elapsedMillis(long start) {
            return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        }

        private CompletableFuture<Attempt<RedlockLease>> unlessClosed(Attempt<RedlockLease> attempt) {
            if (!closed || !(attempt instanceof Attempt.Acquired)) {
                return CompletableFuture.completedFuture(attempt);
            }
            // close() is waiting for this attempt: give the lock back now, while the connections are open
            return releaseAll(((Attempt.Acquired<RedlockLease>) attempt).lease().owner()).thenApply(ignored -> {
                throw new LockException(request.name(), "the lock client for " + describe()
                        + " was closed while acquiring", null);
            });
        }

        @Override
        public CompletionStage<Void> finish(boolean acquired) {
            ReleaseSignals.Waiter[] joined = waiters;
            if (joined != null) {
                for (int i = 0; i < joined.length; i++) {
                    nodes.get(i).signals.leave(joined[i], !acquired);
                }
            }
            List<String> owners = List.copyOf(leftovers);
            if (owners.isEmpty()) {
                return DONE;
            }
            // attempts whose answers or releases were lost may hold the lock on some node: remove by owner value.
            // The acquisition settles after one round; the nodes that did not confirm are asked again in the
            // background until they do or the keys have expired by themselves (every attempt started before now,
            // so its keys live at most one lease from now), unless the client closes first
            long expiredBy = System.nanoTime() + leaseNanos;
            return inFlight.track(() -> CompletableFuture.allOf(owners.stream()
                    .map(owner -> {
                        CompletableFuture<Void> firstRound = new CompletableFuture<>();
                        giveBack(owner, nodes, expiredBy, GIVE_BACK_RETRY_NANOS, firstRound);
                        return firstRound;
                    })
                    .toArray(CompletableFuture[]::new)));
        }

        private void giveBack(String owner, List<RedlockNode> targets, long expiredBy, long pauseNanos,
                CompletableFuture<Void> firstRound) {
            CompletableFuture<List<@Nullable Answer<Long>>> round;
            try {
                round = release(targets, keys, owner, answers -> false); // every target answers or times out
            } catch (RuntimeException e) {
                firstRound.complete(null);
                return;
            }
            round.whenComplete((answers, failure) -> {
                firstRound.complete(null);
                List<RedlockNode> unconfirmed = new ArrayList<>();
                for (int i = 0; i < targets.size(); i++) {
                    Answer<Long> answer = answers == null ? null : answers.get(i);
                    if (answer == null || !answer.replied()) {
                        unconfirmed.add(targets.get(i));
                    }
                }
                if (unconfirmed.isEmpty() || closed || System.nanoTime() + pauseNanos - expiredBy >= 0) {
                    return;
                }
                long nextPause = Math.min(GIVE_BACK_RETRY_CAP_NANOS, pauseNanos * 2);
                timeouts.schedule(() -> giveBack(owner, unconfirmed, expiredBy, nextPause, firstRound), pauseNanos);
            });
        }
    }

    private static boolean granted(Answer<List<Object>> answer) {
        List<Object> reply = answer.value();
        checkReply(reply);
        return Long.valueOf(1).equals(reply.get(0));
    }

    private static long value(Answer<List<Object>> answer) {
        List<Object> reply = answer.value();
        checkReply(reply);
        return (Long) reply.get(1);
    }

    private static void checkReply(@Nullable List<Object> reply) {
        if (reply == null || reply.size() != 2 || !(reply.get(0) instanceof Long) || !(reply.get(1) instanceof Long)) {
            throw new IllegalStateException("the acquire script answered " + reply + ", expected [flag, value]");
        }
    }
}
