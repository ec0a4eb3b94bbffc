package io.distkit.testkit.history;

import io.distkit.testkit.history.History.Call;
import io.distkit.testkit.history.Op.Kind;
import io.distkit.testkit.history.Op.Type;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The lock checkers of docs/failures.md (1–4) over a {@link History} and a {@link FencedRegister}.
 *
 * <p>Each check returns a {@link CheckResult} whose violations name the rule broken and quote the
 * ops involved. A check never throws because of what it finds, nor on a malformed history (an
 * internal failure becomes a violation); only null arguments throw. Only OK completions count as
 * facts: INFO (unknown) and FAIL acquisitions are ignored, since nothing is known of their tokens.
 */
public final class Checkers {

    private Checkers() {}

    /** Checker 1 over {@code register}'s write log; see {@link #fencedResource(List)}. */
    public static CheckResult fencedResource(FencedRegister register) {
        return fencedResource(register.writes());
    }

    /**
     * Checker 1, fenced resource, over writes in the order the resource applied them: once a token
     * is accepted no lower token is accepted (so accepted tokens never decrease), and writes
     * accepted with one token all come from one process. Refused writes are not judged.
     */
    public static CheckResult fencedResource(List<FencedRegister.Write> writes) {
        Objects.requireNonNull(writes, "writes");
        return check("fenced resource", v -> {
            FencedRegister.Write highest = null;
            Map<Long, FencedRegister.Write> firstByToken = new HashMap<>();
            for (FencedRegister.Write w : writes) {
                if (!w.accepted()) {
                    continue;
                }
                if (highest != null && w.token() < highest.token()) {
                    v.add("stale token accepted: [" + w + "] after token " + highest.token() + " had been accepted ["
                            + highest + "]");
                } else {
                    highest = w;
                }
                FencedRegister.Write first = firstByToken.putIfAbsent(w.token(), w);
                if (first != null && !first.process().equals(w.process())) {
                    v.add("token shared by two holders: [" + first + "] and [" + w + "]");
                }
            }
        });
    }

    /**
     * Checker 2, lost updates: every WRITE in {@code history} is an increment of {@code register}
     * (which started at 0), so its final value must lie between the number of acknowledged (OK)
     * writes and that number plus the writes of unknown outcome. On failure the accepted writes
     * that did not add exactly one to the value before them are listed too.
     */
    public static CheckResult lostUpdates(History history, FencedRegister register) {
        Objects.requireNonNull(history, "history");
        Objects.requireNonNull(register, "register");
        return check("lost updates", v -> {
            long acknowledged = 0;
            long unknown = 0;
            for (Call c : history.calls()) {
                if (c.invoke().type() == Type.WRITE) {
                    acknowledged += c.isOk() ? 1 : 0;
                    unknown += c.isUnknown() ? 1 : 0;
                }
            }
            long value = register.read();
            if (value < acknowledged) {
                v.add("lost updates: final value " + value + " but " + acknowledged + " increments acknowledged ("
                        + (acknowledged - value) + " lost)");
            } else if (value > acknowledged + unknown) {
                v.add("unacknowledged increments: final value " + value + " exceeds " + acknowledged
                        + " acknowledged + " + unknown + " of unknown outcome");
            }
            if (!v.isEmpty()) {
                long previous = 0;
                for (FencedRegister.Write w : register.writes()) {
                    if (w.accepted()) {
                        if (w.value() != previous + 1) {
                            v.add("accepted write did not increment: [" + w + "] replaced " + previous);
                        }
                        previous = w.value();
                    }
                }
            }
        });
    }

