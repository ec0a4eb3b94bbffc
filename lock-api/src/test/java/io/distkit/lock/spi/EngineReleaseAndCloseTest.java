package io.distkit.lock.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockException;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockLostException;
import io.distkit.lock.spi.ScriptedBackend.FinishCall;
import io.distkit.lock.spi.ScriptedBackend.ReleaseCall;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

@DisplayName("Release and close")
class EngineReleaseAndCloseTest extends EngineTestSupport {

    @Nested
    @DisplayName("release")
    class Release {

        @Test
        void aHandleCanBeReleasedFromAnotherThread() throws Exception {
            LockHandle handle = acquire("a");
            String owner = backend.holder("a");
            ExecutorService other = Executors.newSingleThreadExecutor();
            try {
                other.submit(handle::release).get(BOUND.toSeconds(), TimeUnit.SECONDS);
            } finally {
                other.shutdownNow();
            }

            assertThat(handle.isHeld()).isFalse();
            assertThat(backend.releases()).extracting(ReleaseCall::owner).containsExactly(owner);
            assertThat(backend.holder("a")).isNull();
            assertThat(acquire("a").fencingToken()).isGreaterThan(handle.fencingToken());
        }

        @Test
        void aUsersReleaseIsMarkedForTheCallersThreadAndTheEnginesOwnAreNot() throws Exception {
            LockHandle byUser = acquire("a");
            byUser.release();
            acquire("b");
            client.close(); // the engine releases "b" itself

            assertThat(backend.releases()).extracting(ReleaseCall::forCaller).containsExactly(true, false);
        }

        @Test
        void onlyBlockingAcquisitionsSayTheCallerBlocks() throws Exception {
            acquire("a");
            client.lock("b").tryAcquire().orElseThrow();
            client.lock("c").acquireAsync(Duration.ZERO).get(BOUND.toSeconds(), TimeUnit.SECONDS);

            assertThat(backend.attempts()).extracting(call -> call.request().callerBlocks())
                    .containsExactly(true, true, false);
        }

        @Test
        void releaseIsIdempotent() {
            LockHandle handle = acquire("a");
            handle.release();
            handle.release();
            handle.close();
            assertThat(backend.releases()).hasSize(1);
        }

        @Test
        void releaseReportsALockTheBackendNoLongerHad() {
            LockHandle handle = acquire("a");
            backend.revoke("a");
            assertThatThrownBy(handle::release).isInstanceOf(LockLostException.class)
                    .hasMessageContaining("lock 'a'").hasMessageContaining("no longer held");
            assertThatCode(handle::release).doesNotThrowAnyException();
        }

        @Test
        void releaseReportsABackendFailureWithItsCause() {
            LockHandle handle = acquire("a");
            IllegalStateException cause = new IllegalStateException("connection reset");
            backend.failNextRelease(cause);
            assertThatThrownBy(handle::release).isInstanceOf(LockBackendException.class)
                    .hasMessageContaining("lock 'a'").hasMessageContaining("release")
                    .satisfies(e -> assertThat(e.getCause()).isSameAs(cause));
            assertThat(handle.isHeld()).isFalse();
        }

        @Test
        void releaseAfterTheDeadlineReportsTheLossEvenWhenTheSchedulerIsLate() {
            LockHandle handle = acquire("a", noRenew());
            Counter lost = new Counter();
            handle.onLost(lost);
            time.skip(VALIDITY); // the deadline pass is due but has not run

            assertThatThrownBy(handle::release).isInstanceOf(LockLostException.class).hasMessageContaining("deadline");
            time.runPending();
            assertThat(lost.runs()).as("lost before the release, so the listener runs").isEqualTo(1);
        }
    }

    @Nested
    @DisplayName("close")
    class Close {

