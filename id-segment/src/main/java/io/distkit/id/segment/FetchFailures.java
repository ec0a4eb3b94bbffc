package io.distkit.id.segment;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.SegmentAllocator;
import io.distkit.id.Ticker;
import java.time.Duration;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Remembers how fetching failed lately, decides when to try again, and words what callers are told.
 *
 * <p>A failure the store may get over ({@link IdSourceUnavailableException}, or anything not an
 * {@link IdGenerationException}) is retried after {@link #FIRST_RETRY_PAUSE}, doubling up to
 * {@link #MAX_RETRY_PAUSE}. A <em>refusal</em> (any other {@link IdGenerationException}: an overflow, an
 * unknown tag, a broken allocator) is not retried: waiting will not change it; a caller that needs a
 * segment asks again, at most once per {@link #FIRST_RETRY_PAUSE}.
 *
 * <p>Not thread-safe: {@link BufferSwitch} calls it holding its lock.
 */
final class FetchFailures {

    private static final Logger log = LoggerFactory.getLogger(SegmentIdGenerator.class);

    static final Duration FIRST_RETRY_PAUSE = Duration.ofMillis(50);
    static final Duration MAX_RETRY_PAUSE = Duration.ofSeconds(2);
    /** What {@link #failed} returns for a refusal: no retry. */
    static final long NO_RETRY = -1;

    private final SegmentAllocator allocator;
    private final String tag;
    private final Ticker ticker;

    private @Nullable Throwable last;
    /** Ticker value of the last failure. */
    private long lastAt;
    private int inARow;

    FetchFailures(SegmentAllocator allocator, String tag, Ticker ticker) {
        this.allocator = allocator;
        this.tag = tag;
        this.ticker = ticker;
    }

    /** Records a failed attempt; returns the pause before its retry in nanoseconds, or {@link #NO_RETRY} for a refusal. */
    long failed(Throwable e) {
        last = e;
        lastAt = ticker.read();
        inARow++;
        if (e instanceof IdGenerationException && !(e instanceof IdSourceUnavailableException)) {
            log.warn("tag '{}': the allocator refused the next segment; not asked again until a caller needs it: {}",
                    tag, e.toString());
            return NO_RETRY;
        }
        long pause = Math.min(MAX_RETRY_PAUSE.toNanos(), FIRST_RETRY_PAUSE.toNanos() << Math.min(20, inARow - 1));
        if (inARow == 1) {
            log.warn("tag '{}': fetching the next segment from {} failed; retrying in {} ms, then less and less often,"
                    + " up to every {}: {}", tag, allocator, pause / 1_000_000, MAX_RETRY_PAUSE, e.toString());
        } else {
            log.debug("tag '{}': fetching the next segment failed again ({} in a row): {}", tag, inARow, e.toString());
        }
        return pause;
    }

    /** Records that {@code executor} rejected a fetch: nothing will fetch until a caller asks again. */
    void rejected(@Nullable Object executor, RuntimeException e) {
        last = new IdGenerationException("the executor " + executor + " rejected the fetch of the next segment (was it"
                + " shut down? it must outlive the generator)", e);
        lastAt = ticker.read();
        log.warn("tag '{}': {}", tag, last.getMessage());
    }

    /** A fetch succeeded: forgets the failures, saying so if there were any. */
    void succeeded() {
        if (inARow > 0) {
            log.info("tag '{}': fetching segments works again after {} failure(s)", tag, inARow);
            inARow = 0;
        }
        last = null;
    }

    /** Failures since the last success (a rejection by the executor does not count). */
    int inARow() {
        return inARow;
    }

    /** Whether {@link #FIRST_RETRY_PAUSE} has passed since the last failure: a refused fetch may be asked again. */
    boolean pauseOver() {
        return ticker.read() - lastAt >= FIRST_RETRY_PAUSE.toNanos();
    }

    /** What a caller that found both buffers empty throws after a refusal. */
    IdGenerationException refusal() {
        return new IdGenerationException("no id for tag '" + tag + "': both segment buffers are empty and the allocator"
                + " refused the next segment: " + last, last);
    }

    /** What a caller that found both buffers empty throws once it has waited {@code maxWait} in vain. */
    IdSourceUnavailableException unavailable(long step, Duration maxWait) {
        Throwable cause = last;
        String source = cause instanceof IdSourceUnavailableException u ? u.source() : allocator.toString();
        String why = cause == null
                ? "the fetch of the next segment (step " + step + ") has not completed"
                : "fetching the next segment failed " + inARow + " time(s) in a row, the last with: " + cause;
        return new IdSourceUnavailableException(source, "no id for tag '" + tag + "': both segment buffers are"
                + " empty and no segment arrived within maxWait " + maxWait + "; " + why
                + "; fetches are retried in the background", cause);
    }
}