    /**
     * Checker 3, token issuance, over OK acquisitions that carry a token, per lock:
     * <ul>
     *   <li><em>duplicate token</em>: no two non-reentrant acquisitions get the same token;
     *   <li><em>reentrant</em> acquisitions (see {@link Op#isReentrant()}) share the token of a
     *       non-reentrant acquisition by the same process;
     *   <li><em>real-time order</em>: if A's acquisition completed before B's was invoked, tok(A) &lt;
     *       tok(B);
     *   <li><em>no regression across restart</em>: for each {@value Op#RESTART} fault window, every
     *       acquisition invoked after the window ended got a token above every token acknowledged
     *       before it began. Real-time order implies this; it is reported separately so that the
     *       report names the restart.
     * </ul>
     */
    public static CheckResult tokenIssuance(History history) {
        Objects.requireNonNull(history, "history");
        return check("token issuance", v -> {
            Map<String, List<Call>> byLock = new LinkedHashMap<>();
            for (Call c : history.calls()) {
                if (c.invoke().type() == Type.ACQUIRE && c.isOk() && c.completion().hasToken()
                        && c.invoke().lock() != null) {
                    byLock.computeIfAbsent(c.invoke().lock(), k -> new ArrayList<>()).add(c);
                }
            }
            List<Window> restarts = faultWindows(history, Op.RESTART);
            byLock.forEach((lock, acquisitions) -> {
                List<Call> primaries = new ArrayList<>();
                Map<Long, Call> byToken = new HashMap<>();
                for (Call c : acquisitions) {
                    if (!c.completion().isReentrant()) {
                        primaries.add(c);
                        Call earlier = byToken.putIfAbsent(token(c), c);
                        if (earlier != null) {
                            v.add("duplicate token " + token(c) + " on lock " + lock + ": [" + earlier.completion()
                                    + "] and [" + c.completion() + "]");
                        }
                    }
                }
                for (Call c : acquisitions) {
                    if (c.completion().isReentrant()) {
                        Call primary = byToken.get(token(c));
                        if (primary == null) {
                            v.add("reentrant acquisition shares no holder's token: [" + c.completion() + "]");
                        } else if (!primary.invoke().process().equals(c.invoke().process())) {
                            v.add("reentrant acquisition by another holder: [" + c.completion() + "] reuses the token of ["
                                    + primary.completion() + "]");
                        }
                    }
                }
                checkRealTimeOrder(lock, primaries, v);
                for (Window w : restarts) {
                    if (w.end() != null && (w.start().lock() == null || w.start().lock().equals(lock))) {
                        checkNoRegression(lock, w, primaries, v);
                    }
                }
            });
        });
    }

    /**
     * Checker 4, holder intervals: the intervals of different processes on one lock never overlap.
     * Applies only to runs without pauses or clock faults, where leases cannot expire under a holder.
     *
     * <p>A process holds a lock from its OK (non-reentrant) ACQUIRE until the earliest of: the
     * RELEASE invocation that brings its hold count to zero (each reentrant acquisition adds one, each
     * RELEASE invocation takes one; from its release on, a caller no longer acts on the resource); a
     * LOST event of its token, at the event's time or at the local deadline in its value if earlier;
     * the invocation of its next non-reentrant ACQUIRE of that lock. RELEASE and LOST ops with a token
     * end only the hold of that token. A hold never ended stays open to the end of the history, so a
     * run that kills holders should record a LOST event for them.
     */
    public static CheckResult holderIntervals(History history) {
        Objects.requireNonNull(history, "history");
        return check("holder intervals", v -> {
            List<Op> ops = new ArrayList<>(history.ops());
            ops.sort(Comparator.comparingLong(Op::time));
            Map<Key, Long> invokeTimes = new HashMap<>();
            Map<Key, Hold> open = new HashMap<>();
            Map<String, List<Interval>> byLock = new LinkedHashMap<>();
            for (Op op : ops) {
                if (op.lock() == null) {
                    continue;
                }
                Key holder = new Key(op.process(), op.lock());
                Hold hold = open.get(holder);
                if (op.type() == Type.ACQUIRE && op.kind() == Kind.INVOKE) {
                    invokeTimes.put(new Key(op.process(), op.id()), op.time());
                } else if (op.type() == Type.ACQUIRE && op.kind() == Kind.OK) {
                    if (!op.isReentrant()) {
                        if (hold != null) {
                            long invoked = invokeTimes.getOrDefault(new Key(op.process(), op.id()), op.time());
                            hold.close(Math.max(hold.acquired.time(), invoked), "its next acquisition", byLock, open);
                        }
                        open.put(holder, new Hold(holder, op));
                    } else if (hold != null && hold.owns(op)) {
                        hold.depth++;
                    }
                } else if (op.type() == Type.RELEASE && op.kind() == Kind.INVOKE && hold != null && hold.owns(op)) {
                    if (--hold.depth == 0) {
                        hold.close(op.time(), "release", byLock, open);
                    }
                } else if (op.type() == Type.LOST && hold != null && hold.owns(op)) {
                    hold.close(op.hasValue() ? Math.min(op.time(), op.value()) : op.time(), "lost", byLock, open);
                }
            }
            for (Hold hold : List.copyOf(open.values())) {
                hold.close(Long.MAX_VALUE, "nothing (still held at the end of the history)", byLock, open);
            }
            byLock.forEach((lock, intervals) -> {
                intervals.sort(Comparator.comparingLong(Interval::start));
                List<Interval> active = new ArrayList<>();
                for (Interval b : intervals) {
                    active.removeIf(a -> a.end() <= b.start());
                    for (Interval a : active) {
                        if (!a.acquired().process().equals(b.acquired().process())) {
                            v.add("overlapping holders on lock " + lock + ": " + a + " and " + b);
                        }
                    }
                    active.add(b);
                }
            });
        });
    }

