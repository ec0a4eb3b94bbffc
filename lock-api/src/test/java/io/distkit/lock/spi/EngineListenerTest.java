package io.distkit.lock.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.lock.LockHandle;
import io.distkit.lock.LockLostException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("onLost listeners")
class EngineListenerTest extends EngineTestSupport {

    /** Makes the renewal of 10 s answer "not held" when the test says so, on the test's thread. */
    private CompletableFuture<List<Boolean>> renewalAtTenSeconds() {
        CompletableFuture<List<Boolean>> reply = backend.holdNextRenewal();
        time.advanceTo(seconds(10));
        return reply;
    }

    @Test
    void aListenerRunsOnTheSchedulerNotOnTheThreadThatLearnsOfTheLoss() {
        LockHandle handle = acquire("a");
        Counter lost = new Counter();
        handle.onLost(lost);

        renewalAtTenSeconds().complete(List.of(false)); // the loss is learnt here, on the test's thread

        assertThat(handle.isHeld()).isFalse();
        assertThat(lost.runs()).as("not run on the caller's stack").isZero();
        time.runPending();
        assertThat(lost.runs()).isEqualTo(1);
    }

    @Test
    void aListenerRunsOnceWhateverHappensAfterTheLoss() {
        LockHandle handle = acquire("a");
        Counter lost = new Counter();
        handle.onLost(lost);
        backend.revoke("a");
        time.advanceTo(seconds(10));

        backend.reportLost(lease -> true, "session expired too");
        assertThat(handle.isHeld()).isFalse();
        assertThatThrownBy(handle::release).isInstanceOf(LockLostException.class);
        time.advance(Duration.ofMinutes(2));

        assertThat(lost.runs()).isEqualTo(1);
    }

    @Test
    void aListenerRegisteredAfterTheLossStillRunsOnceOnTheScheduler() {
        LockHandle handle = acquire("a");
        backend.revoke("a");
        time.advanceTo(seconds(10));
        assertThat(handle.isHeld()).isFalse();

        Counter late = new Counter();
        handle.onLost(late);
        assertThat(late.runs()).as("not run on the registering thread").isZero();
        time.runPending();
        assertThat(late.runs()).isEqualTo(1);
        time.advance(Duration.ofMinutes(1));
        assertThat(late.runs()).isEqualTo(1);
    }

    @Test
    void aListenerStillRunsWhenTheHandleIsReleasedBeforeItsTurnOnTheScheduler() {
        LockHandle handle = acquire("a");
        Counter lost = new Counter();
        handle.onLost(lost);
        renewalAtTenSeconds().complete(List.of(false));

        assertThatThrownBy(handle::release).isInstanceOf(LockLostException.class); // before the listener ran
        time.runPending();

        assertThat(lost.runs()).as("the lease was lost while the handle held it").isEqualTo(1);
    }

    @Test
    void aListenerOfAHandleReleasedNormallyNeverRuns() {
        LockHandle first = acquire("a");
        LockHandle second = acquire("a"); // reentrant: one lease, two handles
        Counter firstLost = new Counter();
        Counter secondLost = new Counter();
        first.onLost(firstLost);
        second.onLost(secondLost);
        first.release(); // normally: the lease is still held through the second handle

        backend.reportLost(lease -> true, "session expired");
        time.advance(Duration.ofMinutes(1));

        assertThat(firstLost.runs()).isZero();
        assertThat(secondLost.runs()).isEqualTo(1);
    }

    @Test
    void aListenerOfAReleasedLockNeverRunsWhenItsDeadlineWouldHavePassed() {
        LockHandle handle = acquire("a", noRenew());
        Counter lost = new Counter();
        handle.onLost(lost);
        handle.release();
        time.advance(Duration.ofMinutes(1));
        assertThat(lost.runs()).isZero();
    }

    @Test
    void aThrowingListenerDoesNotStopTheOthers() {
        LockHandle handle = acquire("a");
        Counter before = new Counter();
        Counter after = new Counter();
        handle.onLost(before);
        handle.onLost(() -> {
            throw new IllegalStateException("a listener with a bug");
        });
        handle.onLost(after);
        backend.revoke("a");

        time.advanceTo(seconds(10));

        assertThat(before.runs()).isEqualTo(1);
        assertThat(after.runs()).isEqualTo(1);
    }
}
