package io.distkit.testkit.process;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockOptions;
import io.distkit.lock.spi.LockClientProvider;
import io.distkit.testkit.memory.InMemoryLockServer;
import java.net.URI;
import java.time.Duration;
import java.util.Set;

/**
 * Test-only backend for {@code memtest://local[?taken=a,b]} URIs: a client of an
 * {@link InMemoryLockServer} private to the JVM that connects, so a {@link LockHolderMain} child has
 * a backend to hold locks on. It tests the holder protocol, not exclusion between processes: two
 * JVMs never share such a server. The locks listed in {@code taken} are acquired at connect time by
 * another client of the same server (lease renewed for the life of the JVM), so that an acquire can
 * answer {@code busy}.
 */
public final class MemTestLockClientProvider implements LockClientProvider {

    private static final InMemoryLockServer SERVER = new InMemoryLockServer();

    @Override
    public Set<String> schemes() {
        return Set.of("memtest");
    }

    @Override
    public LockClient connect(URI uri) {
        String query = uri.getQuery();
        if (query != null && query.startsWith("taken=")) {
            LockClient other = SERVER.newClient(LockOptions.builder().leaseTime(Duration.ofSeconds(30)).build());
            for (String name : query.substring("taken=".length()).split(",")) {
                try {
                    other.lock(name).tryAcquire().orElseThrow(() -> new IllegalStateException(name + " already taken"));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while taking " + name, e);
                }
            }
        }
        return SERVER.newClient();
    }
}
