package io.distkit.lock.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockLostException;
import io.distkit.lock.spi.ScriptedBackend.ReleaseCall;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

@DisplayName("Lost-lease detection")
class EngineLostLeaseTest extends EngineTestSupport {

    @Nested
    @DisplayName("when a renewal finds the lock gone")
    class RenewalSaysNotHeld {

        @Test
        void theHandleIsLostAtOnceNotAtTheDeadline() {
            LockHandle handle = acquire("a");
            Counter lost = new Counter();
            handle.onLost(lost);
            backend.revoke("a");

            time.advanceTo(seconds(10));

            assertThat(handle.isHeld()).isFalse();
            assertThat(lost.runs()).isEqualTo(1);
        }

        @Test
        void releaseThenThrowsLockLostExceptionOnceAndAfterwardsDoesNothing() {
            LockHandle handle = acquire("a");
            backend.answerNextRenewal(false);
            time.advanceTo(seconds(10));

            assertThatThrownBy(handle::release).isInstanceOf(LockLostException.class)
                    .hasMessageContaining("lock 'a'").hasMessageContaining("renewal found the lock gone");
            assertThatCode(handle::release).doesNotThrowAnyException();
            assertThat(backend.releases()).as("the backend said it is not ours: nothing to release").isEmpty();
        }

        @Test
        void theHandleSaysWhyItWasLostAndNothingBefore() {
            LockHandle handle = acquire("a");
            assertThat(handle.lostReason()).as("held").isEmpty();
            backend.answerNextRenewal(false);

            time.advanceTo(seconds(10));

            assertThat(handle.lostReason()).hasValueSatisfying(reason ->
                    assertThat(reason).contains("renewal found the lock gone"));
        }

        @Test
        void aReleasedHandleWasNotLost() {
            LockHandle handle = acquire("a");
            handle.release();
            assertThat(handle.lostReason()).isEmpty();
        }

        @Test
        void aLostLockIsNotRenewedAgain() {
            acquire("a");
            backend.answerNextRenewal(false);
            time.advanceTo(Duration.ofMinutes(2));
            assertThat(renewalTimes()).containsExactly(seconds(10));
        }
    }

    @Nested
    @DisplayName("when a renewal batch cannot say for one of its leases")
    class RenewalUnknownForOneLease {

        @Test
        void theOthersAreExtendedAndTheUnknownOneKeepsItsDeadline() {
            LockHandle a = acquire("a");
            LockHandle b = acquire("b");
            backend.answerNextRenewal(java.util.Arrays.asList(true, null)); // one batch at 10 s, both leases
            time.advanceTo(seconds(10));
            assertThat(a.isHeld()).isTrue();
            assertThat(b.isHeld()).isTrue();
            assertThat(renewalTimes()).as("one batch for both").containsExactly(seconds(10));

            backend.failRenewals(new IllegalStateException("backend unreachable"));
            time.advanceTo(VALIDITY);

            assertThat(java.util.stream.Stream.of(a, b).filter(LockHandle::isHeld).count())
                    .as("the lease answered true runs from the renewal; the unknown one is lost at its old deadline")
                    .isEqualTo(1);
        }
    }

    @Nested
    @DisplayName("when renewals keep failing")
    class RenewalsFail {

        @BeforeEach
        void backendUnreachable() {
            backend.failRenewals(new IllegalStateException("backend unreachable"));
        }

        @Test
        void theyAreRetriedBeforeTheDeadline() {
            LockHandle handle = acquire("a");
            time.advanceTo(VALIDITY.minus(NANO));

            List<Duration> sent = renewalTimes();
            assertThat(sent).hasSizeGreaterThanOrEqualTo(3).isSorted().doesNotHaveDuplicates()
                    .allSatisfy(at -> assertThat(at).isLessThan(VALIDITY));
            assertThat(sent.get(0)).isEqualTo(seconds(10));
            assertThat(handle.isHeld()).isTrue();
        }

