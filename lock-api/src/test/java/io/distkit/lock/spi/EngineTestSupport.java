package io.distkit.lock.spi;

import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;

/**
 * What every engine test starts from: {@link ManualTime} as ticker and scheduler, a
 * {@link ScriptedBackend}, and a client on both with the default options (lease 30 s, renewed every
 * 10 s) and a fixed wall clock. Times in assertions are durations since the ticker's origin.
 */
abstract class EngineTestSupport {

    static final Duration LEASE = LockOptions.DEFAULT_LEASE_TIME;
    /** Send time to local deadline for the default lease: 30 s − (30 s / 100 + 2 ms). */
    static final Duration VALIDITY = Duration.ofMillis(30_000 - 300 - 2);
    static final Duration NANO = Duration.ofNanos(1);
    /** The fixed wall clock of the client. */
    static final Instant WALL = Instant.parse("2030-01-01T00:00:00Z");
    /** Bound of every real-time wait for another thread. */
    static final Duration BOUND = Duration.ofSeconds(10);

    final ManualTime time = new ManualTime();
    final ScriptedBackend backend = new ScriptedBackend(time);
    final LockClient client = clientOf(backend, time);

    static LockClient clientOf(ScriptedBackend backend, ManualTime time) {
        return LockEngine.builder(backend).ticker(time).scheduler(time)
                .clock(Clock.fixed(WALL, ZoneOffset.UTC)).build();
    }

    @AfterEach
    void closeClient() {
        client.close();
    }

    static Duration seconds(long seconds) {
        return Duration.ofSeconds(seconds);
    }

    static LockOptions noRenew() {
        return LockOptions.builder().autoRenew(false).build();
    }

    /**
     * Takes a free lock (or reenters one this thread holds) with the blocking {@code tryAcquire()}:
     * the scripted backend answers at once, so it returns without the scheduler.
     */
    LockHandle acquire(String name) {
        return acquire(name, client.defaultOptions());
    }

    LockHandle acquire(String name, LockOptions options) {
        try {
            Optional<LockHandle> handle = client.lock(name, options).tryAcquire();
            assertThat(handle).as("lock '%s' taken at once", name).isPresent();
            return handle.orElseThrow();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    /** When the renewal batches were sent. */
    List<Duration> renewalTimes() {
        return backend.renewals().stream().map(call -> time.sinceOrigin(call.at())).toList();
    }

    /** When the acquisition attempts were made. */
    List<Duration> attemptTimes() {
        return backend.attempts().stream().map(call -> time.sinceOrigin(call.at())).toList();
    }

    /** The owner value of the latest attempt: the backend lease of the acquisition it belongs to. */
    String lastOwner() {
        List<ScriptedBackend.AttemptCall> attempts = backend.attempts();
        return attempts.get(attempts.size() - 1).request().owner();
    }

    /** A listener that counts its runs. */
    static final class Counter implements Runnable {
        private final AtomicInteger runs = new AtomicInteger();

        @Override
        public void run() {
            runs.incrementAndGet();
        }

        int runs() {
            return runs.get();
        }
    }
}
