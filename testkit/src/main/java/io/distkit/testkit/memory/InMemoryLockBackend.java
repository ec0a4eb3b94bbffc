package io.distkit.testkit.memory;

import io.distkit.lock.spi.Acquisition;
import io.distkit.lock.spi.LockBackend;
import io.distkit.lock.spi.LockRequest;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * The whole backend side of the in-memory reference: three one-line calls into the server. This is
 * how small the engine's SPI is; network backends add only their protocol.
 */
final class InMemoryLockBackend implements LockBackend<InMemoryLease> {

    private final InMemoryLockServer server;

    InMemoryLockBackend(InMemoryLockServer server) {
        this.server = server;
    }

    @Override
    public String describe() {
        return "in-memory lock server";
    }

    @Override
    public boolean supportsReadWrite() {
        return true;
    }

    @Override
    public Acquisition<InMemoryLease> newAcquisition(LockRequest request) {
        return () -> CompletableFuture.completedFuture(server.tryAcquire(request));
    }

    @Override
    public CompletionStage<Boolean> renew(InMemoryLease lease, Duration leaseTime) {
        return CompletableFuture.completedFuture(server.renew(lease, leaseTime));
    }

    @Override
    public CompletionStage<Boolean> release(InMemoryLease lease) {
        return CompletableFuture.completedFuture(server.release(lease));
    }
}
