package io.distkit.lock.spi;

import io.distkit.lock.LockClient;
import java.net.URI;
import java.util.Set;

/**
 * Makes {@code scripted:} and {@code scripted-too:} URIs connect to a fresh {@link ScriptedBackend}
 * on the system ticker, so that {@link io.distkit.lock.LockClients} has a backend to find in tests.
 */
public final class ScriptedLockClientProvider implements LockClientProvider {

    @Override
    public Set<String> schemes() {
        return Set.of("scripted", "scripted-too");
    }

    @Override
    public LockClient connect(URI uri) {
        return LockEngine.builder(new ScriptedBackend(Ticker.system())).build();
    }
}
