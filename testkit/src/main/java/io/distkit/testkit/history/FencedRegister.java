package io.distkit.testkit.history;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The protected resource of docs/failures.md, in-JVM: one {@code long} (initially 0) that refuses writes
 * carrying a fencing token lower than the highest token it has seen. Thread-safe; every operation
 * is atomic, and {@link #writes()} lists accepted and rejected writes in the order applied, which is
 * what {@link Checkers#fencedResource} judges.
 *
 * <p><b>Why reads take a token.</b> A read-modify-write is safe only if the read is fenced as well:
 * otherwise a paused holder A (token 10) that read before B (token 11) acquired, and writes before B
 * writes, gets its write accepted and B's then overwrites it with the same increment. So
 * {@link #read(long)} raises the high-water mark like a write does; a stale reader still gets the
 * value (harmless: its write will be refused). The highest token seen is therefore the highest of
 * accepted writes and fenced reads. An equal token is accepted: one holder may write twice.
 *
 * <p>{@link #unfenced()} makes the negative control: it accepts every write.
 */
public final class FencedRegister {

    /**
     * One write attempt.
     *
     * @param process the writer
     * @param token the token it presented
     * @param value the value it wrote
     * @param time {@link System#nanoTime()} when applied or refused
     * @param accepted whether the register took it
     */
    public record Write(String process, long token, long value, long time, boolean accepted) {
        @Override
        public String toString() {
            return time + " " + process + (accepted ? " wrote " : " refused write of ") + value + " tok=" + token;
        }
    }

    private final boolean fencing;
    private final List<Write> writes = new ArrayList<>();
    private long value;
    private long highestToken = Op.NONE;

    /** A fenced register holding 0. */
    public FencedRegister() {
        this(true);
    }

    private FencedRegister(boolean fencing) {
        this.fencing = fencing;
    }

    /** A register that accepts every write whatever its token: the negative control. */
    public static FencedRegister unfenced() {
        return new FencedRegister(false);
    }

    /** Whether stale tokens are refused. */
    public boolean fencing() {
        return fencing;
    }

    /** The current value, without fencing (for checks and diagnostics). */
    public synchronized long read() {
        return value;
    }

    /** Reads as the holder of {@code token}: from now on writes with a lower token are refused. */
    public synchronized long read(long token) {
        highestToken = Math.max(highestToken, token);
        return value;
    }

    /**
     * Writes {@code value} unless {@code token} is lower than the highest token seen (always, if
     * unfenced). Both outcomes are logged.
     *
     * @return whether the write was accepted
     */
    public synchronized boolean write(String process, long token, long value) {
        Objects.requireNonNull(process, "process");
        boolean accepted = !fencing || token >= highestToken;
        if (accepted) {
            this.value = value;
            highestToken = Math.max(highestToken, token);
        }
        writes.add(new Write(process, token, value, System.nanoTime(), accepted));
        return accepted;
    }

    /** The highest token seen in accepted writes and fenced reads, or {@link Op#NONE}. */
    public synchronized long highestToken() {
        return highestToken;
    }

    /** Every write attempt, accepted or not, in the order applied. */
    public synchronized List<Write> writes() {
        return List.copyOf(writes);
    }

    @Override
    public synchronized String toString() {
        return "FencedRegister[value=" + value + ", highestToken=" + (highestToken == Op.NONE ? "-" : highestToken)
                + (fencing ? "" : ", UNFENCED") + ", writes=" + writes.size() + "]";
    }
}
