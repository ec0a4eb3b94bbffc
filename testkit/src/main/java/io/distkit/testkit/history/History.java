package io.distkit.testkit.history;

import io.distkit.lock.spi.Ticker;
import io.distkit.testkit.history.Op.Kind;
import io.distkit.testkit.history.Op.Type;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * A thread-safe, append-only record of operations, in the style of Jepsen: each operation is an
 * invocation followed by a completion (OK, FAIL, or INFO when the outcome is unknown), plus
 * standalone events such as lease-loss notices and fault windows. See {@link Op} for the model.
 *
 * <p>Recording methods stamp the time under the history's monitor, so the ops of one history are in
 * time order. A child JVM can stream its ops as lines (construct it with a listener that prints
 * {@link Op#toLine()}); the test {@link #parse parses} them and {@link #merge merges} them with its
 * own history. Pairing keys are {@code (process, id)}, so process names must be unique across every
 * history that is merged.
 */
public final class History {

    private final Ticker nanoClock;
    private final Consumer<? super Op> onRecord;
    private final List<Op> ops = new ArrayList<>();
    private long nextId;

    /** An empty history timed by {@link System#nanoTime()}. */
    public History() {
        this(System::nanoTime, op -> {});
    }

    /**
     * An empty history.
     *
     * @param nanoClock the time source, in nanoseconds (tests pass a manual clock)
     * @param onRecord called with every op appended, in order, while the history is locked; a child
     *     JVM passes {@code op -> System.out.println(op.toLine())} so that its ops survive a kill
     */
    public History(Ticker nanoClock, Consumer<? super Op> onRecord) {
        this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
        this.onRecord = Objects.requireNonNull(onRecord, "onRecord");
    }

    /** A history holding {@code ops} in the given order, timed by {@link System#nanoTime()}. */
    public static History of(Collection<Op> ops) {
        History h = new History();
        ops.forEach(h::add);
        return h;
    }

    /**
     * One history with the ops of all {@code histories}, sorted by time; ops with equal times keep
     * argument order, then recording order.
     */
    public static History merge(History... histories) {
        List<Op> all = new ArrayList<>();
        for (History h : histories) {
            all.addAll(h.ops());
        }
        all.sort(Comparator.comparingLong(Op::time));
        return of(all);
    }

    /**
     * Reads the op lines among {@code lines}, skipping lines that do not start with
     * {@link Op#LINE_PREFIX} (log output mixed into a child's stdout).
     *
     * @throws IllegalArgumentException if an op line is malformed
     */
    public static History parse(Stream<String> lines) {
        History h = new History();
        lines.filter(l -> l.startsWith(Op.LINE_PREFIX)).map(Op::parse).forEach(h::add);
        return h;
    }

    /**
     * Records an invocation with no token or value.
     *
     * @return the pending operation, to be completed exactly once
     */
    public Pending invoke(String process, Type type, @Nullable String lock) {
        return invoke(process, type, lock, Op.NONE, Op.NONE);
    }

    /**
     * Records an invocation carrying a token and/or value ({@link Op#NONE} for none), such as a
     * WRITE of {@code value} with {@code token}, or a RELEASE of {@code token}.
     *
     * @return the pending operation, to be completed exactly once
     */
    public Pending invoke(String process, Type type, @Nullable String lock, long token, long value) {
        return new Pending(append(-1, Kind.INVOKE, process, type, lock, token, value, ""));
    }

    /** Records a standalone {@link Kind#INFO} event with a fresh id. */
    public Op event(String process, Type type, @Nullable String lock, long token, long value, String note) {
        return append(-1, Kind.INFO, process, type, lock, token, value, note);
    }

    /** Records that {@code process} learned it lost the lease of {@code token} on {@code lock}. */
    public Op lost(String process, String lock, long token) {
        return lost(process, lock, token, Op.NONE);
    }

    /**
     * Records a lease loss with the holder's local deadline (nanoTime scale), the moment from which
     * the holder stopped believing it held the lock.
     */
    public Op lost(String process, String lock, long token, long localDeadlineNanos) {
        return event(process, Type.LOST, lock, token, localDeadlineNanos, "");
    }

    /**
     * Records the start of a fault window.
     *
     * @param lock the only lock the fault concerns, or null for all locks
     * @param note the fault kind as first word (e.g. {@code "restart redis-1"}), then any detail
     * @return the start op, to pass to {@link #faultEnd(Op)}
     */
    public Op faultStart(String process, @Nullable String lock, String note) {
        return event(process, Type.FAULT_START, lock, Op.NONE, Op.NONE, note);
    }

    /** Records the end of the fault window opened by {@code start} (same key, lock and note). */
    public Op faultEnd(Op start) {
        if (start.type() != Type.FAULT_START) {
            throw new IllegalArgumentException("not a FAULT_START op: " + start);
        }
        return append(start.id(), Kind.INFO, start.process(), Type.FAULT_END, start.lock(), Op.NONE, Op.NONE,
                start.note());
    }

    /** Appends an op as it is (a parsed one, say); later fresh ids stay above its id. */
    public synchronized Op add(Op op) {
        Objects.requireNonNull(op, "op");
        ops.add(op);
        nextId = Math.max(nextId, op.id() + 1);
        onRecord.accept(op);
        return op;
    }

    /** A snapshot of all ops in the order appended. */
    public synchronized List<Op> ops() {
        return List.copyOf(ops);
    }

    /** Number of ops recorded. */
    public synchronized int size() {
        return ops.size();
    }

    /** All ops as {@link Op#toLine() lines}, in order. */
    public List<String> lines() {
        return ops().stream().map(Op::toLine).toList();
    }

    /**
     * Every invocation with its completion (null if none was recorded: the process died or the
     * history ends first), in invocation order. Completions that match no invocation (standalone
     * events, FAULT_END) are not included.
     */
    public List<Call> calls() {
        List<Op> snapshot = ops();
        Map<Key, Op> completions = new HashMap<>();
        for (Op op : snapshot) {
            if (op.kind() != Kind.INVOKE) {
                completions.putIfAbsent(new Key(op.process(), op.id()), op);
            }
        }
        List<Call> calls = new ArrayList<>();
        for (Op op : snapshot) {
            if (op.kind() == Kind.INVOKE) {
                calls.add(new Call(op, completions.get(new Key(op.process(), op.id()))));
            }
        }
        return calls;
    }

    @Override
    public String toString() {
        return "History[" + size() + " ops]";
    }

    private synchronized Op append(long id, Kind kind, String process, Type type, @Nullable String lock,
                                   long token, long value, String note) {
        // The time is read under the monitor so that appending order is time order.
        Op op = new Op(nanoClock.read(), process, id < 0 ? nextId++ : id, kind, type, lock, token, value, note);
        ops.add(op);
        onRecord.accept(op);
        return op;
    }

    private record Key(String process, long id) {}

    /**
     * An invocation paired with its completion.
     *
     * @param invoke the {@link Kind#INVOKE} op
     * @param completion the OK/FAIL/INFO op with the same key, or null if none was recorded
     */
    public record Call(Op invoke, @Nullable Op completion) {

        /** Whether the operation completed {@link Kind#OK}. */
        public boolean isOk() {
            return completion != null && completion.kind() == Kind.OK;
        }

        /** Whether its outcome is unknown: completed INFO, or not completed at all. */
        public boolean isUnknown() {
            return completion == null || completion.kind() == Kind.INFO;
        }
    }

    /**
     * An invocation awaiting its completion. Complete it exactly once, from any thread; the
     * completion has the invocation's process, id, type and lock, and its token and value unless
     * given.
     */
    public final class Pending {
        private final Op invocation;
        private final AtomicBoolean completed = new AtomicBoolean();

        private Pending(Op invocation) {
            this.invocation = invocation;
        }

        /** The recorded invocation. */
        public Op invocation() {
            return invocation;
        }

        /** Completes OK with the invocation's token and value. */
        public Op ok() {
            return ok(invocation.token(), invocation.value(), "");
        }

        /** Completes OK with {@code token} (an acquisition's fencing token). */
        public Op ok(long token) {
            return ok(token, invocation.value(), "");
        }

        /** Completes OK with {@code token} and {@code value} ({@link Op#NONE} for none). */
        public Op ok(long token, long value) {
            return ok(token, value, "");
        }

        /** Completes OK; pass {@link Op#REENTRANT} as note for a reentrant acquisition. */
        public Op ok(long token, long value, String note) {
            return complete(Kind.OK, token, value, note);
        }

        /** Completes FAIL: the operation certainly did not take effect. */
        public Op fail(String note) {
            return complete(Kind.FAIL, invocation.token(), invocation.value(), note);
        }

        /** Completes INFO: the operation may or may not have taken effect. */
        public Op info(String note) {
            return complete(Kind.INFO, invocation.token(), invocation.value(), note);
        }

        private Op complete(Kind kind, long token, long value, String note) {
            if (!completed.compareAndSet(false, true)) {
                throw new IllegalStateException("already completed: " + invocation);
            }
            return append(invocation.id(), kind, invocation.process(), invocation.type(), invocation.lock(),
                    token, value, note);
        }
    }
}
