package io.distkit.lock.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockTimeoutException;
import io.distkit.lock.spi.ScriptedBackend.FinishCall;
import io.distkit.lock.spi.ScriptedBackend.ReleaseCall;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** Lock "a" is held by someone outside the client under test; lock "free" is not. */
@DisplayName("Waiting for a busy lock")
class EngineWaitingTest extends EngineTestSupport {

    private final ExecutorService caller = Executors.newSingleThreadExecutor();

    @BeforeEach
    void someoneElseHoldsA() {
        backend.occupy("a");
    }

    @AfterEach
    void stopCaller() throws InterruptedException {
        caller.shutdownNow();
        assertThat(caller.awaitTermination(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
    }

    @Nested
    @DisplayName("wake-ups and retries")
    class WakeUps {

        @Test
        void aWaiterTriesAgainWhenWokenOrOncePerLeaseAsASafetyNetNeverByPolling() {
            CompletableFuture<LockHandle> waiting = client.lock("a").acquireAsync(Duration.ofDays(1));
            time.advance(LEASE.minus(NANO));
            assertThat(backend.attempts()).as("no retry within a lease without a wake-up").hasSize(1);

            backend.lastWakeUp().complete(null);
            assertThat(backend.attempts()).as("the retry runs on the scheduler, not on the waker's stack").hasSize(1);
            time.runPending();
            assertThat(backend.attempts()).hasSize(2);

            // a lost notification delays a waiter by at most one lease (plus up to 10% jitter)
            time.advance(LEASE.minus(NANO));
            assertThat(backend.attempts()).hasSize(2);
            time.advance(LEASE.dividedBy(10).plus(NANO));
            assertThat(backend.attempts()).hasSize(3);
            assertThat(waiting).isNotDone();
        }

        @Test
        void anExplicitZeroRetryAfterRetriesAtOnceOnTheScheduler() {
            backend.retryAfter(Duration.ZERO);
            client.lock("a").acquireAsync(Duration.ofMinutes(1));
            assertThat(backend.attempts()).as("not on the caller's stack").hasSize(1);
            backend.retryAfter(seconds(5)); // a backend answers zero once (it has just prepared its wake-up)

            time.runPending(); // no time passes: the retry is due at once, not after the 1 ms floor

            assertThat(attemptTimes()).containsExactly(Duration.ZERO, Duration.ZERO);
        }

        @Test
        void withoutAWakeUpTheWaiterRetriesAfterRetryAfterPlusAtMostTenPercentJitter() {
            backend.retryAfter(seconds(5));
            client.lock("a").acquireAsync(Duration.ofMinutes(1));

            time.advanceTo(seconds(5).minus(NANO));
            assertThat(backend.attempts()).hasSize(1);
            time.advanceTo(Duration.ofMillis(5_500));
            assertThat(backend.attempts()).hasSize(2);
            assertThat(attemptTimes().get(1)).isBetween(seconds(5), Duration.ofMillis(5_500));
        }

        @Test
        void aWakeUpBeforeRetryAfterTriggersExactlyOneAttemptAndVoidsTheTimer() {
            backend.retryAfter(seconds(5));
            client.lock("a").acquireAsync(Duration.ofMinutes(1));
            time.advanceTo(seconds(2));
            backend.lastWakeUp().complete(null);

            time.advanceTo(seconds(7).minus(NANO)); // the timer of 5 s belonged to the round the wake-up ended
            assertThat(attemptTimes()).containsExactly(Duration.ZERO, seconds(2));
            time.advanceTo(Duration.ofMillis(7_500));
            assertThat(attemptTimes()).hasSize(3);
            assertThat(attemptTimes().get(2)).isBetween(seconds(7), Duration.ofMillis(7_500));
        }

        @Test
        void aSignalOfAnEarlierRoundStillWakesTheCurrentOneOnce() {
            backend.retryAfter(seconds(5));
            client.lock("a").acquireAsync(Duration.ofMinutes(1));
            CompletableFuture<Void> firstWakeUp = backend.lastWakeUp();
            time.advanceTo(Duration.ofMillis(5_500)); // the first round ended by its timer (5 s + jitter)
            assertThat(attemptTimes()).hasSize(2);

            firstWakeUp.complete(null); // a release is news whenever it arrives: the waiter tries again
            time.runPending();
            time.advanceTo(seconds(10).minus(NANO));

            assertThat(attemptTimes()).hasSize(3);
            assertThat(attemptTimes().get(2)).isEqualTo(Duration.ofMillis(5_500));
        }

        @Test
        void aWaiterGetsTheLockWhenTheHolderReleases() {
            CompletableFuture<LockHandle> waiting = client.lock("a").acquireAsync(Duration.ofMinutes(1));
            backend.vacate("a");
            time.runPending();

            assertThat(waiting).isCompleted();
            assertThat(waiting.join().fencingToken()).isEqualTo(2);
            assertThat(backend.finishes()).containsExactly(new FinishCall(lastOwner(), true));
        }
    }

    @Nested
    @DisplayName("when the wait runs out")
    class Timeouts {

        @Test
        void tryAcquireWithAWaitReturnsEmptyAtTheDeadlineAndFinishesOnce() throws Exception {
            Future<Optional<LockHandle>> result = caller.submit(() -> client.lock("a").tryAcquire(seconds(5)));
            time.awaitQueued(2, BOUND); // the first attempt was busy: retry timer and deadline timer armed

            time.advance(seconds(5).minus(NANO));
            assertThat(result).isNotDone();
            time.advance(NANO);

            assertThat(result.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isEmpty();
            assertThat(attemptTimes()).as("the deadline ends the wait; no attempt after it").containsExactly(Duration.ZERO);
            assertThat(backend.finishes()).containsExactly(new FinishCall(lastOwner(), false));
        }

        @Test
        void tryAcquireWithoutAWaitMakesOneAttempt() throws Exception {
            assertThat(client.lock("a").tryAcquire()).isEmpty();
            assertThat(backend.attempts()).hasSize(1);
            assertThat(backend.finishes()).containsExactly(new FinishCall(lastOwner(), false));
            assertThat(time.queued()).isZero();
        }

        @Test
        void acquireAsyncFailsWithLockTimeoutExceptionWhenTheWaitRunsOut() {
            Duration wait = seconds(5);
            CompletableFuture<LockHandle> waiting = client.lock("a").acquireAsync(wait);

            time.advance(wait.minus(NANO));
            assertThat(waiting).isNotDone();
            time.advance(NANO);

            assertThat(waiting).failsWithin(Duration.ZERO).withThrowableThat().havingCause()
                    .isInstanceOfSatisfying(LockTimeoutException.class, e -> {
                        assertThat(e.waited()).isEqualTo(wait);
                        assertThat(e.lockName()).isEqualTo("a");
                    });
            assertThat(backend.finishes()).containsExactly(new FinishCall(lastOwner(), false));
        }
    }

    @Nested
    @DisplayName("cancellation and interruption")
    class Cancellation {

        @Test
        void cancellingAWaitingAcquisitionFinishesItAndStopsTrying() {
            CompletableFuture<LockHandle> waiting = client.lock("a").acquireAsync(Duration.ofMinutes(1));
            String owner = lastOwner();

            assertThat(waiting.cancel(false)).isTrue();
            assertThat(backend.finishes()).containsExactly(new FinishCall(owner, false));

            backend.lastWakeUp().complete(null);
            time.advance(Duration.ofHours(1));
            assertThat(backend.attempts()).hasSize(1);
            assertThat(backend.finishes()).hasSize(1);
        }

        @Test
        void cancellingWhileTheFirstAttemptIsInFlightReleasesWhatItGets() {
            CompletableFuture<Void> reply = backend.holdNextAttempt();
            CompletableFuture<LockHandle> pending = client.lock("free").acquireAsync(Duration.ofMinutes(1));
            String owner = lastOwner();
            pending.cancel(false);

            reply.complete(null); // the attempt takes the lock after all

            assertThat(backend.holder("free")).isNull();
            assertThat(backend.releases()).extracting(ReleaseCall::owner).containsExactly(owner);
            assertThat(backend.finishes()).hasSize(1);
            time.advance(Duration.ofMinutes(1));
            assertThat(backend.renewals()).isEmpty();
        }

        @Test
        void cancellingWhileARetryIsInFlightReleasesWhatItGets() {
            CompletableFuture<LockHandle> waiting = client.lock("a").acquireAsync(Duration.ofMinutes(1));
            String owner = lastOwner();
            CompletableFuture<Void> reply = backend.holdNextAttempt();
            backend.vacate("a"); // wakes the waiter
            time.runPending(); // its retry is now in flight
            waiting.cancel(false);
            assertThat(backend.finishes()).as("not while an attempt is in flight").isEmpty();

            reply.complete(null);

            assertThat(backend.holder("a")).isNull();
            assertThat(backend.releases()).extracting(ReleaseCall::owner).containsExactly(owner);
            assertThat(backend.finishes()).hasSize(1);
        }

        @Test
        void cancellingWhileARetryIsInFlightThatFindsTheLockBusyFinishesOnce() {
            CompletableFuture<LockHandle> waiting = client.lock("a").acquireAsync(Duration.ofMinutes(1));
            String owner = lastOwner();
            CompletableFuture<Void> reply = backend.holdNextAttempt();
            backend.lastWakeUp().complete(null);
            time.runPending();
            waiting.cancel(false);

            reply.complete(null); // still busy

            assertThat(backend.finishes()).containsExactly(new FinishCall(owner, false));
            time.advance(Duration.ofHours(1));
            assertThat(backend.attempts()).hasSize(2);
        }

        @Test
        void interruptingABlockedAcquireLeavesNothingBehind() throws Exception {
            CompletableFuture<Object> outcome = new CompletableFuture<>();
            Thread blocked = new Thread(() -> {
                try {
                    outcome.complete(client.lock("a").acquire());
                } catch (Throwable e) {
                    outcome.complete(e);
                }
            });
            blocked.start();
            backend.awaitAttempts(1, BOUND);

            blocked.interrupt();

            assertThat(outcome.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isInstanceOf(InterruptedException.class);
            assertThat(backend.finishes()).containsExactly(new FinishCall(lastOwner(), false));
            backend.vacate("a");
            time.advance(Duration.ofHours(1));
            assertThat(backend.attempts()).hasSize(1);
            assertThat(backend.holder("a")).isNull();
        }

        @Test
        void aBlockedAcquireReturnsTheLockWhenTheHolderReleases() throws Exception {
            Future<LockHandle> blocked = caller.submit(() -> client.lock("a").acquire());
            backend.awaitAttempts(1, BOUND);

            backend.vacate("a");
            // the woken waiter's next attempt is queued once the caller's thread has seen the busy answer
            org.awaitility.Awaitility.await().atMost(BOUND).until(() -> {
                time.runPending();
                return blocked.isDone();
            });

            LockHandle handle = blocked.get(BOUND.toSeconds(), TimeUnit.SECONDS);
            assertThat(handle.isHeld()).isTrue();
            assertThat(backend.holder("a")).isEqualTo(lastOwner());
        }
    }

    @Nested
    @DisplayName("backend failures")
    class Failures {

        @Test
        void anAttemptThatFailsCompletesWithLockBackendExceptionCarryingTheCause() {
            IllegalStateException cause = new IllegalStateException("connection refused");
            backend.failNextAttempt(cause);

            CompletableFuture<LockHandle> failed = client.lock("free").acquireAsync(Duration.ofMinutes(1));

            assertThat(failed).failsWithin(Duration.ZERO).withThrowableThat().havingCause()
                    .isInstanceOf(LockBackendException.class).withMessageContaining("lock 'free'")
                    .withMessageContaining("scripted backend").havingCause().isSameAs(cause);
            assertThat(backend.finishes()).containsExactly(new FinishCall(lastOwner(), false));
        }

        @Test
        void aFailedAttemptMakesTheBlockingCallThrowLockBackendException() {
            IllegalStateException cause = new IllegalStateException("connection refused");
            backend.failNextAttempt(cause);

            assertThatThrownBy(() -> client.lock("free").tryAcquire(seconds(5)))
                    .isInstanceOf(LockBackendException.class).cause().isSameAs(cause);
            assertThat(backend.finishes()).containsExactly(new FinishCall(lastOwner(), false));
        }

        @Test
        void aRetryThatFailsEndsTheWaitWithLockBackendException() {
            CompletableFuture<LockHandle> waiting = client.lock("a").acquireAsync(Duration.ofMinutes(1));
            IllegalStateException cause = new IllegalStateException("connection refused");
            backend.failNextAttempt(cause);
            backend.lastWakeUp().complete(null);
            time.runPending();

            assertThat(waiting).failsWithin(Duration.ZERO).withThrowableThat().havingCause()
                    .isInstanceOf(LockBackendException.class).havingCause().isSameAs(cause);
            assertThat(backend.finishes()).containsExactly(new FinishCall(lastOwner(), false));
        }
    }
}
