package io.distkit.id.snowflake;

import io.distkit.id.Ticker;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A wall clock and a monotonic ticker driven by hand, and a {@link Waiter} that lets time pass
 * instead of sleeping: a generator that waits for 3 ms advances both by 3 ms. The ticker starts close
 * to {@code Long.MAX_VALUE}, so every test also checks that the generator only uses differences of
 * ticker values (they wrap around).
 */
final class ManualTime {

    private final AtomicLong wallNanos; // since 1970
    private final AtomicLong tickerNanos = new AtomicLong(Long.MAX_VALUE - Duration.ofSeconds(5).toNanos());
    private final AtomicLong waitedNanos = new AtomicLong();
    private final AtomicLong waits = new AtomicLong();

    ManualTime(Instant start) {
        wallNanos = new AtomicLong(start.getEpochSecond() * 1_000_000_000L + start.getNano());
    }

    /** Both clocks move forward together: time passes. */
    void advance(Duration d) {
        advanceNanos(d.toNanos());
    }

    void advanceNanos(long nanos) {
        if (nanos < 0) {
            throw new IllegalArgumentException("time passes forward only; use stepWall for a clock step, was " + nanos);
        }
        tickerNanos.addAndGet(nanos);
        wallNanos.addAndGet(nanos);
    }

    /** Only the wall clock moves (NTP step, operator): the ticker does not see it. */
    void stepWall(Duration d) {
        wallNanos.addAndGet(d.toNanos());
    }

    /** A broken ticker: moves back (or forward) without the wall clock. */
    void stepTicker(Duration d) {
        tickerNanos.addAndGet(d.toNanos());
    }

    Instant wallNow() {
        long n = wallNanos.get();
        return Instant.ofEpochSecond(Math.floorDiv(n, 1_000_000_000L), Math.floorMod(n, 1_000_000_000L));
    }

    Clock clock() {
        return new Clock() {
            @Override
            public ZoneId getZone() {
                return ZoneOffset.UTC;
            }

            @Override
            public Clock withZone(ZoneId zone) {
                throw new UnsupportedOperationException();
            }

            @Override
            public Instant instant() {
                return wallNow();
            }

            @Override
            public long millis() {
                return Math.floorDiv(wallNanos.get(), 1_000_000L);
            }
        };
    }

    Ticker ticker() {
        return tickerNanos::get;
    }

    /** A waiter that advances both clocks by what the generator waits for, and counts it. */
    Waiter waiter() {
        return nanos -> {
            waits.incrementAndGet();
            waitedNanos.addAndGet(nanos);
            advanceNanos(nanos);
        };
    }

    /**
     * A generator builder on this time: the wall clock, the ticker and the waiter, and the wall clock
     * re-read on every call (resync interval 0) unless the test sets another.
     */
    SnowflakeIdGenerator.Builder builder(SnowflakeLayout layout) {
        return SnowflakeIdGenerator.builder(layout)
                .clock(clock())
                .ticker(ticker())
                .waiter(waiter())
                .resyncInterval(Duration.ZERO);
    }

    /** Total time generators waited through {@link #waiter()}. */
    Duration waited() {
        return Duration.ofNanos(waitedNanos.get());
    }

    long waits() {
        return waits.get();
    }

    void resetWaits() {
        waitedNanos.set(0);
        waits.set(0);
    }
}
