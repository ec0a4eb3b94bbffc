package io.distkit.id;

import java.time.Duration;
import java.util.Objects;

/**
 * The clock a time-based generator reads went back further than it is willing to wait out
 * (an NTP step, a VM restored from a snapshot, a manual change). Issuing ids at the earlier time
 * could repeat ids already issued, so none is issued. Retrying after the clock has passed the
 * last issued timestamp again succeeds.
 */
public class ClockMovedBackwardsException extends IdGenerationException {

    private final Duration jump;

    /**
     * @param jump how far the clock went back: the last timestamp issued minus the time now read;
     *     positive
     * @throws IllegalArgumentException if {@code jump} is zero or negative
     */
    public ClockMovedBackwardsException(Duration jump) {
        this(jump, "refusing to issue ids until the clock passes the last issued timestamp again");
    }

    /**
     * @param jump how far the clock went back; positive
     * @param detail what the generator is doing about it, appended to the message
     * @throws IllegalArgumentException if {@code jump} is zero or negative
     */
    public ClockMovedBackwardsException(Duration jump, String detail) {
        super("clock moved backwards by " + describe(jump) + ": " + Objects.requireNonNull(detail, "detail"));
        this.jump = jump;
    }

    /** How far the clock went back; always positive. */
    public Duration jump() {
        return jump;
    }

    // Evaluated before super(...) so a bad jump never produces a half-built exception.
    private static String describe(Duration jump) {
        Objects.requireNonNull(jump, "jump");
        if (jump.isNegative() || jump.isZero()) {
            throw new IllegalArgumentException("jump must be positive, was " + jump);
        }
        long millis = jump.toMillis();
        return (millis > 0 ? millis + " ms" : jump.toNanos() + " ns") + " (" + jump + ")";
    }
}