        @Test
        void theHandleIsLostExactlyAtTheDeadlineNotBefore() {
            LockHandle handle = acquire("a");
            String owner = backend.holder("a");
            Counter lost = new Counter();
            handle.onLost(lost);

            time.advanceTo(VALIDITY.minus(NANO));
            assertThat(lost.runs()).isZero();
            assertThat(handle.isHeld()).isTrue();

            time.advance(NANO);
            assertThat(lost.runs()).isEqualTo(1);
            assertThat(handle.lostReason()).hasValueSatisfying(reason -> assertThat(reason).contains("deadline"));
            assertThat(handle.isHeld()).isFalse();
            assertThatThrownBy(handle::release).isInstanceOf(LockLostException.class).hasMessageContaining("deadline");
            assertThat(backend.releases())
                    .as("one owner-checked release, by the engine at the deadline: the failed renewals may have"
                            + " extended the lease on the server")
                    .containsExactly(new ReleaseCall(owner, time.at(VALIDITY), false));
        }

        @Test
        void aLeaseLostAtTheDeadlineIsReleasedAtOnceSoTheLockFreesEarly() throws Exception {
            LockHandle handle = acquire("a"); // the failed renewals may have extended it on the server
            time.advanceTo(VALIDITY);

            assertThat(backend.holder("a")).as("released at the deadline, not a lease later").isNull();
            try (LockClient other = clientOf(backend, time)) {
                assertThat(other.lock("a").tryAcquire()).isPresent();
            }
            assertThatThrownBy(handle::release).isInstanceOf(LockLostException.class).hasMessageContaining("deadline");
        }

        @Test
        void theReleaseAtTheDeadlineNeverFreesALockSomeoneElseHoldsNow() {
            acquire("a");
            String owner = backend.holder("a");
            backend.revoke("a"); // our lease ran out on the server...
            backend.occupy("a"); // ...and someone else took the lock

            time.advanceTo(VALIDITY);

            assertThat(backend.releases()).extracting(ReleaseCall::owner).containsExactly(owner);
            assertThat(backend.holder("a")).as("owner-checked: the new holder keeps it").isEqualTo(ScriptedBackend.OUTSIDER);
        }

        @Test
        void releaseOfALeaseLostAtTheDeadlineSendsTheOwnerCheckedReleaseAgainWhenTheFirstFailedAndStillThrows() {
            LockHandle handle = acquire("a");
            String owner = backend.holder("a");
            backend.failNextRelease(new IllegalStateException("backend unreachable")); // the one at the deadline
            time.advanceTo(VALIDITY);
            assertThat(backend.holder("a")).isEqualTo(owner);

            assertThatThrownBy(handle::release).isInstanceOf(LockLostException.class).hasMessageContaining("deadline");

            assertThat(backend.releases()).extracting(ReleaseCall::owner).containsExactly(owner, owner);
            assertThat(backend.holder("a")).as("freed by the release after the loss").isNull();
            assertThatCode(handle::release).doesNotThrowAnyException();
            assertThat(backend.releases()).hasSize(2);
        }

        @Test
        void aRenewalThatGetsThroughBeforeTheDeadlineKeepsTheLock() {
            LockHandle handle = acquire("a");
            time.advanceTo(seconds(25));
            backend.healRenewals();
            time.advanceTo(Duration.ofMinutes(2));
            assertThat(handle.isHeld()).isTrue();
        }
    }

    @Nested
    @DisplayName("when nothing was renewed")
    class NotRenewed {

        @Test
        void aLeaseLostAtItsDeadlineIsLeftToRunOutOnTheServer() {
            LockHandle handle = acquire("a", noRenew());
            time.advanceTo(VALIDITY);
            assertThat(handle.isHeld()).isFalse();

            assertThatThrownBy(handle::release).isInstanceOf(LockLostException.class).hasMessageContaining("deadline");
            assertThat(backend.releases())
                    .as("nothing can have extended it: it runs out moments later, and a release would hide a server"
                            + " that never expires anything")
                    .isEmpty();
        }
    }

