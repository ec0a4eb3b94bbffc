package io.distkit.lock;

import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * How a lock is held: lease time, background renewal, reentrancy. Immutable; built by
 * {@link #builder()}, which checks every argument.
 *
 * <p>The lease is how long the backend keeps the lock of a holder that stopped renewing (crashed,
 * paused, cut off). With {@link #autoRenew()} the client renews it every {@link #renewInterval()}
 * while held, so the lease bounds the wait after a crash, not the length of a critical section.
 */
public final class LockOptions {

    /** Longest lock name accepted, in characters. */
    public static final int MAX_NAME_LENGTH = 200;
    /** Default lease: 30 seconds. */
    public static final Duration DEFAULT_LEASE_TIME = Duration.ofSeconds(30);
    /** Renewal runs every {@code leaseTime / DEFAULT_RENEW_DIVISOR} unless set. */
    public static final int DEFAULT_RENEW_DIVISOR = 3;

    /**
     * Shortest lease accepted: 500 ms. A lease holds only if every acquire reply arrives, and some renewal
     * gets through, within it, despite everything that stalls a client: a loaded server, the network,
     * garbage-collection pauses and scheduling delays of this JVM on a busy machine. Those stalls reach
     * tens of milliseconds at the tail on loopback Redis under load (10 ms leases were lost within a
     * second; with 50 ms, 1 to 2 grants in 150 came back after the lease had run out locally) and a few
     * hundred on an ordinary busy host. At 500 ms an acquire reply has 493 ms (the lease less the drift
     * allowance of 1% + 2 ms), and with renewals every third of the lease a holder keeps its lock through
     * a stall of about 300 ms: well above those tails, still a short wait after a crash. Longer leases cost
     * nothing while held (they are renewed), so prefer seconds.
     */
    public static final Duration MIN_LEASE_TIME = Duration.ofMillis(500);

    /** Longest lease accepted: beyond it, nanosecond deadline arithmetic would be needlessly close to overflow. */
    public static final Duration MAX_LEASE_TIME = Duration.ofDays(30);

    private static final LockOptions DEFAULTS = builder().build();

    private final Duration leaseTime;
    private final boolean autoRenew;
    private final Duration renewInterval;
    private final boolean reentrant;
    private final boolean renewIntervalSet;

    private LockOptions(Builder b) {
        this.leaseTime = b.leaseTime;
        this.autoRenew = b.autoRenew;
        this.renewIntervalSet = b.renewInterval != null;
        this.renewInterval = b.renewInterval != null ? b.renewInterval : b.leaseTime.dividedBy(DEFAULT_RENEW_DIVISOR);
        this.reentrant = b.reentrant;
    }

    /** Lease 30 s, renewed every 10 s, reentrant. */
    public static LockOptions defaults() {
        return DEFAULTS;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from these options. */
    public Builder toBuilder() {
        Builder b = new Builder().leaseTime(leaseTime).autoRenew(autoRenew).reentrant(reentrant);
        b.renewInterval = renewIntervalSet ? renewInterval : null; // a default interval follows a new lease
        return b;
    }

    /** How long the backend keeps the lock without a renewal. */
    public Duration leaseTime() {
        return leaseTime;
    }

    /** Whether the client renews the lease in the background while the lock is held. */
    public boolean autoRenew() {
        return autoRenew;
    }

    /** Time between renewals; at most half the lease, so that one failed renewal can be retried. */
    public Duration renewInterval() {
        return renewInterval;
    }

    /** Whether a thread holding the lock through this client may take it again without waiting. */
    public boolean reentrant() {
        return reentrant;
    }

    @Override
    public boolean equals(@Nullable Object o) {
        return o instanceof LockOptions other
                && leaseTime.equals(other.leaseTime)
                && autoRenew == other.autoRenew
                && renewInterval.equals(other.renewInterval)
                && reentrant == other.reentrant;
    }

    @Override
    public int hashCode() {
        return Objects.hash(leaseTime, autoRenew, renewInterval, reentrant);
    }

    @Override
    public String toString() {
        return "LockOptions[leaseTime=" + leaseTime + ", autoRenew=" + autoRenew
                + ", renewInterval=" + renewInterval + ", reentrant=" + reentrant + "]";
    }

    /** Builds {@link LockOptions}; every setter checks its argument at once. */
    public static final class Builder {
        private Duration leaseTime = DEFAULT_LEASE_TIME;
        private boolean autoRenew = true;
        private @Nullable Duration renewInterval;
        private boolean reentrant = true;

        private Builder() {}

        /**
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if under {@link #MIN_LEASE_TIME} or over {@link #MAX_LEASE_TIME}
         */
        public Builder leaseTime(Duration leaseTime) {
            Objects.requireNonNull(leaseTime, "leaseTime");
            if (leaseTime.compareTo(MIN_LEASE_TIME) < 0) {
                throw new IllegalArgumentException("leaseTime must be at least " + MIN_LEASE_TIME.toMillis()
                        + " ms, was " + leaseTime + "; a shorter lease is lost to an ordinary pause of the client"
                        + " or a slow reply (see LockOptions.MIN_LEASE_TIME)");
            }
            if (leaseTime.compareTo(MAX_LEASE_TIME) > 0) {
                throw new IllegalArgumentException("leaseTime must be at most " + MAX_LEASE_TIME + ", was " + leaseTime
                        + "; a lease bounds how long a crashed holder blocks others, it is not a hold time");
            }
            this.leaseTime = leaseTime;
            return this;
        }

        public Builder autoRenew(boolean autoRenew) {
            this.autoRenew = autoRenew;
            return this;
        }

        /**
         * Time between renewals; default {@code leaseTime / 3}. Checked against the lease in
         * {@link #build()}: it must be at most half of it.
         *
         * @throws NullPointerException if null
         * @throws IllegalArgumentException if not positive
         */
        public Builder renewInterval(Duration renewInterval) {
            Objects.requireNonNull(renewInterval, "renewInterval");
            if (renewInterval.isNegative() || renewInterval.isZero()) {
                throw new IllegalArgumentException("renewInterval must be positive, was " + renewInterval);
            }
            this.renewInterval = renewInterval;
            return this;
        }

        public Builder reentrant(boolean reentrant) {
            this.reentrant = reentrant;
            return this;
        }

        /**
         * @throws IllegalArgumentException if the renew interval is more than half the lease: a
         *     renewal that fails once would then leave no time to retry before the lease runs out
         */
        public LockOptions build() {
            if (renewInterval != null && renewInterval.multipliedBy(2).compareTo(leaseTime) > 0) {
                throw new IllegalArgumentException("renewInterval (" + renewInterval
                        + ") must be at most half the leaseTime (" + leaseTime
                        + ") so that a failed renewal can be retried before the lease runs out");
            }
            return new LockOptions(this);
        }
    }
}
