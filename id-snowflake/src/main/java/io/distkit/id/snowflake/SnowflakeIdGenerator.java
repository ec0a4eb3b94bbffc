package io.distkit.id.snowflake;

import io.distkit.id.ClockMovedBackwardsException;
import io.distkit.id.IdGenerationException;
import io.distkit.id.IdGenerator;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.Ticker;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A snowflake id generator: ids of a {@link SnowflakeLayout} made of the current timestamp, a leased
 * worker id and a sequence number within the timestamp. Lock-free and safe for any number of
 * threads.
 *
 * <pre>{@code
 * try (SnowflakeIdGenerator ids = SnowflakeIdGenerator.builder(SnowflakeLayout.TWITTER)
 *         .workerIdAssigner(assigner)          // leases a worker id; StaticWorkerIdAssigner.of(7) for a fixed one
 *         .build()) {
 *     long id = ids.nextId();
 *     String key = IdFormat.format(id);        // 13 characters that sort like the ids
 * }
 * }</pre>
 *
 * <p><b>Guarantees.</b> No id is returned twice, by this generator or by any other generator of the
 * same layout whose worker lease comes from the same store, whatever their wall clocks say: no id
 * above the persisted high-water mark; a new holder starts above it, so two holders of one worker id
 * can never issue the same timestamp (see "Worker lease" below). The ids one generator returns
 * increase strictly in the order the calls take effect, so the ids one thread sees increase. A
 * generator built after another holder of its worker id closed, crashed or lost its lease starts
 * above every id that holder returned. When an id cannot be issued safely, none is: the generator
 * waits (boundedly) or throws; it never returns a magic value.
 *
 * <p><b>Time.</b> The wall clock ({@link Builder#clock}) is read when the generator is built and then
 * about once per {@link Builder#resyncInterval resync interval} (default 1 s); between readings the
 * time advances with the monotonic {@link Builder#ticker ticker}. So the hot path reads only the
 * ticker (with {@code System.nanoTime()}, as cheap as {@code currentTimeMillis()}), the wall clock may
 * be any {@link Clock} (even one whose reading allocates), tick boundaries are known to the
 * nanosecond so a thread that waits for the next tick parks exactly until then, and a step of the
 * wall clock cannot reach the ids between two readings: a step that is undone before the next reading
 * goes unnoticed. A re-sync moves the time forward as soon as the wall clock is ahead (by any
 * amount: drift, a suspended VM, a forward step), and back only when the wall clock is behind by more
 * than a millisecond beyond the reading's precision.
 *
 * <p>Why follow the wall clock back at all, instead of running on the ticker for ever: the hand-over
 * of a worker id to a new process costs that process a wait until its wall clock passes the old
 * holder's persisted mark. A generator whose time ran ahead of its wall clock by a minute (it ignored
 * a backward step) would push its mark a minute ahead of every clock, and its successor would have
 * to wait that minute out. So the lead of the ids over the wall clock is bounded: by zero in the
 * default strict mode, by {@link Builder#logicalClock maxLogicalLead} in logical mode.
 *
 * <p><b>Clock rollback.</b> When the time is behind the last issued timestamp (the wall clock went
 * back and a re-sync followed it; or a worker id was persisted ahead of this process's clock):
 * <ul>
 *   <li>strict (default): a step back of up to {@link Builder#maxBackwardWait maxBackwardWait}
 *       (default 10 ms) is waited out; a longer one throws {@link ClockMovedBackwardsException} with
 *       its size at once, without waiting, until the time passes the last timestamp again. Steps
 *       shorter than one time unit are always waited out, like a sequence overflow;
 *   <li>logical ({@link Builder#logicalClock}): ids keep coming from the last timestamp, never below
 *       it, moving on to the next timestamp when its sequence runs out, as long as the timestamp leads
 *       the time by at most {@code maxLogicalLead}; past that, the generator waits (up to
 *       {@code maxBackwardWait}) or throws as in strict mode. A sequence overflow in logical mode also
 *       moves on at once within the lead, so bursts can borrow up to {@code maxLogicalLead} of future
 *       timestamps.
 * </ul>
 *
 * <p><b>Throughput.</b> At most 2<sup>sequenceBits</sup> ids per time unit
 * ({@link SnowflakeLayout#maxIdsPerSecond()}): when a time unit's sequence runs out, callers park until
 * the next one starts (or spin with {@link Thread#onSpinWait()} for the last 20 µs), so a saturated
 * generator issues at its limit without burning a core. {@link #nextIds(int)} reserves a run of
 * sequence numbers with one compare-and-set per time unit it spans. Every wait is bounded (one time
 * unit, {@code maxBackwardWait}, or {@code maxStartupWait} when building); an interrupt does not cut it
 * short, and the thread's interrupt flag stays set.
 *
 * <p><b>Worker lease and high-water mark.</b> The worker id comes from a {@link WorkerLease}, given or
 * acquired from a {@link WorkerIdAssigner} (then the generator owns and closes it). The timestamp the
 * lease persists is a <em>reservation</em>: the generator never issues a timestamp above the mark it
 * has successfully persisted through {@link WorkerLease#saveLastTimestamp} (a save that failed, or
 * whose outcome is unknown, does not count). Building waits, up to {@link Builder#maxStartupWait
 * maxStartupWait}, until the time is past the mark the lease read from its store (an earlier
 * holder's, or this process's before a restart), re-reading the wall clock every resync interval
 * meanwhile, and otherwise throws {@link ClockMovedBackwardsException} at once, naming both; then it
 * persists a first mark of its own before any id. So a holder that was paused or cut off, and goes
 * on issuing until it notices the loss, still issues only timestamps at or below a mark its successor
 * reads and starts above: two holders of one worker id can never issue the same timestamp, however
 * far apart their wall clocks are. Keep the persist interval well below the lease time of the
 * assigner, so that a failed save can be retried before the reserve runs out.
 *
 * <p>A daemon thread {@code distkit-snowflake-persist-<n>} keeps the mark ahead of the time: every
 * half {@link Builder#persistInterval persistInterval} (default 1 s) it checks the reserve left, and
 * when less than one interval is, saves {@code max(now, last timestamp) + 2 × persistInterval}; so
 * an open generator writes about once per interval, used or idle. If the reserve runs out all the
 * same (the store is slow or unreachable, or the clock jumped forward), the call that needs a
 * timestamp above the mark saves a new mark itself and waits for it, as long as the store's own
 * timeout lets a save take; calls that arrive meanwhile wait for that save. If it fails they throw
 * {@link IdSourceUnavailableException} (or {@link WorkerLeaseLostException} when the store says the
 * lease is gone) and issue nothing above the mark; ids of timestamps already reserved go on.
 *
 * <p>The price of the reservation is the hand-over: the successor of a generator that closed a
 * moment ago waits up to {@code 2 × persistInterval} of its predecessor (2 s by default, within the
 * default {@code maxStartupWait} of 5 s) for its clock to pass the mark. {@link #close()} cannot take
 * a reservation back (the store keeps the highest mark saved).
 *
 * <p><b>Losing the lease.</b> The generator stops issuing, throwing {@link WorkerLeaseLostException},
 * as soon as the lease's {@code onLost} listener fires, {@link WorkerLease#isValid()} (asked whenever
 * the generator moves to a new timestamp) turns false, or a save finds the lease lost: another process
 * may hold the worker id by then. What follows depends on where the lease came from:
 * <ul>
 *   <li>{@link Builder#workerIdAssigner an assigner}: the generator leases a worker id again, on a
 *       background thread, retrying a failed attempt after 100 ms, 200 ms, … up to every 10 s, and
 *       goes on with it once it holds it: until then calls throw {@link WorkerLeaseLostException} at
 *       once. The new worker id may differ ({@link #workerId()} tells), and the ids go on above every
 *       id issued before the loss (the new lease waits, up to {@code maxStartupWait}, for the time to
 *       pass both its own mark and the last timestamp issued), so they keep increasing. When the
 *       assigner is closed, the generator stops for good;
 *   <li>{@link Builder#workerLease a lease of yours}: it stops for good; build a new generator on a
 *       valid lease.
 * </ul>
 */
public interface SnowflakeIdGenerator extends IdGenerator, AutoCloseable {

    /** Default {@link Builder#maxBackwardWait}: 10 ms. */
    Duration DEFAULT_MAX_BACKWARD_WAIT = Duration.ofMillis(10);
    /** Largest {@link Builder#maxBackwardWait}: 10 s. Wait longer, and callers hang; use logical mode. */
    Duration MAX_BACKWARD_WAIT = Duration.ofSeconds(10);
    /**
     * Default {@link Builder#maxStartupWait}: 5 s, enough to wait out the high-water mark of a
     * predecessor that used the default persist interval (reserved up to 2 s ahead of its clock).
     */
    Duration DEFAULT_MAX_STARTUP_WAIT = Duration.ofSeconds(5);
    /** Largest {@link Builder#maxStartupWait}: 10 minutes. */
    Duration MAX_STARTUP_WAIT = Duration.ofMinutes(10);
    /** Largest {@link Builder#logicalClock maxLogicalLead}: 1 hour. */
    Duration MAX_LOGICAL_LEAD = Duration.ofHours(1);
    /** Default {@link Builder#resyncInterval}: 1 s. */
    Duration DEFAULT_RESYNC_INTERVAL = Duration.ofSeconds(1);
    /** Default {@link Builder#persistInterval}: 1 s. */
    Duration DEFAULT_PERSIST_INTERVAL = Duration.ofSeconds(1);
    /** Largest {@link Builder#resyncInterval} and {@link Builder#persistInterval}: 1 hour. */
    Duration MAX_INTERVAL = Duration.ofHours(1);

    /**
     * A builder for generators of {@code layout}.
     *
     * @throws NullPointerException if {@code layout} is null
     */
    static Builder builder(SnowflakeLayout layout) {
        return new Builder(Objects.requireNonNull(layout, "layout"));
    }

    /**
     * The next id: the current timestamp, this generator's worker id, the next sequence number.
     *
     * @throws ClockMovedBackwardsException if the time is behind the last issued timestamp by more than
     *     the generator waits out (see the class description)
     * @throws WorkerLeaseLostException if the worker lease is lost or no longer valid
     * @throws IdSourceUnavailableException if the call needs a timestamp above the persisted high-water
     *     mark and a new mark cannot be saved through the lease (see the class description)
     * @throws IdGenerationException if the layout's timestamps have run out
     * @throws IllegalStateException if the generator is closed
     */
    @Override
    long nextId();

    /**
     * {@code count} ids that increase by one within each time unit, reserved with one compare-and-set per
     * time unit they span; the same guarantees and exceptions as {@link #nextId()}. If a call throws
     * halfway, the ids reserved before are dropped: a gap, never a duplicate.
     */
    @Override
    long[] nextIds(int count);

    /** The layout of the ids. */
    SnowflakeLayout layout();

    /** The worker id in every id of this generator. */
    int workerId();

    /** The timestamp of the last id issued, in time units of the layout; the lease's persisted value before the first. */
    long lastTimestamp();

    /**
     * Stops issuing ids, waits for a save of the high-water mark in progress, and closes the lease if
     * this generator acquired it. Saves nothing: the persisted mark already covers every id issued, and
     * the next holder of the worker id starts above it. Idempotent; never throws because the lease's
     * store is unreachable. {@link #nextId()} then throws {@link IllegalStateException}.
     */
    @Override
    void close();

    /**
     * Configures a generator. A worker id source is required: {@link #workerLease} or
     * {@link #workerIdAssigner}, exactly one. Setters check their argument at once and name it in the
     * message.
     */
    final class Builder {
        final SnowflakeLayout layout;
        @Nullable WorkerLease lease;
        @Nullable WorkerIdAssigner assigner;
        Clock clock = Clock.systemUTC();
        Ticker ticker = Ticker.system();
        Duration maxBackwardWait = DEFAULT_MAX_BACKWARD_WAIT;
        @Nullable Duration maxLogicalLead;
        Duration maxStartupWait = DEFAULT_MAX_STARTUP_WAIT;
        Duration resyncInterval = DEFAULT_RESYNC_INTERVAL;
        Duration persistInterval = DEFAULT_PERSIST_INTERVAL;
        Waiter waiter = Waiter.PARK;

        private Builder(SnowflakeLayout layout) {
            this.layout = layout;
        }

        /**
         * The worker lease to use; it stays yours (the generator does not close it). Its worker id must
         * be in the layout's range.
         */
        public Builder workerLease(WorkerLease lease) {
            this.lease = Objects.requireNonNull(lease, "workerLease");
            return this;
        }

        /**
         * Where to lease a worker id from at {@link #build()}, with {@link SnowflakeLayout#maxWorkerIds()},
         * and again whenever that lease is lost (see "Losing the lease"); the generator closes the leases
         * it took when it is closed (not the assigner).
         */
        public Builder workerIdAssigner(WorkerIdAssigner assigner) {
            this.assigner = Objects.requireNonNull(assigner, "workerIdAssigner");
            return this;
        }

        /** The wall clock; default {@link Clock#systemUTC()}. Read at build and once per resync interval. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** The monotonic ticker; default {@link Ticker#system()}. Read on every call. */
        public Builder ticker(Ticker ticker) {
            this.ticker = Objects.requireNonNull(ticker, "ticker");
            return this;
        }

        /**
         * How long a call may wait for the time to pass the last issued timestamp after a backward step
         * (in logical mode: for the lead to come back within the bound); default 10 ms. A call that would
         * have to wait longer throws {@link ClockMovedBackwardsException} at once.
         *
         * @throws IllegalArgumentException if negative or above {@link #MAX_BACKWARD_WAIT}
         */
        public Builder maxBackwardWait(Duration maxBackwardWait) {
            this.maxBackwardWait = checkBetween("maxBackwardWait", maxBackwardWait, Duration.ZERO, MAX_BACKWARD_WAIT);
            return this;
        }

        /**
         * Opts in to logical mode: after a backward step, and on a sequence overflow, ids go on from the
         * last timestamp (never below it), whose lead over the time may grow up to {@code maxLogicalLead}.
         * The lead weakens the hand-over of the worker id to another process by as much; keep it well
         * below the lease time of the worker lease.
         *
         * @throws IllegalArgumentException if shorter than one time unit of the layout or longer than
         *     {@link #MAX_LOGICAL_LEAD}
         */
        public Builder logicalClock(Duration maxLogicalLead) {
            this.maxLogicalLead = checkBetween("maxLogicalLead", maxLogicalLead, layout.timeUnit(), MAX_LOGICAL_LEAD);
            return this;
        }

        /**
         * How long {@link #build()} may wait for the time to pass the high-water mark persisted for the
         * worker id; default 5 s. Longer, and build throws {@link ClockMovedBackwardsException}. A
         * predecessor that closed a moment ago left its mark up to 2 of its persist intervals ahead.
         *
         * @throws IllegalArgumentException if negative or above {@link #MAX_STARTUP_WAIT}
         */
        public Builder maxStartupWait(Duration maxStartupWait) {
            this.maxStartupWait = checkBetween("maxStartupWait", maxStartupWait, Duration.ZERO, MAX_STARTUP_WAIT);
            return this;
        }

        /**
         * How often the wall clock is read again to correct the ticker-advanced time; default 1 s.
         * {@link Duration#ZERO} reads it on every call (the classic design, ids follow every step at once).
         *
         * @throws IllegalArgumentException if negative or above {@link #MAX_INTERVAL}
         */
        public Builder resyncInterval(Duration resyncInterval) {
            this.resyncInterval = checkBetween("resyncInterval", resyncInterval, Duration.ZERO, MAX_INTERVAL);
            return this;
        }

        /**
         * The rhythm of the high-water mark; default 1 s. The mark is checked every half interval and,
         * when less than one interval of reserve is left, saved through the worker lease 2 intervals ahead
         * of the time. Shorter: more writes to the lease's store, a quicker hand-over of the worker id
         * (a successor waits up to 2 intervals). Keep it well below the lease time of the assigner, so
         * that a save can fail and be retried before the reserve runs out.
         *
         * @throws IllegalArgumentException if shorter than 1 ms or above {@link #MAX_INTERVAL}
         */
        public Builder persistInterval(Duration persistInterval) {
            this.persistInterval = checkBetween("persistInterval", persistInterval, Duration.ofMillis(1), MAX_INTERVAL);
            return this;
        }

        /** Tests: how time passes while the generator waits (a manual clock advances itself). */
        Builder waiter(Waiter waiter) {
            this.waiter = Objects.requireNonNull(waiter, "waiter");
            return this;
        }

        /**
         * Acquires the worker lease if an assigner was given, waits for the time to pass the lease's
         * persisted high-water mark, persists a first mark of its own through the lease, and returns
         * the running generator.
         *
         * @throws IllegalStateException if neither or both of a lease and an assigner were given
         * @throws IllegalArgumentException if the worker id is out of the layout's range, the lease is not
         *     valid or its persisted timestamp does not fit the layout, the layout's epoch is after the
         *     clock's now, or the layout runs out within {@value SnowflakeLayout#MIN_REMAINING_YEARS}
         *     years of it
         * @throws ClockMovedBackwardsException if the time does not pass the lease's persisted timestamp
         *     within {@code maxStartupWait}; the message names both
         * @throws IdSourceUnavailableException if the first mark cannot be saved through the lease
         * @throws WorkerLeaseLostException if saving the first mark finds the lease lost
         * @throws IdGenerationException as the assigner's {@code acquire} throws it
         */
        public SnowflakeIdGenerator build() {
            if (lease != null && assigner != null) {
                throw new IllegalStateException("set either workerLease or workerIdAssigner, not both");
            }
            if (lease != null) {
                return new LockFreeSnowflakeGenerator(this, lease, false, 0, TimestampReservation::new);
            }
            if (assigner == null) {
                throw new IllegalStateException("a worker id source is required: call workerLease(WorkerLease) or"
                        + " workerIdAssigner(WorkerIdAssigner), e.g. StaticWorkerIdAssigner.of(0)");
            }
            return new LeasingSnowflakeGenerator(copy(), assigner);
        }

        /** The settings as they are now: a generator that builds again later must not see later changes. */
        private Builder copy() {
            Builder c = new Builder(layout);
            c.assigner = assigner;
            c.clock = clock;
            c.ticker = ticker;
            c.maxBackwardWait = maxBackwardWait;
            c.maxLogicalLead = maxLogicalLead;
            c.maxStartupWait = maxStartupWait;
            c.resyncInterval = resyncInterval;
            c.persistInterval = persistInterval;
            c.waiter = waiter;
            return c;
        }

        private static Duration checkBetween(String name, Duration value, Duration min, Duration max) {
            Objects.requireNonNull(value, name);
            if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
                throw new IllegalArgumentException(name + " must be between " + min + " and " + max + ", was " + value);
            }
            return value;
        }
    }
}