        @Test
        void closeReleasesEveryHeldLockInTheBackend() {
            LockHandle a = acquire("a");
            LockHandle a2 = acquire("a");
            LockHandle b = acquire("b");
            String ownerA = backend.holder("a");
            String ownerB = backend.holder("b");

            client.close();

            assertThat(backend.releases()).extracting(ReleaseCall::owner).containsExactlyInAnyOrder(ownerA, ownerB);
            assertThat(backend.holder("a")).isNull();
            assertThat(backend.holder("b")).isNull();
            assertThat(a.isHeld()).isFalse();
            assertThat(a2.isHeld()).isFalse();
            assertThat(b.isHeld()).isFalse();
            assertThatCode(a::release).doesNotThrowAnyException();
            assertThatCode(a2::release).doesNotThrowAnyException();
            assertThatCode(b::close).doesNotThrowAnyException();
            assertThat(backend.releases()).hasSize(2);
            assertThat(backend.closes()).isEqualTo(1);
        }

        @Test
        void closeStopsRenewalsAndLeavesNoTimerBehind() {
            acquire("a");
            acquire("b", noRenew());
            client.close();
            assertThat(time.queued()).isZero();
            time.advance(Duration.ofMinutes(2));
            assertThat(backend.renewals()).isEmpty();
        }

        @Test
        void closeFailsWaitingAcquisitionsWithLockException() {
            backend.occupy("a");
            CompletableFuture<LockHandle> waiting = client.lock("a").acquireAsync(Duration.ofMinutes(1));
            assertThat(waiting).isNotDone();

            client.close();

            assertThat(waiting).failsWithin(Duration.ZERO).withThrowableThat().havingCause()
                    .isExactlyInstanceOf(LockException.class).withMessageContaining("closed");
            assertThat(backend.finishes()).containsExactly(new FinishCall(lastOwner(), false));
            assertThat(time.queued()).isZero();
        }

        @Test
        void closeFailsAnAcquisitionWhoseFirstAttemptIsStillInFlight() {
            CompletableFuture<Void> reply = backend.holdNextAttempt();
            CompletableFuture<LockHandle> pending = client.lock("a").acquireAsync(Duration.ofMinutes(1));

            client.close();
            assertThat(pending).failsWithin(Duration.ZERO).withThrowableThat().havingCause()
                    .isExactlyInstanceOf(LockException.class).withMessageContaining("closed");

            reply.complete(null); // the attempt takes the lock after all: nobody will ever release it but the engine
            assertThat(backend.holder("a")).isNull();
            assertThat(backend.releases()).extracting(ReleaseCall::owner).containsExactly(lastOwner());
            assertThat(backend.finishes()).hasSize(1);
        }