    private static void checkRealTimeOrder(String lock, List<Call> acquisitions, List<String> v) {
        List<Call> byInvoke = new ArrayList<>(acquisitions);
        byInvoke.sort(Comparator.comparingLong(c -> c.invoke().time()));
        List<Call> byCompletion = new ArrayList<>(acquisitions);
        byCompletion.sort(Comparator.comparingLong(c -> c.completion().time()));
        // Sweep: for each B in invocation order, the highest token among acquisitions completed before B began.
        Call highestDone = null;
        int next = 0;
        for (Call b : byInvoke) {
            while (next < byCompletion.size() && byCompletion.get(next).completion().time() < b.invoke().time()) {
                Call a = byCompletion.get(next++);
                if (highestDone == null || token(a) > token(highestDone)) {
                    highestDone = a;
                }
            }
            if (highestDone != null && token(b) <= token(highestDone)) {
                v.add("real-time order broken on lock " + lock + ": [" + highestDone.completion() + "] completed before ["
                        + b.invoke() + "] was invoked, which got the token " + token(b) + " <= " + token(highestDone)
                        + " [" + b.completion() + "]");
            }
        }
    }

    private static void checkNoRegression(String lock, Window w, List<Call> acquisitions, List<String> v) {
        Call highestBefore = null;
        for (Call a : acquisitions) {
            if (a.completion().time() < w.start().time() && (highestBefore == null || token(a) > token(highestBefore))) {
                highestBefore = a;
            }
        }
        if (highestBefore == null) {
            return;
        }
        for (Call b : acquisitions) {
            if (b.invoke().time() > w.end().time() && token(b) <= token(highestBefore)) {
                v.add("token regression across restart \"" + w.start().note() + "\" on lock " + lock + ": ["
                        + b.completion() + "] got a token <= " + token(highestBefore) + " acknowledged before the restart ["
                        + highestBefore.completion() + "]");
            }
        }
    }

    private static List<Window> faultWindows(History history, String faultKind) {
        Map<Key, Window> windows = new LinkedHashMap<>();
        for (Op op : history.ops()) {
            Key key = new Key(op.process(), op.id());
            if (op.type() == Type.FAULT_START && op.noteWord().equals(faultKind)) {
                windows.putIfAbsent(key, new Window(op, null));
            } else if (op.type() == Type.FAULT_END && windows.containsKey(key)) {
                windows.computeIfPresent(key, (k, w) -> w.end() == null ? new Window(w.start(), op) : w);
            }
        }
        return List.copyOf(windows.values());
    }

    private static long token(Call c) {
        return c.completion().token();
    }

    private static CheckResult check(String checker, Consumer<List<String>> body) {
        List<String> violations = new ArrayList<>();
        try {
            body.accept(violations);
        } catch (RuntimeException e) {
            // A checker that dies on odd input must not hide the violations found so far.
            violations.add("checker failed on this history: " + e);
        }
        return new CheckResult(checker, violations);
    }

    /** A process and one of its locks or op ids. */
    private record Key(String process, Object part) {}

    /** A fault window; {@code end} is null while it is still open. */
    private record Window(Op start, @Nullable Op end) {}

    /** One process's hold of one lock, from its OK acquisition until {@code end} (exclusive). */
    private record Interval(Op acquired, long end, String endedBy) {
        long start() {
            return acquired.time();
        }

        @Override
        public String toString() {
            return "[" + acquired.process() + " tok=" + (acquired.hasToken() ? acquired.token() : "-") + " held "
                    + acquired.time() + ".." + (end == Long.MAX_VALUE ? "end" : end) + ", ended by " + endedBy + "]";
        }
    }

    /** A hold still open while the history is replayed. */
    private static final class Hold {
        final Key holder;
        final Op acquired;
        int depth = 1;

        Hold(Key holder, Op acquired) {
            this.holder = holder;
            this.acquired = acquired;
        }

        /** Whether a RELEASE, LOST or reentrant ACQUIRE op concerns this hold: same token, or no token given. */
        boolean owns(Op op) {
            return !op.hasToken() || !acquired.hasToken() || op.token() == acquired.token();
        }

        void close(long end, String endedBy, Map<String, List<Interval>> byLock, Map<Key, Hold> open) {
            byLock.computeIfAbsent(acquired.lock(), k -> new ArrayList<>()).add(new Interval(acquired, end, endedBy));
            open.remove(holder);
        }
    }
}
