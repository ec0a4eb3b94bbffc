package io.distkit.lock.zookeeper;

import java.time.Duration;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A ZooKeeper session of one acquisition whose lock is not renewed: its own Curator client, with the lease
 * time as session timeout. The lock's ephemeral node lives in it, and nothing else does, so closing it
 * deletes the node: the backend closes it when the lock is released, when the acquisition gives up, and when
 * the lease runs out ({@link #closeAt}), so that an abandoned lock frees itself within its lease as the
 * contract requires. If this process dies, the server expires the session after its timeout, which must
 * then be at least the lease time ({@link #checkTimeout}): a longer one keeps a dead holder's lock longer,
 * which is safe; a shorter one could free the lock while its holder still believes it holds it.
 */
final class PrivateSession {

    private static final Logger LOG = LoggerFactory.getLogger(PrivateSession.class);

    private final CuratorFramework curator;
    private final ZooKeeperCalls calls;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Consumer<PrivateSession> onClosed;
    private volatile @Nullable ScheduledFuture<?> closeTimer;

    private PrivateSession(CuratorFramework curator, ZooKeeperCalls calls, Consumer<PrivateSession> onClosed) {
        this.curator = curator;
        this.calls = calls;
        this.onClosed = onClosed;
    }

    /**
     * Starts a new session's client; the session itself is made when the first call goes out. {@code onClosed}
     * runs once, after the client was closed.
     */
    static PrivateSession open(String connectString, @Nullable String namespace, Duration leaseTime,
            ZooKeeperCalls calls, Consumer<PrivateSession> onClosed) {
        int timeoutMillis = (int) Math.min(Integer.MAX_VALUE, calls.timeout().toMillis());
        int sessionMillis = (int) Math.max(1, Math.min(Integer.MAX_VALUE, leaseTime.toMillis()));
        CuratorFramework curator = CuratorFrameworkFactory.builder()
                .connectString(connectString)
                .namespace(namespace)
                .sessionTimeoutMs(sessionMillis)
                // Curator warns of a connection timeout above the session's; calls are bounded by ours anyway
                .connectionTimeoutMs(Math.min(timeoutMillis, sessionMillis))
                .retryPolicy(ZooKeeperCalls.retryPolicy(calls.timeout()))
                .build();
        curator.start();
        return new PrivateSession(curator, calls, onClosed);
    }

    CuratorFramework curator() {
        return curator;
    }

    boolean isClosed() {
        return closed.get();
    }

    /**
     * Fails if the server negotiated a session timeout below {@code leaseTime}: a holder cut off from the
     * ensemble would then lose the node before its lease ends. Call after a call on the session succeeded.
     */
    void checkTimeout(String lockName, Duration leaseTime) throws Exception {
        int negotiated = curator.getZookeeperClient().getZooKeeper().getSessionTimeout();
        if (negotiated < leaseTime.toMillis()) {
            throw new IllegalArgumentException("leaseTime " + leaseTime + " of lock '" + lockName + "' without"
                    + " auto-renewal is longer than the session timeout of " + negotiated + " ms that "
                    + calls.describe() + " grants (its maxSessionTimeout): the lock's node would vanish before its"
                    + " lease ends if this client were cut off; use a shorter leaseTime or raise maxSessionTimeout");
        }
    }

    /** Closes the session when the lease has run out, {@code leaseTime} from now. */
    void closeAt(Duration leaseTime) {
        closeTimer = calls.schedule(this::closeInBackground, leaseTime);
    }

    /** Closes the session (its node goes with it) on a backend thread; idempotent. */
    void closeInBackground() {
        if (closed.get()) {
            return;
        }
        calls.execute(this::close);
    }

    /** Closes the session on this thread; idempotent. Closing a Curator client may block briefly. */
    void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        ScheduledFuture<?> timer = closeTimer;
        if (timer != null) {
            timer.cancel(false);
        }
        try {
            curator.close();
        } catch (RuntimeException e) {
            LOG.warn("closing a private ZooKeeper session of {} failed", calls.describe(), e);
        } finally {
            onClosed.accept(this);
        }
    }
}
