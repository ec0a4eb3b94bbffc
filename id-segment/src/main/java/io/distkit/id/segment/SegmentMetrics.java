package io.distkit.id.segment;

import io.distkit.id.Segment;
import java.time.Duration;

/**
 * Hooks a {@link SegmentIdGenerator} calls as it works, for a metrics library of the user's choice
 * (Micrometer, Dropwizard, ...). Every method has a no-op default; {@link #NONE} is the default of
 * the builder. Methods run on the generator's fetch thread or on a caller's thread that had to wait,
 * never on the hot path; they must be quick and must not throw (what they throw is logged and
 * dropped).
 */
public interface SegmentMetrics {

    /** Records nothing. */
    SegmentMetrics NONE = new SegmentMetrics() {};

    /**
     * A segment was reserved.
     *
     * @param tag the generator's tag
     * @param segment the range reserved
     * @param latency how long the allocator took
     */
    default void segmentFetched(String tag, Segment segment, Duration latency) {}

    /**
     * A fetch failed; it is retried after a pause while the generator is open.
     *
     * @param tag the generator's tag
     * @param cause what the allocator threw
     * @param latency how long the allocator took to fail
     */
    default void fetchFailed(String tag, Throwable cause, Duration latency) {}

    /**
     * A caller found both buffers empty and waited.
     *
     * @param tag the generator's tag
     * @param waited how long it waited
     * @param served true if a segment arrived in time, false if the caller got an
     *     {@link io.distkit.id.IdSourceUnavailableException}
     */
    default void emptyBufferWait(String tag, Duration waited, boolean served) {}
}
