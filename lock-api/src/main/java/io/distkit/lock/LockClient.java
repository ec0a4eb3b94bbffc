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
     * <p>The name rule, the same on every backend: not blank, at most {@link LockOptions#MAX_NAME_LENGTH}
     * characters, well-formed UTF-16 (no unpaired surrogate: drivers would store it as {@code ?}) and no
     * ISO control character (U+0000 to U+001F, U+007F to U+009F). Any other name is kept exactly as given:
     * names that differ in case, in trailing spaces, in Unicode normalisation ({@code "é"}, and
     * {@code "e"} followed by the combining U+0301) or in a single character are distinct locks on every backend.
     *
     * @throws NullPointerException if {@code name} is null
     * @throws IllegalArgumentException if {@code name} breaks the rule; the message names the rule and,
     *     for a bad character, its index
     * @throws IllegalStateException if the client is closed
     */
    DistributedLock lock(String name);

    /**
     * A lock with the given options.
     *
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if {@code name} breaks the rule of {@link #lock(String)}, or the
     *     backend cannot honour {@code options} (the message says which option and why)
     * @throws IllegalStateException if the client is closed
     */
    DistributedLock lock(String name, LockOptions options);

    /** The options {@link #lock(String)} uses. */
    LockOptions defaultOptions();

    /**
     * Releases every lock held through this client, stops renewals, fails pending acquisitions with
     * a {@link LockException} and closes the backend connection if the client opened it.
     * Idempotent, and bounded in time (by the backend's operation timeout): acquisitions in flight get
     * a share of it to settle, and the releases are sent whatever came of that.
     *
     * <p>Afterwards no handle of this client is held. A lock that close released on the server is
     * <em>released</em>, as by its owner: {@code isHeld() == false}, its {@code release()} does nothing,
     * its {@code onLost} listeners do not run. A lock that close could not release (the backend failed,
     * found it gone already, or did not answer in time) is <em>lost</em>: its listeners run and
     * {@link LockHandle#lostReason()} says why; on the server it runs out with its lease.
     */
    @Override
    void close();
}
