package io.distkit.cli;

/**
 * The resource the demo's lock protects: one number, read and written in two steps (so a broken
 * lock would show as lost updates), that refuses a write whose fencing token is lower than the
 * highest it has seen, as any storage behind a distributed lock should. It stands in for a table
 * row or a file in another process; here it lives in the demo's JVM, shared by both lock clients.
 *
 * <p>Each holder writes once per acquisition, so in a correct run the tokens of accepted writes
 * strictly increase: a token equal to the last one means two holders had one token, a lower one a
 * stale holder the register turned away. Both are counted, and the demo fails on either.
 */
final class FencedRegister {

    private long value;
    private long lastToken = Long.MIN_VALUE;
    private long firstToken = Long.MIN_VALUE;
    private long accepted;
    private long refused;
    private long repeated;

    synchronized long read() {
        return value;
    }

    /**
     * Writes {@code newValue} unless {@code token} is lower than the highest token seen.
     *
     * @return whether the write was taken
     */
    synchronized boolean write(long token, long newValue) {
        if (token < lastToken) {
            refused++;
            return false;
        }
        if (token == lastToken) {
            repeated++;
        }
        if (accepted == 0) {
            firstToken = token;
        }
        lastToken = token;
        value = newValue;
        accepted++;
        return true;
    }

    synchronized Snapshot snapshot() {
        return new Snapshot(value, accepted, refused, repeated, firstToken, lastToken);
    }

    /**
     * The register's state.
     *
     * @param value the number in the register
     * @param accepted writes taken
     * @param refused writes turned away for a token lower than the highest seen
     * @param repeated writes taken with the same token as the write before
     * @param firstToken the token of the first write taken ({@code Long.MIN_VALUE} if none)
     * @param lastToken the token of the last write taken ({@code Long.MIN_VALUE} if none)
     */
    record Snapshot(long value, long accepted, long refused, long repeated, long firstToken, long lastToken) {

        /** Every write taken had a higher token than the one before, and none was turned away. */
        boolean tokensStrictlyIncreasing() {
            return refused == 0 && repeated == 0;
        }
    }
}
