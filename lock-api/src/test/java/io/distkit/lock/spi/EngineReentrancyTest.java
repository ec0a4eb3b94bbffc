package io.distkit.lock.spi;

import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.lock.LockTimeoutException;
import io.distkit.lock.spi.ScriptedBackend.FinishCall;
import io.distkit.lock.spi.ScriptedBackend.ReleaseCall;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Reentrancy")
class EngineReentrancyTest extends EngineTestSupport {

    @Test
    void theSameThreadGetsTheSameTokenWithoutAskingTheBackend() {
        LockHandle first = acquire("a");
        LockHandle second = acquire("a");

        assertThat(second).isNotSameAs(first);
        assertThat(second.fencingToken()).isEqualTo(first.fencingToken());
        assertThat(backend.attempts()).hasSize(1);
        assertThat(second.isHeld()).isTrue();
    }

    @Test
    void anAsyncAcquireNeverReentersItWaitsLikeAnyOtherCaller() {
        LockHandle held = acquire("a");
        CompletableFuture<LockHandle> async = client.lock("a").acquireAsync(Duration.ofMinutes(1));

        assertThat(async).isNotDone();
        assertThat(backend.attempts()).hasSize(2);
        held.release();
        time.runPending();
        assertThat(async).isCompleted();
        assertThat(async.join().fencingToken()).isGreaterThan(held.fencingToken());
    }

    @Test
    void theLockIsReleasedInTheBackendOnlyWithTheLastHandle() {
        LockHandle first = acquire("a");
        LockHandle second = acquire("a");
        String owner = backend.holder("a");

        first.release();
        assertThat(first.isHeld()).isFalse();
        assertThat(second.isHeld()).isTrue();
        assertThat(backend.releases()).isEmpty();
        assertThat(backend.holder("a")).isEqualTo(owner);

        second.release();
        assertThat(backend.releases()).extracting(ReleaseCall::owner).containsExactly(owner);
        assertThat(backend.holder("a")).isNull();
    }

    @Test
    void releasingOneHandleTwiceDropsOnlyOneHold() {
        LockHandle first = acquire("a");
        LockHandle second = acquire("a");
        LockHandle third = acquire("a");

        first.release();
        first.release();
        first.close();
        second.release();
        assertThat(third.isHeld()).isTrue();
        assertThat(backend.releases()).isEmpty();

        third.release();
        assertThat(backend.releases()).hasSize(1);
    }

    @Test
    void anotherThreadDoesNotReenterItContends() throws Exception {
        LockHandle mine = acquire("a");
        ExecutorService other = Executors.newSingleThreadExecutor();
        Optional<LockHandle> theirs;
        try {
            theirs = other.submit(() -> client.lock("a").tryAcquire()).get(BOUND.toSeconds(), TimeUnit.SECONDS);
        } finally {
            other.shutdownNow();
        }

        assertThat(theirs).isEmpty();
        assertThat(backend.attempts()).hasSize(2);
        assertThat(backend.finishes()).last().isEqualTo(new FinishCall(lastOwner(), false));
        assertThat(mine.isHeld()).isTrue();
    }

    @Test
    void aNonReentrantLockBlocksItsOwnThread() throws Exception {
        DistributedLock lock = client.lock("a", LockOptions.builder().reentrant(false).build());
        LockHandle first = lock.tryAcquire().orElseThrow();

        assertThat(lock.tryAcquire()).isEmpty();
        assertThat(backend.attempts()).hasSize(2);
        assertThat(first.isHeld()).isTrue();
    }

    @Test
    void aSecondClientOnTheSameThreadDoesNotReenter() {
        LockHandle mine = acquire("a");
        try (LockClient second = clientOf(backend, time)) {
            CompletableFuture<LockHandle> theirs = second.lock("a").acquireAsync(Duration.ZERO);
            assertThat(theirs).failsWithin(Duration.ZERO).withThrowableThat().havingCause()
                    .isInstanceOf(LockTimeoutException.class);
        }
        assertThat(backend.attempts()).hasSize(2);
        assertThat(mine.isHeld()).isTrue();
    }

    @Test
    void afterALossTheSameThreadGoesToTheBackendAgain() {
        LockHandle lost = acquire("a");
        backend.revoke("a");
        time.advanceTo(seconds(10));
        assertThat(lost.isHeld()).isFalse();

        LockHandle again = acquire("a");

        assertThat(backend.attempts()).hasSize(2);
        assertThat(again.fencingToken()).isGreaterThan(lost.fencingToken());
        assertThat(again.isHeld()).isTrue();
    }

    @Test
    void afterTheLastReleaseTheSameThreadGoesToTheBackendAgain() {
        LockHandle first = acquire("a");
        first.release();
        LockHandle again = acquire("a");
        assertThat(backend.attempts()).hasSize(2);
        assertThat(again.fencingToken()).isGreaterThan(first.fencingToken());
    }
}
