package io.distkit.id.snowflake;

import io.distkit.id.IdGenerator;
import io.distkit.id.WorkerLease;
import java.util.Objects;

/**
 * Negative control: the classic snowflake algorithm without a rollback guard. It reads the same time
 * as the real generator (a {@link SnowflakeTime} on the builder's clock, ticker and resync interval)
 * and, when that time is behind its last timestamp by more than the builder's logical lead (none in
 * strict mode), forgets the last timestamp and issues at the time it reads, as naive snowflakes do;
 * within the lead it goes on from its last timestamp, as the real generator in logical mode does. So after a backward step of the clock it repeats ids and they
 * decrease; tests run it through the same history as the real generator to show that their checks
 * catch that. Nothing of it is in {@code src/main}: production generators have no way to turn the
 * guard off.
 */
final class NaiveSnowflakeGenerator implements SnowflakeIdGenerator {

    private final SnowflakeLayout layout;
    private final int workerId;
    private final long unitNanos;
    /** The logical lead in time units; 0 in strict mode. */
    private final long leadUnits;
    private final SnowflakeTime time;
    private final Waiter waiter;
    private long last = -1; // guarded by this
    private int sequence; // guarded by this
    private boolean closed; // guarded by this

    private NaiveSnowflakeGenerator(SnowflakeIdGenerator.Builder settings, WorkerLease lease) {
        this.layout = settings.layout;
        this.workerId = layout.checkWorkerId(lease.workerId());
        this.unitNanos = layout.unitNanos();
        this.leadUnits = settings.maxLogicalLead == null ? 0 : settings.maxLogicalLead.toNanos() / unitNanos;
        this.time = new SnowflakeTime(layout, settings.clock, settings.ticker, settings.resyncInterval, workerId,
                steppedBackNanos -> {});
        this.waiter = settings.waiter;
    }

    /** A naive generator on the clock, ticker, resync interval, waiter and worker lease of {@code settings}. */
    static SnowflakeIdGenerator of(SnowflakeIdGenerator.Builder settings) {
        return new NaiveSnowflakeGenerator(settings, Objects.requireNonNull(settings.lease, "workerLease"));
    }

    @Override
    public synchronized long nextId() {
        if (closed) {
            throw new IllegalStateException("closed");
        }
        for (;;) {
            long nanos = time.sinceEpoch(time.read());
            long now = Math.max(0, Math.floorDiv(nanos, unitNanos));
            if (now > last || last - now > leadUnits) { // ahead, or behind beyond the lead: the guard would act here
                last = now;
                sequence = 0;
                break;
            }
            if (sequence < layout.maxSequence()) { // the same time unit, or behind within the lead
                sequence++;
                break;
            }
            if (now < last && last + 1 - now <= leadUnits) { // logical mode: on to the next unit, within the lead
                last++;
                sequence = 0;
                break;
            }
            waiter.await((now + 1) * unitNanos - nanos); // the sequence of this time unit is used up
        }
        return layout.encode(last, workerId, sequence);
    }

    @Override
    public long[] nextIds(int count) {
        IdGenerator.checkBatchCount(count);
        long[] ids = new long[count];
        for (int i = 0; i < count; i++) {
            ids[i] = nextId();
        }
        return ids;
    }

    @Override
    public SnowflakeLayout layout() {
        return layout;
    }

    @Override
    public int workerId() {
        return workerId;
    }

    @Override
    public synchronized long lastTimestamp() {
        return Math.max(0, last);
    }

    @Override
    public synchronized void close() {
        closed = true;
    }

    @Override
    public String toString() {
        return "NaiveSnowflakeGenerator[worker id " + workerId + ", " + layout + "]";
    }
}
