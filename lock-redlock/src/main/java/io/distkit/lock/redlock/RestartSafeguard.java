package io.distkit.lock.redlock;

/**
 * How a Redlock client protects itself from a node that restarted and forgot the locks it held.
 *
 * <p>The danger: a node restarted without persistence (or with an append-only file that did not reach the
 * disk) comes back empty while the lock it forgot is still held through the other nodes; it grants the lock
 * again, and with it a second quorum can form. Every node's vote is therefore checked against what the
 * client knows of the node's current process: its {@code run_id}, its start time and its
 * {@code appendfsync} setting, learnt from {@code INFO} and {@code CONFIG GET} when the client connects and
 * again after every reconnect (a restarted process always means a new connection). A vote that arrives on a
 * connection not yet checked never counts.
 */
public enum RestartSafeguard {

    /**
     * The default. A node whose append-only file is synced before every reply ({@code appendonly yes},
     * {@code appendfsync always}) forgets nothing acknowledged, and its votes count at once. Any other node's
     * votes count only once its process has been up for the client's {@code maxLeaseTime}: by then every
     * lock it may have forgotten has expired on the other nodes too. Freshly started nodes therefore make
     * acquires wait (or {@code tryAcquire} fail with a message saying when they will count) for up to one
     * {@code maxLeaseTime}.
     */
    DELAYED_TRUST,

    /**
     * Only nodes with {@code appendonly yes} and {@code appendfsync always} are accepted: building the client
     * fails on any other, and a node found without it after a reconnect gets no vote. For deployments that
     * must never wait out a restart; every lock write then costs an fsync on each node.
     */
    REQUIRE_FSYNC_ALWAYS,

    /**
     * No check: every vote of a reachable master counts. Unsafe: a node restarted without persistence inside
     * a lease can give a second client the lock. For tests that show the danger, and for nodes that can
     * never restart within a lease by other means (a supervisor that waits out the lease before starting
     * Redis, as the Redlock description suggests).
     */
    NONE
}
