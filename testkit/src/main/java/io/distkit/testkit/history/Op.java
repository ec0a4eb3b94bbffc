package io.distkit.testkit.history;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One entry of a {@link History}: an invocation, its completion, or a standalone event.
 *
 * <p>An invocation ({@link Kind#INVOKE}) and its completion ({@link Kind#OK}, {@link Kind#FAIL} or
 * {@link Kind#INFO}) carry the same {@link #process()} and {@link #id()}; that pair is the key
 * checkers join them by. A standalone event (a {@link Type#LOST} notice, a fault window boundary) is
 * an {@link Kind#INFO} op whose key matches no invocation.
 *
 * <p><b>Reentrant acquisitions</b> are marked by their note: an {@link Type#ACQUIRE} completion
 * whose note is {@value #REENTRANT} or starts with {@code "reentrant "} is a reentrant acquisition
 * that shares the token of the holder's first one (see {@link #isReentrant()}).
 *
 * <p><b>Fault windows</b> are a {@link Type#FAULT_START} and a {@link Type#FAULT_END} with the same
 * key; the first word of the note names the fault ({@value #RESTART}, {@code pause}, ...) and the
 * lock, if set, limits the window to one lock.
 *
 * @param time {@link System#nanoTime()} when recorded; system-wide on Linux, so comparable across
 *     JVMs on one host
 * @param process the client or process that acted; processes are sequential and their names unique
 *     across every history that is ever merged
 * @param id pairs an invocation with its completion (together with {@code process})
 * @param kind invocation, outcome, or {@code INFO} for an unknown outcome or a standalone event
 * @param type what was done
 * @param lock the lock concerned, or null
 * @param token a fencing token, or {@link #NONE}
 * @param value a value read, written or issued, or {@link #NONE}
 * @param note free text, never null; may hold any character
 */
public record Op(long time, String process, long id, Kind kind, Type type, @Nullable String lock,
                 long token, long value, String note) {

    /** Sentinel for "no token" and "no value". */
    public static final long NONE = Long.MIN_VALUE;
    /** Note marking a reentrant {@link Type#ACQUIRE} completion. */
    public static final String REENTRANT = "reentrant";
    /** Fault kind (first word of a fault op's note) of a backend restart. */
    public static final String RESTART = "restart";
    /** Every serialized op line starts with this, so op lines can be picked out of mixed output. */
    public static final String LINE_PREFIX = "distkit-op\t";

    private static final int FIELDS = 9;
    private static final String NULL_FIELD = "\\N";

    /** Whether an op started an operation, or reported how one ended. */
    public enum Kind {
        /** The operation was started. */
        INVOKE,
        /** It took effect. */
        OK,
        /** It certainly did not take effect. */
        FAIL,
        /** Outcome unknown (timeout, crash, lost reply), or a standalone event. */
        INFO
    }

    /** What an operation does. */
    public enum Type {
        /** Acquire a lock; an OK completion carries the fencing token. */
        ACQUIRE,
        /** Release a lock; the invocation carries the token being released. */
        RELEASE,
        /** Standalone: the holder learned its lease was lost; value may carry the local deadline. */
        LOST,
        /** Read the protected resource; the completion carries the value. */
        READ,
        /** Write the protected resource with a token; the invocation carries token and value. */
        WRITE,
        /** Take an id from a generator; the completion carries it as value. */
        NEXT_ID,
        /** A fault begins (standalone; the note names the fault). */
        FAULT_START,
        /** The fault with the same key ends. */
        FAULT_END
    }

    /**
     * @throws NullPointerException if {@code process}, {@code kind}, {@code type} or {@code note} is
     *     null
     */
    public Op {
        Objects.requireNonNull(process, "process");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(note, "note");
    }

    /** Whether this op carries a token. */
    public boolean hasToken() {
        return token != NONE;
    }

    /** Whether this op carries a value. */
    public boolean hasValue() {
        return value != NONE;
    }

    /** Whether this is an {@link Type#ACQUIRE} op marked reentrant by its note. */
    public boolean isReentrant() {
        return type == Type.ACQUIRE && (note.equals(REENTRANT) || note.startsWith(REENTRANT + " "));
    }

    /** The first word of the note: the fault kind of a fault op. */
    public String noteWord() {
        int space = note.indexOf(' ');
        return space < 0 ? note : note.substring(0, space);
    }

    /**
     * This op as one line (no line terminator): {@link #LINE_PREFIX} then tab-separated fields.
     * Strings escape backslash, tab, newline and carriage return as {@code \\ \t \n \r}; a null lock
     * is {@code \N}; {@link #NONE} is {@code -}. {@link #parse(String)} gives back an equal op.
     */
    public String toLine() {
        return LINE_PREFIX + time + '\t' + escape(process) + '\t' + id + '\t' + kind + '\t' + type
                + '\t' + (lock == null ? NULL_FIELD : escape(lock)) + '\t' + number(token)
                + '\t' + number(value) + '\t' + escape(note);
    }

    /**
     * Parses a line written by {@link #toLine()}.
     *
     * @throws IllegalArgumentException if the line is not a well-formed op line (for example one
     *     truncated by a killed process); the message quotes it
     */
    public static Op parse(String line) {
        if (!line.startsWith(LINE_PREFIX)) {
            throw new IllegalArgumentException("not an op line (no '" + LINE_PREFIX.strip() + "' prefix): " + line);
        }
        String[] f = line.substring(LINE_PREFIX.length()).split("\t", -1);
        if (f.length != FIELDS) {
            throw new IllegalArgumentException("op line has " + f.length + " fields, expected " + FIELDS + ": " + line);
        }
        try {
            return new Op(Long.parseLong(f[0]), unescape(f[1]), Long.parseLong(f[2]), Kind.valueOf(f[3]),
                    Type.valueOf(f[4]), f[5].equals(NULL_FIELD) ? null : unescape(f[5]),
                    parseNumber(f[6]), parseNumber(f[7]), unescape(f[8]));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("malformed op line (" + e.getMessage() + "): " + line, e);
        }
    }

    /** Readable, one line: time, process, kind, type, lock, token, value, key id and quoted note. */
    @Override
    public String toString() {
        return time + " " + process + " " + kind + " " + type + (lock == null ? "" : " lock=" + lock)
                + (hasToken() ? " tok=" + token : "") + (hasValue() ? " val=" + value : "") + " #" + id
                + (note.isEmpty() ? "" : " \"" + escape(note) + "\"");
    }

    private static String number(long n) {
        return n == NONE ? "-" : Long.toString(n);
    }

    private static long parseNumber(String s) {
        return s.equals("-") ? NONE : Long.parseLong(s);
    }

    private static String escape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\\' -> b.append("\\\\");
                case '\t' -> b.append("\\t");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    private static String unescape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\') {
                b.append(c);
                continue;
            }
            if (++i == s.length()) {
                throw new IllegalArgumentException("dangling backslash in '" + s + "'");
            }
            b.append(switch (s.charAt(i)) {
                case '\\' -> '\\';
                case 't' -> '\t';
                case 'n' -> '\n';
                case 'r' -> '\r';
                default -> throw new IllegalArgumentException("unknown escape \\" + s.charAt(i) + " in '" + s + "'");
            });
        }
        return b.toString();
    }
}
