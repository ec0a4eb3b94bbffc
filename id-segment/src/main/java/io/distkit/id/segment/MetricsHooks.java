package io.distkit.id.segment;

import io.distkit.id.Segment;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Calls the user's {@link SegmentMetrics} for one tag, logging and dropping what a hook throws so that a
 * broken hook never breaks the generator.
 */
final class MetricsHooks {

    private static final Logger log = LoggerFactory.getLogger(SegmentIdGenerator.class);

    private final SegmentMetrics metrics;
    private final String tag;

    MetricsHooks(SegmentMetrics metrics, String tag) {
        this.metrics = metrics;
        this.tag = tag;
    }

    /** Whether hooks are set: then every fetch is timed, whatever it costs. */
    boolean set() {
        return metrics != SegmentMetrics.NONE;
    }

    void segmentFetched(Segment segment, long tookNanos) {
        try {
            metrics.segmentFetched(tag, segment, Duration.ofNanos(tookNanos));
        } catch (RuntimeException e) {
            threw("segmentFetched", e);
        }
    }

    void fetchFailed(Throwable cause, long tookNanos) {
        try {
            metrics.fetchFailed(tag, cause, Duration.ofNanos(tookNanos));
        } catch (RuntimeException e) {
            threw("fetchFailed", e);
        }
    }

    void emptyBufferWait(long waitedNanos, boolean served) {
        try {
            metrics.emptyBufferWait(tag, Duration.ofNanos(waitedNanos), served);
        } catch (RuntimeException e) {
            threw("emptyBufferWait", e);
        }
    }

    private void threw(String hook, RuntimeException e) {
        log.warn("tag '{}': the metrics hook {} threw: {}", tag, hook, e.toString());
    }
}
