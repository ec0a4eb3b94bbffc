package io.distkit.lock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import java.time.Duration;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@DisplayName("LockOptions")
@SuppressWarnings("DataFlowIssue") // nulls passed on purpose
class LockOptionsTest {

    @Nested
    @DisplayName("defaults")
    class Defaults {

        @Test
        void theDefaultsAreALeaseOfThirtySecondsRenewedEveryTenReentrant() {
            LockOptions options = LockOptions.defaults();
            assertThat(options.leaseTime()).isEqualTo(Duration.ofSeconds(30));
            assertThat(options.renewInterval()).isEqualTo(Duration.ofSeconds(10));
            assertThat(options.autoRenew()).isTrue();
            assertThat(options.reentrant()).isTrue();
            assertThat(LockOptions.builder().build()).isEqualTo(options).hasSameHashCodeAs(options);
        }

        @Test
        void theDefaultRenewIntervalFollowsTheLease() {
            assertThat(LockOptions.builder().leaseTime(Duration.ofSeconds(9)).build().renewInterval())
                    .isEqualTo(Duration.ofSeconds(3));
            assertThat(LockOptions.defaults().toBuilder().leaseTime(Duration.ofMinutes(1)).build().renewInterval())
                    .isEqualTo(Duration.ofSeconds(20));
        }

        @Test
        void anExplicitRenewIntervalSurvivesToBuilder() {
            LockOptions options = LockOptions.builder().renewInterval(Duration.ofSeconds(4)).reentrant(false)
                    .autoRenew(false).build();
            assertThat(options.toBuilder().build()).isEqualTo(options);
            assertThat(options.toBuilder().leaseTime(Duration.ofMinutes(1)).build().renewInterval())
                    .isEqualTo(Duration.ofSeconds(4));
        }

        @Test
        void anExplicitRenewIntervalEqualToTheDefaultIsKeptByToBuilderAndADefaultOneFollowsANewLease() {
            LockOptions explicit = LockOptions.builder().renewInterval(Duration.ofSeconds(10)).build(); // = 30 s / 3
            LockOptions byDefault = LockOptions.builder().leaseTime(Duration.ofSeconds(9)).build();

            assertThat(explicit.toBuilder().leaseTime(Duration.ofMinutes(1)).build().renewInterval())
                    .isEqualTo(Duration.ofSeconds(10));
            assertThat(byDefault.toBuilder().leaseTime(Duration.ofMinutes(1)).build().renewInterval())
                    .isEqualTo(Duration.ofSeconds(20));
        }
    }

    @Nested
    @DisplayName("leaseTime")
    class LeaseTime {

        @Test
        void nullIsRefused() {
            assertThatNullPointerException().isThrownBy(() -> LockOptions.builder().leaseTime(null))
                    .withMessage("leaseTime");
        }

        @ParameterizedTest(name = "{0} ns")
        @ValueSource(longs = {0, -1, -30_000_000_000L, 10_000_000, 50_000_000, 499_999_999})
        void underFiveHundredMillisecondsIsRefused(long nanos) {
            Duration lease = Duration.ofNanos(nanos);
            assertThatIllegalArgumentException().isThrownBy(() -> LockOptions.builder().leaseTime(lease))
                    .withMessageContaining("leaseTime must be at least 500 ms").withMessageContaining("was " + lease)
                    .withMessageContaining("lost to an ordinary pause");
        }

        @Test
        void overThirtyDaysIsRefusedWithTheReason() {
            Duration lease = Duration.ofDays(30).plusNanos(1);
            assertThatIllegalArgumentException().isThrownBy(() -> LockOptions.builder().leaseTime(lease))
                    .withMessageContaining("leaseTime must be at most PT720H").withMessageContaining("was " + lease)
                    .withMessageContaining("not a hold time");
        }

        @Test
        void thirtyDaysIsAccepted() {
            assertThat(LockOptions.builder().leaseTime(Duration.ofDays(30)).build().leaseTime())
                    .isEqualTo(Duration.ofDays(30));
        }

        @Test
        void fiveHundredMillisecondsIsAccepted() {
            assertThat(LockOptions.builder().leaseTime(Duration.ofMillis(500)).build().leaseTime())
                    .isEqualTo(Duration.ofMillis(500));
        }
    }

    @Nested
    @DisplayName("renewInterval")
    class RenewInterval {

        @Test
        void nullIsRefused() {
            assertThatNullPointerException().isThrownBy(() -> LockOptions.builder().renewInterval(null))
                    .withMessage("renewInterval");
        }

        @ParameterizedTest(name = "{0} ns")
        @ValueSource(longs = {0, -1, -10_000_000_000L})
        void zeroOrNegativeIsRefused(long nanos) {
            Duration interval = Duration.ofNanos(nanos);
            assertThatIllegalArgumentException().isThrownBy(() -> LockOptions.builder().renewInterval(interval))
                    .withMessageContaining("renewInterval must be positive").withMessageContaining("was " + interval);
        }

        @Test
        void moreThanHalfTheLeaseIsRefused() {
            Duration interval = Duration.ofSeconds(15).plusNanos(1);
            LockOptions.Builder builder = LockOptions.builder().leaseTime(Duration.ofSeconds(30)).renewInterval(interval);
            assertThatIllegalArgumentException().isThrownBy(builder::build)
                    .withMessageContaining("renewInterval (" + interval + ")")
                    .withMessageContaining("at most half the leaseTime (PT30S)");
        }

        @Test
        void aLeaseShortenedBelowTwiceAnExplicitIntervalIsRefused() {
            LockOptions.Builder builder = LockOptions.builder().renewInterval(Duration.ofSeconds(10))
                    .leaseTime(Duration.ofSeconds(19));
            assertThatIllegalArgumentException().isThrownBy(builder::build)
                    .withMessageContaining("renewInterval (PT10S)").withMessageContaining("leaseTime (PT19S)");
        }

        @Test
        void exactlyHalfTheLeaseIsAccepted() {
            assertThat(LockOptions.builder().renewInterval(Duration.ofSeconds(15)).build().renewInterval())
                    .isEqualTo(Duration.ofSeconds(15));
        }
    }
}
