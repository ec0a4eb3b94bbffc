package io.distkit.testkit.server;

import java.nio.file.Path;

/**
 * The lifecycle the multi-member fixtures ({@link EtcdCluster}, {@link RedisCluster},
 * {@link ZooKeeperCluster}) share, as a {@link TestServer}: the members keep their data in one temp
 * directory; {@link #start()} is idempotent; {@link #heal()} starts a cluster that was not started
 * and otherwise heals its members; {@link #close()} stops every member and removes the directory.
 */
abstract class ClusterFixture implements TestServer {

    private final Path dir;
    private boolean started;

    /** @param dir the temp directory of all members, which {@link #close()} removes */
    ClusterFixture(Path dir) {
        this.dir = dir;
    }

    /**
     * Starts every member and waits until the cluster serves. On failure stops what it started and
     * throws, so that the cluster can be started again.
     */
    abstract void startMembers();

    /** Undoes the faults of a started cluster (paused or dead members) and waits until it serves again. */
    abstract void healMembers();

    /** Stops every member; the data is thrown away. */
    abstract void stopMembers();

    /** Starts every member and waits until the cluster serves. Idempotent. */
    @Override
    public final synchronized void start() {
        if (started) {
            return;
        }
        startMembers();
        started = true;
    }

    @Override
    public final synchronized boolean isStarted() {
        return started;
    }

    /** Resumes or restarts the members that were faulted and waits until the cluster serves; starts it if it was not started. */
    @Override
    public final synchronized void heal() {
        if (!started) {
            start();
            return;
        }
        healMembers();
    }

    /** Stops every member and removes the temp directory. Idempotent. */
    @Override
    public final synchronized void close() {
        started = false;
        stopMembers();
        Servers.deleteRecursively(dir);
    }

    /** The temp directory holding every member's data. */
    Path dir() {
        return dir;
    }

    /** The member counts the cluster fixtures support: 1, or 3 (a quorum that survives one failure). */
    static int checkMembers(int members) {
        if (members != 1 && members != 3) {
            throw new IllegalArgumentException("members must be 1 or 3, was " + members);
        }
        return members;
    }
}
