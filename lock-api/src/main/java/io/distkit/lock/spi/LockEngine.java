package io.distkit.lock.spi;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockOptions;
import io.distkit.lock.ReadWriteLockClient;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Turns a {@link LockBackend} into a {@link LockClient}. A backend module's public factory builds
 * its backend and hands it here:
 *
 * <pre>{@code
 * LockClient client = LockEngine.builder(new MyBackend(connection))
 *         .defaultOptions(LockOptions.builder().leaseTime(Duration.ofSeconds(10)).build())
 *         .build();
 * }</pre>
 *
 * <p>What the engine guarantees every backend's users: names and options checked before the
 * backend is called; reentrancy by thread with local hold counts; one renewal pass per client per
 * interval; a local lease deadline measured from the <em>send</em> time of the last successful
 * acquire or renew, minus a drift allowance, on the monotonic {@link Ticker}; loss declared at that
 * deadline or as soon as a renewal or the backend says so, final, with listeners fired once;
 * idempotent release from any thread; cancellation that leaves nothing held; close-all.
 */
public final class LockEngine {

    /** The default of {@link Builder#spinWait}: a little more than a loopback round trip's tail. */
    public static final Duration DEFAULT_SPIN_WAIT = Duration.ofNanos(100_000);

    /**
     * Longest owner prefix: with {@code '#'}, the 22 characters of the client's random id, {@code ':'} and a
     * sequence number of up to 16 digits, an owner value fits the 64 characters backends store.
     */
    public static final int MAX_OWNER_PREFIX_LENGTH = 24;

    private LockEngine() {}

    /**
     * Checks a {@link Builder#spinWait} budget, for backend builders that take it before they build.
     *
     * @throws NullPointerException if null
     * @throws IllegalArgumentException if negative or above 10 ms
     */
    public static Duration checkSpinWait(Duration budget) {
        Objects.requireNonNull(budget, "spinWait");
        if (budget.isNegative() || budget.compareTo(Duration.ofMillis(10)) > 0) {
            throw new IllegalArgumentException("spinWait must be between 0 and 10 ms (0 turns spinning off), was "
                    + budget);
        }
        return budget;
    }

    /**
     * Checks an owner prefix ({@link Builder#ownerPrefix}): 1 to {@value #MAX_OWNER_PREFIX_LENGTH} printable
     * ASCII characters without spaces, so that an owner value fits the 64 characters backends store.
     */
    public static String checkOwnerPrefix(String prefix) {
        Objects.requireNonNull(prefix, "ownerPrefix");
        if (prefix.isEmpty() || prefix.length() > MAX_OWNER_PREFIX_LENGTH
                || !prefix.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
            throw new IllegalArgumentException("ownerPrefix must be 1 to " + MAX_OWNER_PREFIX_LENGTH
                    + " printable ASCII characters without spaces, was '" + prefix + "'");
        }
        return prefix;
    }