    @Nested
    @DisplayName("when a renewal reply comes late")
    class LateReply {

        @Test
        void aReplyAfterTheDeadlineDoesNotReviveTheLock() {
            LockHandle handle = acquire("a");
            String owner = backend.holder("a");
            Counter lost = new Counter();
            handle.onLost(lost);
            CompletableFuture<List<Boolean>> reply = backend.holdNextRenewal();

            time.advanceTo(VALIDITY); // the renewal sent at 10 s is still unanswered
            assertThat(handle.isHeld()).isFalse();
            assertThat(backend.releases()).as("released at the deadline: the renewal may extend the lease")
                    .extracting(ReleaseCall::owner).containsExactly(owner);

            reply.complete(List.of(true)); // it did extend the lease on the server, for a holder told it lost it
            time.advance(Duration.ofMinutes(1));

            assertThat(handle.isHeld()).isFalse();
            assertThat(lost.runs()).isEqualTo(1);
            assertThat(backend.releases()).as("and again once it is known to have extended it")
                    .extracting(ReleaseCall::owner).containsExactly(owner, owner);
            assertThat(backend.renewals()).hasSize(1);
        }

        @Test
        void aLateReplyThatSaysNotHeldReleasesNothingMore() {
            acquire("a");
            CompletableFuture<List<Boolean>> reply = backend.holdNextRenewal();
            time.advanceTo(VALIDITY);
            assertThat(backend.releases()).as("the one at the deadline").hasSize(1);
            reply.complete(List.of(false));
            time.advance(Duration.ofMinutes(1));
            assertThat(backend.releases()).hasSize(1);
        }

        @Test
        void aReplyAfterTheDeadlineIsRefusedEvenBeforeTheDeadlinePassHasRun() {
            LockHandle handle = acquire("a");
            String owner = backend.holder("a");
            Counter lost = new Counter();
            handle.onLost(lost);
            CompletableFuture<List<Boolean>> reply = backend.holdNextRenewal();
            time.advanceTo(seconds(10));
            time.skip(VALIDITY.minus(seconds(10))); // at the deadline, but the scheduler is late

            reply.complete(List.of(true)); // "still yours", but too late to trust

            assertThat(backend.releases()).as("released as soon as the late reply arrives")
                    .extracting(ReleaseCall::owner).containsExactly(owner);
            assertThat(handle.isHeld()).isFalse();
            time.advance(Duration.ofMinutes(1));
            assertThat(handle.isHeld()).isFalse();
            assertThat(lost.runs()).isEqualTo(1);
            assertThat(backend.releases()).hasSize(1);
        }
    }

    @Nested
    @DisplayName("when the backend reports a loss")
    class BackendReports {

        @Test
        void leasesMatchingThePredicateAreLostAndTheOthersKept() {
            LockHandle a = acquire("a");
            LockHandle b = acquire("b");
            String ownerA = backend.holder("a");
            Counter lostA = new Counter();
            Counter lostB = new Counter();
            a.onLost(lostA);
            b.onLost(lostB);

            backend.reportLost(ownerA::equals, "session expired");

            assertThat(a.isHeld()).isFalse();
            assertThat(b.isHeld()).isTrue();
            time.runPending();
            assertThat(lostA.runs()).isEqualTo(1);
            assertThat(lostB.runs()).isZero();
            assertThatThrownBy(a::release).isInstanceOf(LockLostException.class).hasMessageContaining("session expired");
            assertThat(backend.releases()).as("the engine does not release what the backend reported lost").isEmpty();

            time.advanceTo(seconds(10));
            assertThat(backend.renewals()).singleElement()
                    .satisfies(call -> assertThat(call.leases()).containsExactly(backend.holder("b")));
        }
    }
}
