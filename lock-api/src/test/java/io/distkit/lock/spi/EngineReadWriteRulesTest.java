package io.distkit.lock.spi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.lock.DistributedReadWriteLock;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.lock.ReadWriteLockClient;
import java.time.Clock;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A thread that holds one side of a read-write lock and asks for the other. */
@DisplayName("Read-write rules of one thread")
@Timeout(30)
class EngineReadWriteRulesTest {

    private final ManualTime time = new ManualTime();
    private final ScriptedBackend backend = new ScriptedBackend(time).withReadWrite();
    private final ReadWriteLockClient client = LockEngine.builder(backend).ticker(time).scheduler(time)
            .clock(Clock.fixed(EngineTestSupport.WALL, ZoneOffset.UTC)).buildReadWrite();

    @AfterEach
    void closeClient() {
        client.close();
    }

    private static LockHandle taken(Optional<LockHandle> handle) {
        assertThat(handle).as("taken at once").isPresent();
        return handle.orElseThrow();
    }

    @Test
    void aThreadHoldingTheWriteLockGetsTheReadLockAtOnceAndKeepsItAfterReleasingTheWriteLock() throws Exception {
        DistributedReadWriteLock rw = client.readWriteLock("a");
        LockHandle write = taken(rw.writeLock().tryAcquire());

        LockHandle read = taken(rw.readLock().tryAcquire());
        assertThat(backend.attempts()).as("the read lock is not queued behind the thread's own writer").hasSize(1);
        assertThat(read.fencingToken()).isEqualTo(write.fencingToken());

        write.release();
        assertThat(write.isHeld()).isFalse();
        assertThat(read.isHeld()).isTrue();
        assertThat(backend.releases()).as("the lock stays ours while the read handle is held").isEmpty();

        read.release();
        assertThat(backend.releases()).hasSize(1);
    }

    @Test
    void downgradingDoesNotApplyToAnotherThread() throws Exception {
        DistributedReadWriteLock rw = client.readWriteLock("a");
        LockHandle write = taken(rw.writeLock().tryAcquire());
        Optional<LockHandle>[] other = new Optional[1];
        Thread thread = new Thread(() -> {
            try {
                other[0] = rw.readLock().tryAcquire();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        thread.start();
        thread.join(10_000);
        assertThat(other[0]).as("another thread's reader waits for the writer").isEmpty();
        write.release();
    }

    @Test
    void aThreadHoldingOnlyTheReadLockIsRefusedTheWriteLockInsteadOfWaitingForItself() throws Exception {
        DistributedReadWriteLock rw = client.readWriteLock("a", LockOptions.builder().reentrant(false).build());
        LockHandle read = taken(rw.readLock().tryAcquire());

        assertThatThrownBy(() -> rw.writeLock().tryAcquire()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("'a'").hasMessageContaining("holds its read lock")
                .hasMessageContaining("release the read lock first");
        assertThat(backend.attempts()).hasSize(1);

        read.release();
        LockHandle write = taken(rw.writeLock().tryAcquire(Duration.ZERO));
        write.release();
    }
}