    /**
     * Checks a backend builder's command timeout: how long one call to the server may take.
     *
     * @throws NullPointerException if null, with the message "commandTimeout"
     * @throws IllegalArgumentException if not positive
     */
    public static Duration checkCommandTimeout(Duration timeout) {
        Objects.requireNonNull(timeout, "commandTimeout");
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("commandTimeout must be positive, was " + timeout);
        }
        return timeout;
    }

    /**
     * The allowance for clock drift between client and server that the engine takes off every lease: 1 % of
     * the lease plus 2 ms, as in the Redlock analysis. A handle's local deadline is its request's send time
     * plus the lease minus this; a backend that judges a grant's validity itself uses the same allowance.
     */
    public static long driftNanos(long leaseNanos) {
        return leaseNanos / 100 + 2_000_000L;
    }

    /**
     * Checks a backend builder's key prefix: not blank, at most {@code maxLength} characters. A backend
     * checks what else its keys need itself.
     *
     * @throws NullPointerException if null, with the message "keyPrefix"
     * @throws IllegalArgumentException if blank or longer than {@code maxLength}
     */
    public static String checkKeyPrefix(String keyPrefix, int maxLength) {
        Objects.requireNonNull(keyPrefix, "keyPrefix");
        if (keyPrefix.isBlank()) {
            throw new IllegalArgumentException("keyPrefix must not be blank, was '" + keyPrefix + "'");
        }
        if (keyPrefix.length() > maxLength) {
            throw new IllegalArgumentException("keyPrefix must be at most " + maxLength + " characters, was "
                    + keyPrefix.length());
        }
        return keyPrefix;
    }

    public static <S> Builder<S> builder(LockBackend<S> backend) {
        return new Builder<>(backend);
    }

    /** Configures one client. Time sources default to the system's; inject both in tests. */
    public static final class Builder<S> {
        final LockBackend<S> backend;
        Ticker ticker = Ticker.system();
        Clock clock = Clock.systemUTC();
        @Nullable Scheduler scheduler;
        LockOptions defaultOptions = LockOptions.defaults();
        Duration operationTimeout = Duration.ofSeconds(10);
        Duration spinWait = DEFAULT_SPIN_WAIT;
        @Nullable String ownerPrefix;

        private Builder(LockBackend<S> backend) {
            this.backend = Objects.requireNonNull(backend, "backend");
        }

        /** The monotonic clock for deadlines and waits. Pair a manual ticker with a matching {@link #scheduler}. */
        public Builder<S> ticker(Ticker ticker) {
            this.ticker = Objects.requireNonNull(ticker, "ticker");
            return this;
        }

        /** The wall clock, used only to show deadlines as {@link java.time.Instant}s. */
        public Builder<S> clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Where timers and callbacks run; its delays are in the ticker's nanoseconds. Not shut down by
         * the client. Default: two daemon threads of the client's own, stopped on close.
         */
        public Builder<S> scheduler(Scheduler scheduler) {
            this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
            return this;
        }

        /** Options of {@link LockClient#lock(String)}; checked against the backend at {@link #build()}. */
        public Builder<S> defaultOptions(LockOptions options) {
            this.defaultOptions = Objects.requireNonNull(options, "options");
            return this;
        }

        /**
         * How long {@link io.distkit.lock.LockHandle#release()} waits for the backend to confirm, and how
         * long {@link LockClient#close()} takes at most: up to half of it for acquisitions in flight to
         * settle, the rest for its releases. Default 10 s.
         */
        public Builder<S> operationTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "operationTimeout");
            if (timeout.isNegative()) {
                throw new IllegalArgumentException("operationTimeout must not be negative, was " + timeout);
            }
            this.operationTimeout = timeout;
            return this;
        }

        /**
         * How long a blocking acquire or a release spins for the backend's answer before it parks its
         * thread. Parking and waking a thread costs tens of microseconds on a virtual machine, as much
         * as a round trip to a nearby server; the spin saves that when answers come fast, and stops
         * by itself where they do not (see the engine's {@code SpinWait}: at most half the
         * processors spin at once, and a call site where most spins miss parks at once for 16, 32,
         * ... up to 1024 calls before it tries again). {@link Duration#ZERO} turns spinning off.
         * Default 100 µs.
         */
        public Builder<S> spinWait(Duration budget) {
            this.spinWait = checkSpinWait(budget);
            return this;
        }

        /**
         * What this client's owner values start with, for operators reading the backend (who holds this
         * lock?), such as a host name and a process id; a {@code '#'}, the client's random id and a
         * sequence number follow, so owner values stay unique to each acquisition. Default: none.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if empty, longer than {@value LockEngine#MAX_OWNER_PREFIX_LENGTH}
         *     characters, or not printable ASCII without spaces
         */
        public Builder<S> ownerPrefix(String prefix) {
            this.ownerPrefix = checkOwnerPrefix(prefix);
            return this;
        }

        /**
         * The client; a {@link ReadWriteLockClient} when the backend supports read-write locks.
         *
         * @throws IllegalArgumentException if the backend refuses the default options
         */
        public LockClient build() {
            return backend.supportsReadWrite() ? new EngineReadWriteClient<>(this) : new EngineClient<>(this);
        }

        /**
         * The client with read-write locks.
         *
         * @throws UnsupportedOperationException if the backend has no read-write locks
         */
        public ReadWriteLockClient buildReadWrite() {
            if (!backend.supportsReadWrite()) {
                throw new UnsupportedOperationException(backend.describe() + " has no read-write locks");
            }
            return new EngineReadWriteClient<>(this);
        }
    }
}
