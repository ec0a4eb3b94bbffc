package io.distkit.lock;

/**
 * One connection to a lock backend: the factory of {@link DistributedLock}s and the owner of their
 * background renewals.
 *
 * <p>Thread-safe. Locks taken through one client share its connection and its renewal pass: the
 * client renews every lock it holds in one batch per interval.
 */
public interface LockClient extends AutoCloseable {

    /**
     * A lock with this client's default {@link LockOptions}.
     *
     * @throws NullPointerException if {@code name} is null
     * @throws IllegalArgumentException if {@code name} is blank or longer than
     *     {@link LockOptions#MAX_NAME_LENGTH} characters
     * @throws IllegalStateException if the client is closed
     */
    DistributedLock lock(String name);

    /**
     * A lock with the given options.
     *
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if {@code name} is blank or too long, or the backend cannot
     *     honour {@code options} (the message says which option and why)
     * @throws IllegalStateException if the client is closed
     */
    DistributedLock lock(String name, LockOptions options);

    /** The options {@link #lock(String)} uses. */
    LockOptions defaultOptions();

    /**
     * Releases every lock held through this client, stops renewals, fails pending acquisitions with
     * a {@link LockException} and closes the backend connection if the client opened it.
     * Idempotent. Handles of released locks report {@code isHeld() == false} and their
     * {@code release()} does nothing.
     */
    @Override
    void close();
}
