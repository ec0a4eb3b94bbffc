package io.distkit.id.backends.zookeeper;

import io.distkit.id.IdSourceUnavailableException;
import java.time.Duration;
import java.util.Objects;
import org.apache.curator.framework.CuratorFramework;
import org.jspecify.annotations.Nullable;

/**
 * What every builder of this package takes: a connect string (the built object makes its own Curator client and
 * closes it) or a started {@link CuratorFramework} (never closed by us), the command timeout and, for a client of
 * its own, the session timeout.
 *
 * @param <B> the concrete builder
 */
public abstract class ZooKeeperBuilder<B extends ZooKeeperBuilder<B>> {

    final @Nullable String connectString;
    final @Nullable CuratorFramework curator;
    Duration commandTimeout = ZooKeeperSequenceCounter.DEFAULT_COMMAND_TIMEOUT;
    Duration sessionTimeout = ZooKeeperSequenceCounter.DEFAULT_SESSION_TIMEOUT;

    ZooKeeperBuilder(@Nullable String connectString, @Nullable CuratorFramework curator) {
        this.connectString = connectString;
        this.curator = curator;
    }

    @SuppressWarnings("unchecked")
    private B self() {
        return (B) this;
    }

    /**
     * How long one ZooKeeper call may take (with its retries, where the call retries), and how long building waits
     * for a connection; default 5 s.
     *
     * @throws NullPointerException if null
     * @throws IllegalArgumentException if not positive
     */
    public B commandTimeout(Duration timeout) {
        this.commandTimeout = ZooKeeperSequenceCounter.checkPositive("commandTimeout", timeout);
        return self();
    }

    /**
     * The session timeout asked for when the built object makes its own client; default 30 s. The servers bound it
     * to their {@code minSessionTimeout} and {@code maxSessionTimeout}.
     *
     * @throws NullPointerException if null
     * @throws IllegalArgumentException if not positive
     * @throws IllegalStateException if the builder was given a Curator client
     */
    public B sessionTimeout(Duration timeout) {
        if (curator != null) {
            throw new IllegalStateException("the session timeout belongs to the CuratorFramework passed to"
                    + " builder(CuratorFramework)");
        }
        this.sessionTimeout = ZooKeeperSequenceCounter.checkPositive("sessionTimeout", timeout);
        return self();
    }

    /**
     * The access to ZooKeeper the built object uses: on the caller's client, or on a client of its own, connected
     * within the command timeout.
     *
     * @throws IllegalStateException if the supplied Curator client is not started
     * @throws IdSourceUnavailableException if no connection is made within the command timeout
     */
    ZooKeeperAccess access() {
        return curator != null ? ZooKeeperAccess.of(curator, commandTimeout)
                : ZooKeeperAccess.connect(Objects.requireNonNull(connectString), sessionTimeout, commandTimeout);
    }
}
