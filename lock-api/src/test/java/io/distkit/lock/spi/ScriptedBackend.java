package io.distkit.lock.spi;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * A test double of the {@link LockBackend} SPI (not a model of any real server), for testing the
 * engine. Its lease record is the request's owner string.
 *
 * <p><b>State.</b> Per lock name a holder and a fencing counter, so acquisitions contend as they
 * would on a server: a free name is taken with the next token; a held one answers {@code busy} with
 * a fresh wake-up future (see {@link #wakeUps()}) and {@link #retryAfter(Duration)}. A release by
 * the holder frees the name and completes the oldest wake-up of that name, one waiter per release.
 * Leases never expire here: the engine's local deadline is what is under test.
 *
 * <p><b>Script.</b> By default every call is answered at once from the state. A test can instead make
 * the next attempt wait for a gate it opens ({@link #holdNextAttempt()}), answer with an outcome the
 * test chooses ({@link #holdNextAttemptReply()}, {@link #answerNextAttempt}) or fail; run a step of
 * its own inside the next {@code finish} ({@link #duringNextFinish}); make renewals fail, throw,
 * answer "not held" or a malformed list, once or until further notice, or stay pending on a future
 * the test completes ({@link #holdNextRenewal()}, a late reply); make the next release fail or wait
 * for a gate ({@link #holdNextRelease()}); and report leases lost through the engine's
 * {@link LeaseEvents} ({@link #reportLost}).
 *
 * <p><b>Record.</b> Every call is logged with the ticker time it was made: attempts, {@code finish}
 * calls, renewal batches, releases. Thread-safe; futures are completed outside the monitor.
 */
public final class ScriptedBackend implements LockBackend<String> {

    /** Owner of locks taken with {@link #occupy(String)}: someone outside the client under test. */
    public static final String OUTSIDER = "outsider";

    /** One {@code attempt()}, made at ticker time {@code at}. */
    public record AttemptCall(LockRequest request, long at) {}

    /** One {@code finish(acquired)} of the acquisition whose request had this owner. */
    public record FinishCall(String owner, boolean acquired) {}

    /** One {@code renewAll} batch, sent at ticker time {@code at}. */
    public record RenewCall(List<String> leases, List<Duration> leaseTimes, long at) {
        public int size() {
            return leases.size();
        }
    }

    /**
     * One {@code release} of the lease with this owner, at ticker time {@code at}; {@code forCaller} when
     * through {@code releaseOnCallerThread} (a user's release) rather than {@code release} (the engine's own).
     */
    public record ReleaseCall(String owner, long at, boolean forCaller) {}

    private final Ticker ticker;
    private final Map<String, String> holders = new HashMap<>();
    private final Map<String, String> nameOf = new HashMap<>();
    private final Map<String, Long> tokens = new HashMap<>();
    private final Map<String, Deque<CompletableFuture<Void>>> waiters = new HashMap<>();
    private final List<CompletableFuture<Void>> wakeUps = new ArrayList<>();
    private final Deque<Function<LockRequest, CompletionStage<Attempt<String>>>> attemptScript = new ArrayDeque<>();
    private final Deque<Function<List<String>, CompletionStage<List<Boolean>>>> renewScript = new ArrayDeque<>();
    private final Deque<RuntimeException> releaseFailures = new ArrayDeque<>();
    private final Deque<CompletableFuture<Void>> releaseGates = new ArrayDeque<>();
    private final Deque<Runnable> finishSteps = new ArrayDeque<>();
    private final List<AttemptCall> attempts = new ArrayList<>();
    private final List<FinishCall> finishes = new ArrayList<>();
    private final List<RenewCall> renewals = new ArrayList<>();
    private final List<ReleaseCall> releases = new ArrayList<>();
    private @Nullable RuntimeException renewFailure;
    private @Nullable List<Boolean> renewAnswer;
    private @Nullable Duration retryAfter;
    private @Nullable LeaseEvents<String> events;
    private int closes;
    private volatile boolean readWrite;
    private volatile Duration unavailableLimit = Duration.ofSeconds(30);

    /** A backend that stamps its records with {@code ticker}'s time. */
    public ScriptedBackend(Ticker ticker) {
        this.ticker = ticker;
    }

    /** Offers read and write locks too (contending by name, like plain locks): for the engine's read-write rules. */
    public ScriptedBackend withReadWrite() {
        readWrite = true;
        return this;
    }

    /** Sets how long unavailable answers in a row are tolerated ({@link LockBackend#unavailableLimit()}). */
    public ScriptedBackend withUnavailableLimit(Duration limit) {
        unavailableLimit = limit;
        return this;
    }

    // ---- the SPI ----

    @Override
    public Duration unavailableLimit() {
        return unavailableLimit;
    }

    @Override
    public boolean supportsReadWrite() {
        return readWrite;
    }

    @Override
    public String describe() {
        return "scripted backend";
    }

    @Override
    public synchronized void start(LeaseEvents<String> events) {
        this.events = events;
    }

    @Override
    public Acquisition<String> newAcquisition(LockRequest request) {
        return new Acquisition<>() {
            @Override
            public CompletionStage<Attempt<String>> attempt() {
                synchronized (ScriptedBackend.this) {
                    attempts.add(new AttemptCall(request, ticker.read()));
                    ScriptedBackend.this.notifyAll();
                    var scripted = attemptScript.poll();
                    return scripted != null ? scripted.apply(request)
                            : CompletableFuture.completedFuture(take(request)); // answered as the call is recorded
                }
            }

            @Override
            public CompletionStage<Void> finish(boolean acquired) {
                boolean freed;
                Runnable step;
                synchronized (ScriptedBackend.this) {
                    finishes.add(new FinishCall(request.owner(), acquired));
                    step = finishSteps.poll();
                }
                if (step != null) {
                    step.run();
                }
                synchronized (ScriptedBackend.this) {
                    // as the contract asks: a call that gives up removes a lock it may have taken
                    freed = !acquired && request.owner().equals(holders.get(request.name()));
                }
                if (freed) {
                    free(request.name(), true);
                }
                return CompletableFuture.completedFuture(null);
            }
        };
    }

    @Override
    public CompletionStage<Boolean> renew(String lease, Duration leaseTime) {
        return renewAll(List.of(lease), List.of(leaseTime)).thenApply(answers -> answers.get(0));
    }

    @Override
    public CompletionStage<List<Boolean>> renewAll(List<String> leases, List<Duration> leaseTimes) {
        Function<List<String>, CompletionStage<List<Boolean>>> scripted;
        synchronized (this) {
            renewals.add(new RenewCall(List.copyOf(leases), List.copyOf(leaseTimes), ticker.read()));
            scripted = renewScript.poll();
            if (scripted == null && renewFailure != null) {
                return CompletableFuture.failedFuture(renewFailure);
            }
            if (scripted == null && renewAnswer != null) {
                return CompletableFuture.completedFuture(renewAnswer);
            }
            if (scripted == null) {
                return CompletableFuture.completedFuture(
                        leases.stream().map(lease -> lease.equals(holders.get(nameOf.get(lease)))).toList());
            }
        }
        return scripted.apply(leases);
    }

    @Override
    public CompletionStage<Boolean> release(String lease) {
        return release(lease, false);
    }

    @Override
    public CompletionStage<Boolean> releaseOnCallerThread(String lease) {
        return release(lease, true);
    }

    private CompletionStage<Boolean> release(String lease, boolean forCaller) {
        CompletableFuture<Void> gate;
        synchronized (this) {
            releases.add(new ReleaseCall(lease, ticker.read(), forCaller));
            RuntimeException failure = releaseFailures.poll();
            if (failure != null) {
                return CompletableFuture.failedFuture(failure);
            }
            gate = releaseGates.poll();
        }
        return gate != null ? gate.thenApply(open -> drop(lease)) : CompletableFuture.completedFuture(drop(lease));
    }

    /** Frees the lock of {@code lease} if it still holds it; whether it did. */
    private boolean drop(String lease) {
        String name;
        synchronized (this) {
            name = nameOf.get(lease);
            if (name == null || !lease.equals(holders.get(name))) {
                return false;
            }
        }
        free(name, true);
        return true;
    }

    @Override
    public synchronized void close() {
        closes++;
    }

    private Attempt<String> take(LockRequest request) {
        synchronized (this) {
            String name = request.name();
            if (!holders.containsKey(name)) {
                holders.put(name, request.owner());
                nameOf.put(request.owner(), name);
                return Attempt.acquired(tokens.merge(name, 1L, Long::sum), request.owner());
            }
            CompletableFuture<Void> wakeUp = new CompletableFuture<>();
            wakeUps.add(wakeUp);
            waiters.computeIfAbsent(name, n -> new ArrayDeque<>()).add(wakeUp);
            return Attempt.busy(retryAfter, wakeUp);
        }
    }

    /** Frees {@code name}; with {@code notify} completes its oldest pending wake-up (outside the monitor). */
    private void free(String name, boolean notify) {
        CompletableFuture<Void> next = null;
        synchronized (this) {
            holders.remove(name);
            Deque<CompletableFuture<Void>> queue = waiters.getOrDefault(name, new ArrayDeque<>());
            while (notify && next == null && !queue.isEmpty()) {
                next = queue.poll();
                if (next.isDone()) {
                    next = null;
                }
            }
        }
        if (next != null) {
            next.complete(null);
        }
    }

    // ---- the script ----

    /** {@code retryAfter} of later busy answers; null (the default) for "only when woken". */
    public synchronized ScriptedBackend retryAfter(@Nullable Duration retryAfter) {
        this.retryAfter = retryAfter;
        return this;
    }

    /** The next attempt is answered (from the state at that moment) only when the returned gate completes. */
    public synchronized CompletableFuture<Void> holdNextAttempt() {
        CompletableFuture<Void> gate = new CompletableFuture<>();
        attemptScript.add(request -> gate.thenApply(open -> take(request)));
        return gate;
    }

    /**
     * The next attempt is answered, without looking at or changing the state, with whatever the test
     * completes the returned future with: an attempt in flight whose outcome the test decides.
     */
    public synchronized CompletableFuture<Attempt<String>> holdNextAttemptReply() {
        CompletableFuture<Attempt<String>> reply = new CompletableFuture<>();
        attemptScript.add(request -> reply);
        return reply;
    }

    /** The next attempt is answered at once with {@code answer}, whatever the state. */
    public void answerNextAttempt(Attempt<String> answer) {
        holdNextAttemptReply().complete(answer);
    }

    /**
     * The next {@code finish} runs {@code step} on the engine's thread, after recording the call and
     * before acting on it: a window between the engine's registering a lease and handing it over.
     */
    public synchronized void duringNextFinish(Runnable step) {
        finishSteps.add(step);
    }

    /** The next attempt fails with {@code failure}. */
    public synchronized void failNextAttempt(RuntimeException failure) {
        attemptScript.add(request -> CompletableFuture.failedFuture(failure));
    }

    /** The next renewal batch fails with {@code failure}. */
    public synchronized void failNextRenewal(RuntimeException failure) {
        renewScript.add(leases -> CompletableFuture.failedFuture(failure));
    }

    /** Every renewal fails with {@code failure} until {@link #healRenewals()}. */
    public synchronized void failRenewals(RuntimeException failure) {
        renewFailure = failure;
    }

    /** Renewals are answered from the state again. */
    public synchronized void healRenewals() {
        renewFailure = null;
        renewAnswer = null;
    }

    /** The next renewal batch throws {@code error} from {@code renewAll} itself, instead of failing a stage. */
    public synchronized void throwOnNextRenewal(Error error) {
        renewScript.add(leases -> {
            throw error;
        });
    }

    /** The next renewal batch answers exactly {@code answer}, whatever its size: a malformed reply. */
    public synchronized void answerNextRenewal(List<Boolean> answer) {
        renewScript.add(leases -> CompletableFuture.completedFuture(answer));
    }

    /** Every renewal batch answers exactly {@code answer} until {@link #healRenewals()}. */
    public synchronized void answerRenewals(List<Boolean> answer) {
        renewAnswer = List.copyOf(answer);
    }

    /** The next renewal batch answers {@code answer} for every lease in it, whatever the state. */
    public synchronized void answerNextRenewal(boolean answer) {
        renewScript.add(leases -> CompletableFuture.completedFuture(Collections.nCopies(leases.size(), answer)));
    }

    /** The next renewal batch replies only when the test completes the returned future. */
    public synchronized CompletableFuture<List<Boolean>> holdNextRenewal() {
        CompletableFuture<List<Boolean>> reply = new CompletableFuture<>();
        renewScript.add(leases -> reply);
        return reply;
    }

    /** The next release fails with {@code failure} (and leaves the lock in place). */
    public synchronized void failNextRelease(RuntimeException failure) {
        releaseFailures.add(failure);
    }

    /** The next release is answered (from the state at that moment) only when the returned gate completes. */
    public synchronized CompletableFuture<Void> holdNextRelease() {
        CompletableFuture<Void> gate = new CompletableFuture<>();
        releaseGates.add(gate);
        return gate;
    }

    /** Someone outside the client under test takes {@code name}; returns its token. */
    public synchronized long occupy(String name) {
        if (holders.putIfAbsent(name, OUTSIDER) != null) {
            throw new IllegalStateException(name + " is held already");
        }
        return tokens.merge(name, 1L, Long::sum);
    }

    /** The holder of {@code name} releases it; the oldest waiter is woken. */
    public void vacate(String name) {
        free(name, true);
    }

    /** The lock is deleted under its holder (an operator, a server-side expiry): nobody is woken. */
    public void revoke(String name) {
        free(name, false);
    }

    /** Reports through the engine's {@link LeaseEvents} that the leases matching {@code affected} are lost. */
    public void reportLost(Predicate<String> affected, String reason) {
        LeaseEvents<String> target;
        synchronized (this) {
            target = events;
        }
        if (target == null) {
            throw new IllegalStateException("the engine never called start()");
        }
        target.lost(affected, reason);
    }

    // ---- the record ----

    public synchronized @Nullable String holder(String name) {
        return holders.get(name);
    }

    public synchronized List<AttemptCall> attempts() {
        return List.copyOf(attempts);
    }

    public synchronized List<FinishCall> finishes() {
        return List.copyOf(finishes);
    }

    public synchronized List<RenewCall> renewals() {
        return List.copyOf(renewals);
    }

    public synchronized List<ReleaseCall> releases() {
        return List.copyOf(releases);
    }

    /** Every wake-up future handed out with a busy answer, oldest first. */
    public synchronized List<CompletableFuture<Void>> wakeUps() {
        return List.copyOf(wakeUps);
    }

    /** The wake-up of the latest busy answer. */
    public synchronized CompletableFuture<Void> lastWakeUp() {
        if (wakeUps.isEmpty()) {
            throw new IllegalStateException("no busy answer yet");
        }
        return wakeUps.get(wakeUps.size() - 1);
    }

    /** How many times {@link #close()} was called. */
    public synchronized int closes() {
        return closes;
    }

    /**
     * Waits (bounded) until {@code count} attempts were made, for tests where another thread makes
     * them.
     *
     * @throws AssertionError if they were not made within {@code timeout}
     */
    public synchronized void awaitAttempts(int count, Duration timeout) throws InterruptedException {
        long giveUp = System.nanoTime() + timeout.toNanos();
        while (attempts.size() < count) {
            long left = giveUp - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("expected " + count + " attempts within " + timeout + ", saw " + attempts.size());
            }
            wait(Math.max(1, left / 1_000_000));
        }
    }
}
