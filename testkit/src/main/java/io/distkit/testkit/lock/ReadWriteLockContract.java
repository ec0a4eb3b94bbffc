package io.distkit.testkit.lock;

import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.lock.DistributedReadWriteLock;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.lock.ReadWriteLockClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The semantics of read-write locks: readers share, a writer excludes readers and writers, one
 * token sequence for both sides. Backends that queue waiters in arrival order (ZooKeeper) also
 * promise FIFO: override {@link #fifo()} to have it checked.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
public abstract class ReadWriteLockContract {

    private final List<ReadWriteLockClient> clients = new ArrayList<>();

    /** A new client of the backend under test; closed by the contract. */
    protected abstract ReadWriteLockClient newClient(LockOptions defaults);

    /** Whether waiters are served in arrival order: a reader arriving after a waiting writer waits for it. */
    protected boolean fifo() {
        return false;
    }

    /**
     * Returns once the backend shows {@code entries} holders and waiters in the queue of the read-write
     * lock {@code name}. A FIFO backend overrides it: an {@code acquireAsync} takes its place in the queue
     * some time after the call returns, and the FIFO check must not run before it did.
     */
    protected void awaitQueued(String name, int entries) {}

    protected Duration slack() {
        return Duration.ofSeconds(5);
    }

    @AfterEach
    void closeClients() {
        clients.forEach(ReadWriteLockClient::close);
    }

    private DistributedReadWriteLock rw(String name) {
        ReadWriteLockClient client = newClient(LockOptions.defaults());
        clients.add(client);
        return client.readWriteLock(name);
    }

    private static String uniqueName(String prefix) {
        return prefix + "-" + UUID.randomUUID();
    }

    @Test
    @DisplayName("readers of different clients share the lock")
    void readersShare() throws Exception {
        String name = uniqueName("readers");
        LockHandle first = rw(name).readLock().acquire();

        assertThat(rw(name).readLock().tryAcquire()).isPresent();
        assertThat(first.isHeld()).isTrue();
    }

    @Test
    @DisplayName("a writer excludes readers and other writers")
    void writerExcludesEveryone() throws Exception {
        String name = uniqueName("writer");
        rw(name).writeLock().acquire();

        assertThat(rw(name).readLock().tryAcquire()).isEmpty();
        assertThat(rw(name).writeLock().tryAcquire()).isEmpty();
    }

    @Test
    @DisplayName("readers exclude a writer until the last of them releases")
    void readersExcludeWriter() throws Exception {
        String name = uniqueName("readers-block");
        LockHandle r1 = rw(name).readLock().acquire();
        LockHandle r2 = rw(name).readLock().acquire();
        DistributedReadWriteLock writerSide = rw(name);

        assertThat(writerSide.writeLock().tryAcquire()).isEmpty();
        r1.release();
        assertThat(writerSide.writeLock().tryAcquire()).isEmpty();
        r2.release();
        assertThat(writerSide.writeLock().tryAcquire(slack())).isPresent();
    }

    @Test
    @DisplayName("a waiting reader gets the lock when the writer releases; tokens follow the order of holders")
    void readerWaitsForWriterAndTokensIncrease() throws Exception {
        String name = uniqueName("order");
        LockHandle writer = rw(name).writeLock().acquire();
        CompletableFuture<LockHandle> reader = rw(name).readLock().acquireAsync(slack().multipliedBy(2));
        assertThat(reader).isNotDone();

        writer.release();
        LockHandle read = reader.get(slack().toMillis(), TimeUnit.MILLISECONDS);
        assertThat(read.fencingToken()).isGreaterThan(writer.fencingToken());
        read.release();
        LockHandle nextWriter = rw(name).writeLock().acquire();
        assertThat(nextWriter.fencingToken()).isGreaterThan(read.fencingToken());
    }

    @Test
    @DisplayName("the read-write lock of a name is independent of the plain lock of that name")
    void independentOfPlainLock() throws Exception {
        String name = uniqueName("separate");
        ReadWriteLockClient client = newClient(LockOptions.defaults());
        clients.add(client);
        client.lock(name).acquire();

        assertThat(rw(name).writeLock().tryAcquire()).isPresent();
    }

    @Test
    @DisplayName("FIFO: a reader arriving after a waiting writer waits for that writer")
    void readerQueuesBehindWaitingWriter() throws Exception {
        Assumptions.assumeTrue(fifo(), "backend does not promise FIFO");
        String name = uniqueName("fifo");
        LockHandle firstReader = rw(name).readLock().acquire();
        CompletableFuture<LockHandle> writer = rw(name).writeLock().acquireAsync(slack().multipliedBy(2));
        awaitQueued(name, 2);

        assertThat(rw(name).readLock().tryAcquire(Duration.ofMillis(300))).isEmpty();
        firstReader.release();
        assertThat(writer.get(slack().toMillis(), TimeUnit.MILLISECONDS).isHeld()).isTrue();
    }
}