        @Test
        void aBlockedAcquireThrowsLockExceptionWhenTheClientCloses() throws Exception {
            backend.occupy("a");
            ExecutorService caller = Executors.newSingleThreadExecutor();
            try {
                Future<LockHandle> blocked = caller.submit(() -> client.lock("a").acquire());
                backend.awaitAttempts(1, BOUND);
                client.close();
                assertThatThrownBy(() -> blocked.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                        .isInstanceOf(ExecutionException.class).cause()
                        .isExactlyInstanceOf(LockException.class).hasMessageContaining("closed");
            } finally {
                caller.shutdownNow();
            }
        }

        @Test
        void afterCloseNewLocksAndAcquisitionsAreRefused() {
            DistributedLock early = client.lock("a");
            client.close();

            assertThatIllegalStateException().isThrownBy(() -> client.lock("b")).withMessageContaining("closed");
            assertThatIllegalStateException().isThrownBy(() -> early.acquireAsync(Duration.ZERO));
            assertThatIllegalStateException().isThrownBy(early::tryAcquire);
            assertThat(backend.attempts()).isEmpty();
        }

        @Test
        void closeIsIdempotent() {
            acquire("a");
            client.close();
            client.close();
            assertThat(backend.releases()).hasSize(1);
            assertThat(backend.closes()).isEqualTo(1);
        }

        /** A client whose close has 200 ms: 100 for attempts in flight, the rest for its releases. */
        private LockClient quickToClose(ScriptedBackend on) {
            return LockEngine.builder(on).ticker(time).scheduler(time).operationTimeout(Duration.ofMillis(200)).build();
        }

        @Test
        void closeReleasesEveryHeldLockEvenWhenAnAttemptInFlightNeverAnswers() throws Exception {
            ScriptedBackend slow = new ScriptedBackend(time);
            LockClient quick = quickToClose(slow);
            LockHandle held = quick.lock("a").tryAcquire().orElseThrow();
            String owner = slow.holder("a");
            Counter lost = new Counter();
            held.onLost(lost);
            slow.holdNextAttemptReply(); // never answered
            CompletableFuture<LockHandle> inFlight = quick.lock("b").acquireAsync(Duration.ofMinutes(1));

            quick.close(); // its wait for the attempt times out after 100 ms

            assertThat(inFlight).isCompletedExceptionally();
            assertThat(slow.releases()).extracting(ReleaseCall::owner).containsExactly(owner);
            assertThat(slow.holder("a")).isNull();
            assertThat(held.isHeld()).isFalse();
            assertThat(held.lostReason()).as("released by close, not lost").isEmpty();
            time.runPending();
            assertThat(lost.runs()).isZero();
            assertThatCode(held::release).doesNotThrowAnyException();
            assertThat(slow.closes()).isEqualTo(1);
        }

        @Test
        void aLockCloseCannotReleaseIsLostAndItsListenersRun() {
            LockHandle handle = acquire("a");
            Counter lost = new Counter();
            handle.onLost(lost);
            backend.failNextRelease(new IllegalStateException("connection reset"));

            client.close();

            assertThat(handle.isHeld()).isFalse();
            assertThat(handle.lostReason()).hasValueSatisfying(reason -> assertThat(reason)
                    .contains("close could not release it").contains("connection reset"));
            time.runPending();
            assertThat(lost.runs()).isEqualTo(1);
            assertThatThrownBy(handle::release).isInstanceOf(LockLostException.class).hasMessageContaining("close");
            assertThat(backend.releases()).as("nothing more is sent to a closed backend").hasSize(1);
        }

        @Test
        void aLockWhoseReleaseGetsNoAnswerWithinCloseIsLost() {
            ScriptedBackend silent = new ScriptedBackend(time);
            LockClient quick = quickToClose(silent);
            LockHandle handle = quick.lock("a").acquireAsync(Duration.ZERO).join();
            Counter lost = new Counter();
            handle.onLost(lost);
            silent.holdNextRelease(); // never answered

            quick.close();

            assertThat(handle.isHeld()).isFalse();
            assertThat(handle.lostReason()).hasValueSatisfying(reason -> assertThat(reason)
                    .contains("got no answer to its release").contains("PT0.2S"));
            time.runPending();
            assertThat(lost.runs()).isEqualTo(1);
            assertThat(silent.closes()).isEqualTo(1);
        }

        @Test
        void aHandleItsOwnerReleasedDuringCloseGetsNoListenerCall() {
            LockHandle handle = acquire("a");
            Counter lost = new Counter();
            handle.onLost(lost);
            CompletableFuture<Void> answer = backend.holdNextRelease();
            CompletableFuture<Void> closing = CompletableFuture.runAsync(client::close);
            Awaitility.await().atMost(BOUND).until(() -> !backend.releases().isEmpty());

            handle.release(); // being released by close: nothing to do, nothing thrown
            answer.completeExceptionally(new IllegalStateException("connection reset"));
            closing.orTimeout(BOUND.toSeconds(), TimeUnit.SECONDS).join();

            time.runPending();
            assertThat(handle.isHeld()).isFalse();
            assertThat(lost.runs()).as("its owner had let it go").isZero();
        }

        @Test
        void closeLeavesAnInjectedSchedulerRunning() {
            client.close();
            assertThat(time.isShutdown()).isFalse();
        }
    }
}
