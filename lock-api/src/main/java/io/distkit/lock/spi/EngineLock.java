package io.distkit.lock.spi;

import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.lock.LockTimeoutException;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/** The engine's {@link DistributedLock}: a name, a mode and options; all work is done by the client. */
final class EngineLock<S> implements DistributedLock {

    /** Sentinel wait: as long as it takes. */
    static final long FOREVER = -1;

    private final EngineClient<S> client;
    private final String name;
    final LockMode mode;
    private final LockOptions options;

    EngineLock(EngineClient<S> client, String name, LockMode mode, LockOptions options) {
        this.client = client;
        this.name = name;
        this.mode = mode;
        this.options = options;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public LockOptions options() {
        return options;
    }

    @Override
    public LockHandle acquire() throws InterruptedException {
        return client.waitFor(client.acquire(this, FOREVER, true));
    }

    @Override
    public Optional<LockHandle> tryAcquire() throws InterruptedException {
        return Optional.ofNullable(client.waitFor(client.acquire(this, 0, true)));
    }

    @Override
    public Optional<LockHandle> tryAcquire(Duration wait) throws InterruptedException {
        return Optional.ofNullable(client.waitFor(client.acquire(this, waitNanos(wait), true)));
    }

    @Override
    public CompletableFuture<LockHandle> acquireAsync(Duration wait) {
        CompletableFuture<Hold<S>> op = client.acquire(this, waitNanos(wait), false);
        CompletableFuture<LockHandle> out = new CompletableFuture<>();
        op.whenComplete((hold, failure) -> {
            if (client.backend.completesOnIoThreads()) {
                client.executeOrRun(() -> deliver(out, wait, hold, failure));
            } else {
                deliver(out, wait, hold, failure);
            }
        });
        out.whenComplete((hold, failure) -> {
            if (!op.isDone()) {
                op.cancel(false); // cancelled, orTimeout, completed by the caller: give up the queue place now
            }
        });
        return out;
    }

    /** Completes the user's future with what the engine's operation gave; a hold nobody takes is given up. */
    private void deliver(CompletableFuture<LockHandle> out, Duration wait, @Nullable Hold<S> hold,
            @Nullable Throwable failure) {
        if (failure != null) {
            out.completeExceptionally(EngineClient.unwrap(failure));
        } else if (hold == null) {
            out.completeExceptionally(new LockTimeoutException(name, wait));
        } else if (!out.complete(hold)) {
            hold.abandon(); // the caller gave up while we acquired: nobody will release it
        }
    }

    private static long waitNanos(Duration wait) {
        Objects.requireNonNull(wait, "wait");
        if (wait.isNegative()) {
            throw new IllegalArgumentException("wait must not be negative, was " + wait);
        }
        try {
            return wait.toNanos();
        } catch (ArithmeticException tooLong) {
            return FOREVER; // beyond 292 years
        }
    }

    @Override
    public String toString() {
        return "DistributedLock[" + name + (mode == LockMode.EXCLUSIVE ? "" : " " + mode) + "]";
    }
}
