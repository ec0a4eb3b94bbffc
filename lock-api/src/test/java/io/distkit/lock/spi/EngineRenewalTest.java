package io.distkit.lock.spi;

import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import java.time.Duration;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

@DisplayName("Background renewal")
class EngineRenewalTest extends EngineTestSupport {

    @Nested
    @DisplayName("timing")
    class Timing {

        @Test
        void nothingIsRenewedBeforeAThirdOfTheLease() {
            acquire("a");
            time.advanceTo(seconds(10).minus(NANO));
            assertThat(backend.renewals()).isEmpty();
        }

        @Test
        void theFirstRenewalIsSentAtTenSecondsAndTheNextAtTwenty() {
            LockHandle handle = acquire("a");
            String owner = backend.holder("a");

            time.advanceTo(seconds(10));
            assertThat(renewalTimes()).containsExactly(seconds(10));
            time.advanceTo(seconds(20).minus(NANO));
            assertThat(renewalTimes()).containsExactly(seconds(10));
            time.advanceTo(seconds(20));
            assertThat(renewalTimes()).containsExactly(seconds(10), seconds(20));

            assertThat(backend.renewals()).allSatisfy(call -> {
                assertThat(call.leases()).containsExactly(owner);
                assertThat(call.leaseTimes()).containsExactly(LEASE);
            });
            assertThat(handle.isHeld()).isTrue();
        }

        @Test
        void aCustomRenewIntervalIsHonoured() {
            acquire("a", LockOptions.builder().renewInterval(seconds(4)).build());
            time.advanceTo(seconds(13));
            assertThat(renewalTimes()).containsExactly(seconds(4), seconds(8), seconds(12));
        }

        @Test
        void renewalsKeepALockHeldLongAfterItsLease() {
            LockHandle handle = acquire("a");
            time.advanceTo(Duration.ofMinutes(10));
            assertThat(handle.isHeld()).isTrue();
            assertThat(backend.renewals()).hasSize(60);
        }
    }

    @Nested
    @DisplayName("batching")
    class Batching {

        @Test
        void locksTakenFourSecondsApartAreRenewedInOneBatch() {
            acquire("a");
            time.advanceTo(seconds(4));
            acquire("b");
            String a = backend.holder("a");
            String b = backend.holder("b");

            time.advanceTo(seconds(20));

            assertThat(renewalTimes()).containsExactly(seconds(10), seconds(20));
            assertThat(backend.renewals()).allSatisfy(call -> assertThat(call.leases()).containsExactlyInAnyOrder(a, b));
        }

        @Test
        void reentrantHandlesOfOneLockAreRenewedOnce() {
            acquire("a");
            acquire("a");
            time.advanceTo(seconds(10));
            assertThat(backend.renewals()).singleElement().satisfies(call -> assertThat(call.size()).isEqualTo(1));
        }

        @Test
        void aLockWithoutAutoRenewStaysOutOfTheBatch() {
            acquire("renewed");
            acquire("fixed", noRenew());
            time.advanceTo(seconds(10));
            assertThat(backend.renewals()).singleElement()
                    .satisfies(call -> assertThat(call.leases()).containsExactly(backend.holder("renewed")));
        }
    }

    @Nested
    @DisplayName("what is not renewed")
    class NotRenewed {

        @Test
        void aLockWithoutAutoRenewIsNeverRenewed() {
            LockHandle handle = acquire("a", noRenew());
            time.advanceTo(VALIDITY.minus(NANO));
            assertThat(handle.isHeld()).isTrue();
            time.advance(Duration.ofMinutes(5));
            assertThat(backend.renewals()).isEmpty();
        }

        @Test
        void aReleasedLockIsNoLongerRenewed() {
            LockHandle handle = acquire("a");
            time.advanceTo(seconds(5));
            handle.release();
            time.advance(Duration.ofMinutes(5));
            assertThat(backend.renewals()).isEmpty();
        }
    }
}
