package io.distkit.lock.spi;

import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The local deadline: send time of the last successful acquire or renewal + lease − (lease / 100 + 2 ms). */
@DisplayName("Lease deadline arithmetic")
class EngineDeadlineTest extends EngineTestSupport {

    @ParameterizedTest(name = "lease {0} ms")
    @ValueSource(longs = {500, 1_000, 30_000, 3_600_000})
    void aHandleIsHeldUntilSendTimePlusLeaseMinusDriftAndNotOneNanosecondLonger(long leaseMillis) {
        Duration lease = Duration.ofMillis(leaseMillis);
        Duration validity = lease.minus(lease.dividedBy(100)).minus(Duration.ofMillis(2));
        time.advanceTo(seconds(7)); // not at the origin
        LockHandle handle = acquire("a", LockOptions.builder().leaseTime(lease).autoRenew(false).build());

        time.advance(validity.minus(NANO));
        assertThat(handle.isHeld()).isTrue();
        time.advance(NANO);
        assertThat(handle.isHeld()).isFalse();
    }

    @Test
    void leaseDeadlineIsTheWallClockPlusTheTimeLeft() {
        LockHandle handle = acquire("a", noRenew());
        assertThat(handle.leaseDeadline()).isEqualTo(WALL.plus(VALIDITY));
        time.advance(seconds(5)); // the fixed wall clock stands still, the time left shrinks
        assertThat(handle.leaseDeadline()).isEqualTo(WALL.plus(VALIDITY).minus(seconds(5)));
    }

    @Test
    void theDeadlineCountsFromWhenTheAcquireWasSentNotFromItsReply() {
        CompletableFuture<Void> reply = backend.holdNextAttempt();
        CompletableFuture<LockHandle> acquired = client.lock("a", noRenew()).acquireAsync(Duration.ofMinutes(1));
        time.advance(seconds(3));
        reply.complete(null);
        LockHandle handle = acquired.join();

        assertThat(handle.leaseDeadline()).isEqualTo(WALL.plus(VALIDITY).minus(seconds(3)));
        time.advanceTo(VALIDITY.minus(NANO));
        assertThat(handle.isHeld()).isTrue();
        time.advance(NANO);
        assertThat(handle.isHeld()).isFalse();
    }

    @Test
    void aGrantUnderAnOlderLeaseCountsTheDeadlineAndTheFirstRenewalFromThatLeasesStart() {
        time.advanceTo(seconds(30));
        CompletableFuture<Attempt<String>> reply = backend.holdNextAttemptReply();
        CompletableFuture<LockHandle> acquired = client.lock("a").acquireAsync(Duration.ofMinutes(1));
        time.advance(seconds(1)); // the reply takes a second; the shared lease was restarted 4 s before the attempt
        reply.complete(Attempt.acquired(7, lastOwner(), seconds(4)));
        LockHandle handle = acquired.join();

        Duration deadline = seconds(26).plus(VALIDITY);
        assertThat(handle.leaseDeadline()).isEqualTo(WALL.plus(deadline).minus(seconds(31)));
        time.advanceTo(seconds(26).plus(LockOptions.defaults().renewInterval()));
        assertThat(renewalTimes()).as("the first renewal is due a renew interval after the lease's start")
                .containsExactly(seconds(36));
    }

    @Test
    void aGrantWhoseOlderLeaseIsOverOnArrivalIsGivenBack() {
        CompletableFuture<Attempt<String>> reply = backend.holdNextAttemptReply();
        CompletableFuture<LockHandle> acquired = client.lock("a", noRenew()).acquireAsync(Duration.ZERO);
        time.advance(seconds(1));
        reply.complete(Attempt.acquired(7, lastOwner(), VALIDITY.minus(seconds(1))));

        assertThat(acquired).failsWithin(BOUND).withThrowableOfType(java.util.concurrent.ExecutionException.class)
                .withMessageContaining("the grant was given back");
        assertThat(backend.releases()).extracting(ScriptedBackend.ReleaseCall::owner).contains(lastOwner());
    }

    @Test
    void aRenewalMovesTheDeadlineToItsSendTimePlusLeaseMinusDriftEvenWhenItsReplyIsLate() {
        LockHandle handle = acquire("a");
        CompletableFuture<List<Boolean>> reply = backend.holdNextRenewal();
        time.advanceTo(seconds(12)); // the renewal went out at 10 s and is still unanswered
        assertThat(handle.leaseDeadline()).isEqualTo(WALL.plus(VALIDITY).minus(seconds(12)));

        reply.complete(List.of(true));
        Duration deadline = seconds(10).plus(VALIDITY);
        assertThat(handle.leaseDeadline()).isEqualTo(WALL.plus(deadline).minus(seconds(12)));

        backend.holdNextRenewal(); // the renewal of 20 s never answers: nothing moves the deadline again
        time.advanceTo(deadline.minus(NANO));
        assertThat(handle.isHeld()).isTrue();
        time.advance(NANO);
        assertThat(handle.isHeld()).isFalse();
        assertThat(renewalTimes()).containsExactly(seconds(10), seconds(20));
    }

    @Test
    void aFailedRenewalLeavesTheDeadlineWhereItWas() {
        LockHandle handle = acquire("a");
        backend.failNextRenewal(new IllegalStateException("connection reset"));
        time.advanceTo(seconds(10));
        assertThat(backend.renewals()).hasSize(1);
        assertThat(handle.leaseDeadline()).isEqualTo(WALL.plus(VALIDITY).minus(seconds(10)));
    }

    /** The ticker starts 15 s before it wraps from {@link Long#MAX_VALUE} to {@link Long#MIN_VALUE}. */
    @Nested
    @DisplayName("across a ticker wrap-around")
    class TickerWrapAround {

        private final ManualTime wrapping = new ManualTime(Long.MAX_VALUE - seconds(15).toNanos());
        private final ScriptedBackend wrappingBackend = new ScriptedBackend(wrapping);
        private final LockClient wrappingClient = clientOf(wrappingBackend, wrapping);

        @AfterEach
        void closeWrappingClient() {
            wrappingClient.close();
        }

        @Test
        void theDeadlineIsKeptToTheNanosecond() {
            LockHandle handle = wrappingClient.lock("a", noRenew()).acquireAsync(Duration.ZERO).join();
            wrapping.advance(VALIDITY.minus(NANO));
            assertThat(handle.isHeld()).isTrue();
            wrapping.advance(NANO);
            assertThat(handle.isHeld()).isFalse();
        }

        @Test
        void renewalsKeepTheirPace() {
            LockHandle handle = wrappingClient.lock("a").acquireAsync(Duration.ZERO).join();
            wrapping.advanceTo(seconds(145));
            assertThat(handle.isHeld()).isTrue();
            assertThat(wrappingBackend.renewals()).extracting(call -> wrapping.sinceOrigin(call.at()))
                    .containsExactlyElementsOf(LongStream.rangeClosed(1, 14).mapToObj(i -> seconds(10 * i)).toList());
        }
    }
}
