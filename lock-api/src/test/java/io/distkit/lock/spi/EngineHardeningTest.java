package io.distkit.lock.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockLostException;
import io.distkit.lock.LockTimeoutException;
import io.distkit.lock.spi.ScriptedBackend.FinishCall;
import io.distkit.lock.spi.ScriptedBackend.ReleaseCall;
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The engine's answers to a review: each group pins one hardening, so that undoing it fails here. */
@DisplayName("Engine hardening")
class EngineHardeningTest extends EngineTestSupport {

    private final ExecutorService caller = Executors.newSingleThreadExecutor();

    @AfterEach
    void stopCaller() throws InterruptedException {
        caller.shutdownNow();
        assertThat(caller.awaitTermination(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
    }

    private static <T> T within(Future<T> future) throws Exception {
        return future.get(BOUND.toSeconds(), TimeUnit.SECONDS);
    }

    @Nested
    @DisplayName("the wait while an attempt is in flight")
    class DeadlineInFlight {

        @Test
        void tryAcquireWithAWaitReturnsEmptyAtTheDeadlineAndGivesBackWhatTheAttemptBringsLater() throws Exception {
            CompletableFuture<Void> reply = backend.holdNextAttempt();
            Future<Optional<LockHandle>> result = caller.submit(() -> client.lock("free").tryAcquire(seconds(5)));
            time.awaitQueued(1, BOUND); // the deadline timer; the attempt has not answered
            String owner = lastOwner();

            time.advance(seconds(5).minus(NANO));
            assertThat(result).isNotDone();
            time.advance(NANO);
            assertThat(within(result)).isEmpty();
            assertThat(backend.finishes()).as("not while the attempt is in flight").isEmpty();

            reply.complete(null); // the attempt takes the lock after all
            assertThat(backend.holder("free")).isNull();
            assertThat(backend.releases()).extracting(ReleaseCall::owner).containsExactly(owner);
            assertThat(backend.finishes()).containsExactly(new FinishCall(owner, true));
            time.advance(Duration.ofMinutes(1));
            assertThat(backend.renewals()).isEmpty();
        }

        @Test
        void acquireAsyncFailsWithLockTimeoutExceptionAtTheDeadlineWhileARetryIsInFlight() {
            backend.occupy("a");
            CompletableFuture<LockHandle> waiting = client.lock("a").acquireAsync(seconds(5));
            String owner = lastOwner();
            CompletableFuture<Void> reply = backend.holdNextAttempt();
            backend.vacate("a"); // wakes the waiter; its retry stays in flight
            time.runPending();
            assertThat(backend.attempts()).hasSize(2);

            time.advance(seconds(5));
            assertThat(waiting).failsWithin(Duration.ZERO).withThrowableThat().havingCause()
                    .isInstanceOf(LockTimeoutException.class);

            reply.complete(null);
            assertThat(backend.holder("a")).isNull();
            assertThat(backend.releases()).extracting(ReleaseCall::owner).containsExactly(owner);
            assertThat(backend.finishes()).containsExactly(new FinishCall(owner, true));
        }

        @Test
        void aZeroWaitStillGetsTheAnswerOfItsOneAttempt() {
            CompletableFuture<Void> reply = backend.holdNextAttempt();
            CompletableFuture<LockHandle> once = client.lock("free").acquireAsync(Duration.ZERO);
            time.runPending();
            assertThat(once).as("zero means one attempt, not none").isNotDone();

            reply.complete(null);

            assertThat(once).isCompleted();
            assertThat(once.join().isHeld()).isTrue();
            assertThat(backend.releases()).isEmpty();
        }
    }

    @Nested
    @DisplayName("a hand-over that fails")
    class FailedHandOver {

        @Test
        void dropsOneHoldAndKeepsTheLeaseTheSameThreadReenteredMeanwhile() throws Exception {
            DistributedLock lock = client.lock("a");
            CompletableFuture<Void> reply = backend.holdNextAttempt();
            Future<Optional<LockHandle>> gaveUp = caller.submit(() -> lock.tryAcquire(seconds(5)));
            time.awaitQueued(1, BOUND);
            time.advance(seconds(5));
            assertThat(within(gaveUp)).isEmpty();

            // the late grant is registered for the caller's thread, which takes the lock again before
            // the engine finds that nobody waits for the grant any more
            CompletableFuture<Optional<LockHandle>> reentered = new CompletableFuture<>();
            backend.duringNextFinish(() -> {
                try {
                    reentered.complete(within(caller.submit(() -> lock.tryAcquire())));
                } catch (Exception e) {
                    reentered.completeExceptionally(e);
                }
            });
            reply.complete(null);

            LockHandle handle = reentered.get(0, TimeUnit.SECONDS).orElseThrow();
            assertThat(backend.attempts()).as("reentered, no round trip").hasSize(1);
            assertThat(handle.isHeld()).isTrue();
            assertThat(backend.releases()).isEmpty();

            handle.release();
            assertThat(backend.releases()).extracting(ReleaseCall::owner).containsExactly(lastOwner());
            assertThat(backend.holder("a")).isNull();
        }
    }

    @Nested
    @DisplayName("a backend that cannot say for the moment (a leader election)")
    class Unavailable {

        private final IllegalStateException election = new IllegalStateException("leader changed");

        @Test
        void aWaiterTriesAgainAfterTheGivenPauseAndGetsTheLock() {
            backend.answerNextAttempt(Attempt.unavailable(election, seconds(1)));
            CompletableFuture<LockHandle> pending = client.lock("free").acquireAsync(Duration.ofMinutes(1));
            assertThat(backend.attempts()).hasSize(1);

            time.advance(Duration.ofMillis(999));
            assertThat(backend.attempts()).as("not before the pause").hasSize(1);
            time.advance(Duration.ofMillis(101)); // the pause plus its jitter of at most 10 %

            assertThat(backend.attempts()).hasSize(2);
            assertThat(pending).isCompleted();
            assertThat(pending.join().isHeld()).isTrue();
        }

        @Test
        void aCallerWhoseWaitRunsOutWhileItLastsGetsTheCauseNotAnEmptyResult() {
            for (int i = 0; i < 3; i++) {
                backend.answerNextAttempt(Attempt.unavailable(election, seconds(1)));
            }
            CompletableFuture<LockHandle> pending = client.lock("free").acquireAsync(Duration.ofMillis(2_500));

            time.advance(seconds(3));

            assertThat(backend.attempts()).hasSize(3);
            assertThat(pending).failsWithin(BOUND).withThrowableOfType(java.util.concurrent.ExecutionException.class)
                    .havingCause().isInstanceOf(LockBackendException.class).withMessageContaining("leader changed");
            assertThat(backend.finishes()).containsExactly(new FinishCall(lastOwner(), false));
        }

        @Test
        void aCallerThatDoesNotWaitGetsTheCause() {
            backend.answerNextAttempt(Attempt.unavailable(election, seconds(1)));

            assertThatThrownBy(() -> client.lock("free").tryAcquire()).isInstanceOf(LockBackendException.class)
                    .hasMessageContaining("leader changed");
        }

        @Test
        void unavailableAnswersInARowPastTheBackendsLimitFailTheAcquisitionThoughTheCallerWouldWaitLonger() {
            backend.withUnavailableLimit(seconds(2));
            for (int i = 0; i < 10; i++) {
                backend.answerNextAttempt(Attempt.unavailable(election, seconds(1)));
            }
            CompletableFuture<LockHandle> pending = client.lock("free").acquireAsync(Duration.ofMinutes(1));

            time.advance(Duration.ofMillis(1_500)); // the second answer, 1 s (plus jitter) into the run
            assertThat(pending).as("within the limit").isNotDone();
            time.advance(seconds(2)); // the third, at 2 s or later: past the limit

            assertThat(pending).failsWithin(BOUND).withThrowableOfType(java.util.concurrent.ExecutionException.class)
                    .havingCause().isInstanceOf(LockBackendException.class).withMessageContaining("leader changed");
            assertThat(backend.attempts()).hasSize(3);
            assertThat(backend.finishes()).containsExactly(new FinishCall(lastOwner(), false));
        }

        @Test
        void anotherAnswerBetweenUnavailableOnesStartsTheLimitAfresh() {
            backend.withUnavailableLimit(seconds(2));
            backend.occupy("taken");
            backend.answerNextAttempt(Attempt.unavailable(election, seconds(1)));
            backend.answerNextAttempt(Attempt.unavailable(election, seconds(1)));
            CompletableFuture<LockHandle> pending = client.lock("taken").acquireAsync(Duration.ofMinutes(1));
            time.advance(Duration.ofMillis(1_100)); // the second unavailable answer, 1.1 s into the run
            time.advance(Duration.ofMillis(1_100)); // an ordinary busy answer (the lock is held): the run ends
            assertThat(backend.attempts()).hasSize(3);

            backend.answerNextAttempt(Attempt.unavailable(election, seconds(1)));
            backend.answerNextAttempt(Attempt.unavailable(election, seconds(1)));
            backend.vacate("taken"); // wakes the waiter: unavailable at 2.2 s, counted from now, not from 0
            time.advance(Duration.ofMillis(1_100));
            time.advance(Duration.ofMillis(1_100)); // the third attempt of the new run finds the lock free

            assertThat(backend.attempts()).hasSize(6);
            assertThat(pending).isCompleted();
            assertThat(pending.join().isHeld()).isTrue();
        }

        @Test
        void aLaterBusyAnswerMakesTheEndOfTheWaitAnOrdinaryTimeout() throws Exception {
            backend.occupy("taken");
            backend.answerNextAttempt(Attempt.unavailable(election, seconds(1)));
            CompletableFuture<LockHandle> pending = client.lock("taken").acquireAsync(Duration.ofMillis(2_500));

            time.advance(seconds(3)); // the retry finds the lock held by someone else

            assertThat(backend.attempts()).hasSizeGreaterThanOrEqualTo(2);
            assertThat(pending).isCompletedExceptionally();
            assertThatThrownBy(pending::join).hasCauseInstanceOf(LockTimeoutException.class);
        }
    }

    @Nested
    @DisplayName("a grant that comes too late")
    class LateGrant {

        @Test
        void aGrantAnsweredAtTheLocalDeadlineIsGivenBackAndTheLockAskedForAgain() {
            CompletableFuture<Void> reply = backend.holdNextAttempt();
            CompletableFuture<LockHandle> pending = client.lock("free").acquireAsync(Duration.ofMinutes(1));
            String owner = lastOwner();
            time.advanceTo(VALIDITY); // the lease asked for is over here before its grant arrives

            reply.complete(null); // "acquired", token 1

            assertThat(pending).as("a late success is never reported").isNotDone();
            assertThat(backend.releases()).extracting(ReleaseCall::owner).containsExactly(owner);
            assertThat(backend.holder("free")).isNull();

            time.advance(Duration.ofMillis(2)); // the retry, 1 ms later plus jitter
            assertThat(backend.attempts()).hasSize(2);
            assertThat(pending).isCompleted();
            assertThat(pending.join().fencingToken()).isEqualTo(2);
            assertThat(pending.join().isHeld()).isTrue();
            assertThat(backend.finishes()).containsExactly(new FinishCall(owner, true));
        }

        @Test
        void tryAcquireWithoutAWaitSaysTheGrantCameTooLateInsteadOfReturningEmpty() throws Exception {
            CompletableFuture<Void> reply = backend.holdNextAttempt();
            Future<Optional<LockHandle>> result = caller.submit(() -> client.lock("free").tryAcquire());
            backend.awaitAttempts(1, BOUND);
            String owner = lastOwner();
            time.advance(seconds(31)); // the reply takes longer than the 30 s lease

            reply.complete(null); // granted

            assertThatThrownBy(() -> within(result)).cause().isExactlyInstanceOf(LockBackendException.class)
                    .hasMessageStartingWith("lock 'free': the lock was granted, but the reply took 31000 ms,"
                            + " longer than the lease of 30000 ms allows here (29698 ms after the clock-drift allowance)")
                    .hasMessageContaining("the grant was given back").hasMessageContaining("Use a longer leaseTime");
            assertThat(backend.releases()).extracting(ReleaseCall::owner).containsExactly(owner);
            assertThat(backend.holder("free")).isNull();
        }

        @Test
        void aWaitThatEndsOnALateGrantThrowsInsteadOfReturningEmpty() throws Exception {
            CompletableFuture<Void> first = backend.holdNextAttempt();
            backend.holdNextAttempt(); // the retry after the late grant never answers in time
            Future<Optional<LockHandle>> result = caller.submit(() -> client.lock("free").tryAcquire(seconds(40)));
            time.awaitQueued(1, BOUND); // the wait's deadline timer
            time.advance(seconds(31));
            first.complete(null); // granted, too late: given back and asked again
            time.runPending();
            assertThat(backend.attempts()).hasSize(2);

            time.advanceTo(seconds(40));

            assertThatThrownBy(() -> within(result)).cause().isExactlyInstanceOf(LockBackendException.class)
                    .hasMessageContaining("the lock was granted, but the reply took 31000 ms");
        }

        @Test
        void aWaitThatEndsOnABusyAnswerAfterALateGrantIsEmpty() throws Exception {
            CompletableFuture<Void> first = backend.holdNextAttempt();
            CompletableFuture<LockHandle> pending = client.lock("free").acquireAsync(seconds(40));
            time.advance(seconds(31));
            first.complete(null); // too late: given back
            backend.occupy("free"); // before the retry: someone else holds it now
            time.runPending();
            assertThat(backend.attempts()).hasSize(2);

            time.advanceTo(seconds(40));

            assertThat(pending).failsWithin(Duration.ZERO).withThrowableThat().havingCause()
                    .isInstanceOf(LockTimeoutException.class);
        }

        @Test
        void aGrantAnsweredJustBeforeTheLocalDeadlineIsHandedOver() {
            CompletableFuture<Void> reply = backend.holdNextAttempt();
            CompletableFuture<LockHandle> pending = client.lock("free").acquireAsync(Duration.ofMinutes(1));
            time.advanceTo(VALIDITY.minus(NANO));

            reply.complete(null);

            assertThat(pending).isCompleted();
            assertThat(pending.join().isHeld()).isTrue();
            assertThat(backend.releases()).isEmpty();
        }
    }

    @Nested
    @DisplayName("a loss reported while an attempt is in flight")
    class LossInFlight {

        @Test
        void appliesToTheLeaseTheAttemptBringsBack() {
            CompletableFuture<Void> reply = backend.holdNextAttempt();
            CompletableFuture<LockHandle> pending = client.lock("a").acquireAsync(Duration.ofMinutes(1));
            String owner = lastOwner();
            backend.reportLost(owner::equals, "session expired"); // nothing held yet that it matches

            reply.complete(null);

            assertThat(pending).isCompleted();
            LockHandle handle = pending.join();
            Counter lost = new Counter();
            handle.onLost(lost);
            time.advance(Duration.ofMinutes(1));
            assertThat(handle.isHeld()).isFalse();
            assertThat(lost.runs()).isEqualTo(1);
            assertThatThrownBy(handle::release).isInstanceOf(LockLostException.class)
                    .hasMessageContaining("session expired");
            assertThat(backend.renewals()).isEmpty();
            assertThat(backend.releases()).isEmpty();
        }

        @Test
        void onlyLossesReportedAfterTheAttemptWasSentAndMatchingItApply() {
            backend.reportLost(lease -> true, "an earlier session expired");
            CompletableFuture<Void> reply = backend.holdNextAttempt();
            CompletableFuture<LockHandle> pending = client.lock("a").acquireAsync(Duration.ofMinutes(1));
            backend.reportLost(lease -> false, "someone else's session expired");

            reply.complete(null);

            assertThat(pending).isCompleted();
            assertThat(pending.join().isHeld()).isTrue();
        }
    }

    @Nested
    @DisplayName("release")
    class Release {

        @Test
        void onAnInterruptedThreadStillReleasesInTheBackendAndKeepsTheInterrupt() throws Exception {
            LockHandle handle = acquire("a");
            String owner = backend.holder("a");
            CompletableFuture<Void> answer = backend.holdNextRelease();
            CompletableFuture<Boolean> interruptedAfter = new CompletableFuture<>();
            Thread releaser = new Thread(() -> {
                Thread.currentThread().interrupt();
                try {
                    handle.release();
                    interruptedAfter.complete(Thread.currentThread().isInterrupted());
                } catch (Throwable e) {
                    interruptedAfter.completeExceptionally(e);
                }
            });
            releaser.start();
            // interrupted or not, the thread waits for the backend's answer
            Awaitility.await().atMost(BOUND).until(() -> interruptedAfter.isDone()
                    || releaser.getState() == Thread.State.TIMED_WAITING);

            answer.complete(null);

            assertThat(within(interruptedAfter)).as("interrupt flag kept").isTrue();
            releaser.join(BOUND.toMillis());
            assertThat(backend.releases()).extracting(ReleaseCall::owner).containsExactly(owner);
            assertThat(backend.holder("a")).isNull();
        }

        @Test
        void failsWithLockBackendExceptionWhenTheBackendDoesNotAnswerWithinTheOperationTimeout() throws Exception {
            ScriptedBackend silent = new ScriptedBackend(time);
            try (LockClient quick = LockEngine.builder(silent).ticker(time).scheduler(time)
                    .operationTimeout(Duration.ofMillis(100)).build()) {
                LockHandle handle = quick.lock("a").tryAcquire().orElseThrow();
                silent.holdNextRelease(); // never answered

                assertThatThrownBy(handle::release).isInstanceOf(LockBackendException.class)
                        .hasMessageContaining("lock 'a'").hasMessageContaining("release got no answer")
                        .hasMessageContaining("within PT0.1S");
                assertThat(handle.isHeld()).isFalse();
            }
        }
    }

    @Nested
    @DisplayName("an async acquire completed by its caller")
    class AsyncCompletedByCaller {

        @Test
        void givesUpItsQueuePlaceAtOnce() {
            backend.occupy("a");
            CompletableFuture<LockHandle> waiting = client.lock("a").acquireAsync(Duration.ofMinutes(1));
            String owner = lastOwner();

            waiting.completeExceptionally(new IllegalStateException("not needed any more"));

            assertThat(backend.finishes()).containsExactly(new FinishCall(owner, false));
            backend.vacate("a"); // would have woken it
            time.advance(Duration.ofMinutes(2));
            assertThat(backend.attempts()).hasSize(1);
            assertThat(backend.holder("a")).isNull();
        }

        @Test
        void releasesAGrantThatArrivesAfterItsOwnTimeout() {
            CompletableFuture<Void> reply = backend.holdNextAttempt();
            CompletableFuture<LockHandle> pending = client.lock("free").acquireAsync(Duration.ofMinutes(1))
                    .orTimeout(10, TimeUnit.MILLISECONDS);
            String owner = lastOwner();
            Awaitility.await().atMost(BOUND).until(pending::isDone);

            reply.complete(null);

            assertThat(pending).failsWithin(Duration.ZERO).withThrowableThat().havingCause()
                    .isInstanceOf(TimeoutException.class);
            assertThat(backend.holder("free")).isNull();
            assertThat(backend.releases()).extracting(ReleaseCall::owner).containsExactly(owner);
            assertThat(backend.finishes()).containsExactly(new FinishCall(owner, true));
        }
    }

    /** Lock "a" is free: the first attempt the backend answers from its state acquires it. */
    @Nested
    @DisplayName("wake-up signals")
    class WakeUpSignals {

        @Test
        void aSignalReusedAcrossRoundsGetsOneCallback() {
            CompletableFuture<Void> signal = new CompletableFuture<>();
            for (int i = 0; i < 3; i++) {
                backend.answerNextAttempt(Attempt.busy(seconds(1), signal));
            }
            CompletableFuture<LockHandle> waiting = client.lock("a").acquireAsync(Duration.ofMinutes(1));
            time.advance(Duration.ofMillis(1_100)); // retry timer: 1 s plus at most 10% jitter
            time.advance(Duration.ofMillis(1_100));
            assertThat(backend.attempts()).hasSize(3);
            assertThat(signal.getNumberOfDependents()).isEqualTo(1);

            signal.complete(null);
            time.runPending();

            assertThat(backend.attempts()).as("one signal, one attempt").hasSize(4);
            assertThat(waiting).isCompleted();
        }

        @ParameterizedTest(name = "same signal in the late answer: {0}")
        @ValueSource(booleans = {true, false})
        void aSignalThatFiresWhileARetryIsInFlightIsActedOn(boolean sameSignal) {
            CompletableFuture<Void> signal = new CompletableFuture<>();
            backend.answerNextAttempt(Attempt.busy(seconds(1), signal));
            CompletableFuture<Attempt<String>> secondReply = backend.holdNextAttemptReply();
            CompletableFuture<LockHandle> waiting = client.lock("a").acquireAsync(Duration.ofMinutes(1));
            time.advance(Duration.ofMillis(1_100));
            assertThat(backend.attempts()).as("the retry is in flight").hasSize(2);

            signal.complete(null); // the holder releases while the retry's answer is on its way...
            // ...an answer given just before: busy, retry when the holder's lease would run out
            secondReply.complete(Attempt.busy(seconds(20), sameSignal ? signal : new CompletableFuture<>()));
            time.runPending();

            assertThat(backend.attempts()).as("tried again at once, not 20 s later").hasSize(3);
            assertThat(waiting).isCompleted();
        }
    }

    @Nested
    @DisplayName("renewal passes and a broken backend")
    class BrokenRenewals {

        @Test
        void aRenewAllThatThrowsOnceIsRetriedAndTheLockKept() {
            LockHandle handle = acquire("a");
            Counter lost = new Counter();
            handle.onLost(lost);
            backend.throwOnNextRenewal(new LinkageError("driver class missing"));

            time.advanceTo(Duration.ofMinutes(2));

            assertThat(backend.renewals().size()).as("retried after the throw, then renewed on schedule")
                    .isGreaterThan(2);
            assertThat(lost.runs()).isZero();
            assertThat(handle.isHeld()).isTrue();
        }

        @ParameterizedTest(name = "{0} answers for 1 lease")
        @ValueSource(ints = {0, 2})
        void aReplyOfTheWrongSizeCountsAsAFailedRenewalAndIsRetriedSoon(int answers) {
            LockHandle handle = acquire("a");
            backend.answerNextRenewal(Collections.nCopies(answers, true));

            time.advanceTo(Duration.ofMinutes(2));

            assertThat(handle.isHeld()).isTrue();
            assertThat(renewalTimes().get(0)).isEqualTo(seconds(10));
            assertThat(renewalTimes().get(1)).as("retried before the next regular renewal").isLessThan(seconds(20));
        }

        @Test
        void aBackendThatKeepsAnsweringTheWrongSizeLosesTheLockAtItsDeadlineNotBefore() {
            LockHandle handle = acquire("a");
            Counter lost = new Counter();
            handle.onLost(lost);
            backend.answerRenewals(List.of());

            time.advanceTo(VALIDITY.minus(NANO));
            assertThat(backend.renewals()).as("retried").hasSizeGreaterThan(1);
            assertThat(lost.runs()).isZero();
            assertThat(handle.isHeld()).isTrue();

            time.advance(NANO);
            assertThat(lost.runs()).isEqualTo(1);
            assertThat(handle.isHeld()).isFalse();
        }
    }

    @Nested
    @DisplayName("close drains")
    class CloseDrains {

        @Test
        void closeWaitsForAnAttemptInFlightAndGivesBackItsLateGrantBeforeClosingTheBackend() throws Exception {
            CompletableFuture<Attempt<String>> reply = backend.holdNextAttemptReply();
            CompletableFuture<LockHandle> pending = client.lock("a").acquireAsync(Duration.ofMinutes(1));
            java.util.concurrent.ExecutorService closer = java.util.concurrent.Executors.newSingleThreadExecutor();
            try {
                java.util.concurrent.Future<?> closing = closer.submit(client::close);
                assertThat(pending).failsWithin(BOUND);
                assertThat(closing).as("close waits for the attempt in flight").isNotDone();
                assertThat(backend.closes()).isZero();

                reply.complete(Attempt.acquired(7, lastOwner()));

                closing.get(BOUND.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
                assertThat(backend.releases()).extracting(ScriptedBackend.ReleaseCall::owner).contains(lastOwner());
                assertThat(backend.closes()).isEqualTo(1);
            } finally {
                closer.shutdownNow();
            }
        }
    }
}
