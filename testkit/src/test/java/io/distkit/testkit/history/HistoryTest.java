package io.distkit.testkit.history;

import static io.distkit.testkit.history.Op.NONE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.testkit.history.History.Call;
import io.distkit.testkit.history.History.Pending;
import io.distkit.testkit.history.Op.Kind;
import io.distkit.testkit.history.Op.Type;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class HistoryTest {

    private static History manual(long start, long step) {
        AtomicLong clock = new AtomicLong(start - step);
        return new History(() -> clock.addAndGet(step), op -> {});
    }

    @Test
    void opLineRoundTripsExactlyWhateverTheNoteHolds() {
        List<Op> ops = List.of(
                new Op(42, "c1-t3", 7, Kind.OK, Type.ACQUIRE, "orders", 1234, NONE, "reentrant"),
                new Op(-5, "p\twith\ttabs", 0, Kind.INFO, Type.LOST, null, NONE, NONE, ""),
                new Op(Long.MAX_VALUE, "ünï", Long.MAX_VALUE, Kind.FAIL, Type.WRITE, "\\N", -1, Long.MAX_VALUE,
                        "spaces and\ttabs and\nnewlines\r\nand a \\ backslash, \\t not a tab, \\N not null"),
                new Op(1, "x", 1, Kind.INVOKE, Type.FAULT_START, "lock\nwith\\newline", 0, 0, "  restart  "));
        for (Op op : ops) {
            String line = op.toLine();
            assertThat(line).doesNotContain("\n", "\r").startsWith(Op.LINE_PREFIX);
            assertThat(line.split("\t", -1)).hasSize(10);
            assertThat(Op.parse(line)).isEqualTo(op);
        }
    }

    @Test
    void malformedLinesAreRefusedWithTheLineQuoted() {
        String good = new Op(1, "p", 2, Kind.OK, Type.READ, "l", 3, 4, "n").toLine();
        assertThatThrownBy(() -> Op.parse(good.substring(0, good.length() - 6)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("fields");
        assertThatThrownBy(() -> Op.parse(good.replace("\tOK\t", "\tMAYBE\t")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("MAYBE");
        assertThatThrownBy(() -> Op.parse(good + "\\q"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unknown escape");
        assertThatThrownBy(() -> Op.parse("hello"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("hello");
    }

    @Test
    void completionCarriesTheInvocationsKeyAndIsRecordedOnce() {
        History h = manual(1, 1);
        Pending write = h.invoke("c1-t1", Type.WRITE, "l", 5, 6);
        Op ok = write.ok();
        assertThat(ok).isEqualTo(new Op(2, "c1-t1", write.invocation().id(), Kind.OK, Type.WRITE, "l", 5, 6, ""));
        assertThatThrownBy(() -> write.fail("again")).isInstanceOf(IllegalStateException.class);

        Pending acquire = h.invoke("c1-t1", Type.ACQUIRE, "l");
        Op lost = h.lost("c1-t2", "l", 3);
        assertThat(acquire.invocation().id()).isNotEqualTo(write.invocation().id()).isNotEqualTo(lost.id());
        List<Call> calls = h.calls();
        assertThat(calls).hasSize(2);
        assertThat(calls.get(0).completion()).isEqualTo(ok);
        assertThat(calls.get(0).isOk()).isTrue();
        assertThat(calls.get(1).completion()).isNull();
        assertThat(calls.get(1).isUnknown()).isTrue();
    }

    @Test
    void streamedLinesOfAChildParseBackIntoTheSameOpsSkippingOtherOutput() {
        List<String> stdout = new ArrayList<>();
        History child = new History(System::nanoTime, op -> stdout.add(op.toLine()));
        child.invoke("child-1", Type.ACQUIRE, "l").ok(9);
        stdout.add("12:00:01 INFO some log line");
        Op start = child.faultStart("nemesis", null, "restart redis-1\twith a tab");
        child.faultEnd(start);
        child.invoke("child-1", Type.RELEASE, "l", 9, NONE).info("lost: lease\nexpired");

        assertThat(History.parse(stdout.stream()).ops()).isEqualTo(child.ops());
        assertThat(History.parse(child.lines().stream()).ops()).isEqualTo(child.ops());
    }

    @Test
    void mergeInterleavesByTimeAndKeepsPairsApart() {
        History parent = manual(1, 2); // times 1, 3, 5, ...
        History child = manual(2, 2); // times 2, 4, 6, ...
        Pending p = parent.invoke("parent", Type.ACQUIRE, "l");
        Pending c = child.invoke("child", Type.ACQUIRE, "l");
        p.ok(1);
        c.fail("busy");
        assertThat(p.invocation().id()).isEqualTo(c.invocation().id()); // told apart by process

        History merged = History.merge(parent, child);
        assertThat(merged.ops()).extracting(Op::time).containsExactly(1L, 2L, 3L, 4L);
        assertThat(merged.ops()).extracting(Op::process).containsExactly("parent", "child", "parent", "child");
        assertThat(merged.calls()).extracting(call -> call.completion().kind()).containsExactly(Kind.OK, Kind.FAIL);
        Op later = merged.invoke("parent", Type.ACQUIRE, "l").invocation();
        assertThat(later.id()).isGreaterThan(p.invocation().id());

        History tie1 = History.of(List.of(new Op(7, "a", 0, Kind.INFO, Type.LOST, "l", 1, NONE, "")));
        History tie2 = History.of(List.of(new Op(7, "b", 0, Kind.INFO, Type.LOST, "l", 1, NONE, "")));
        assertThat(History.merge(tie1, tie2).ops()).extracting(Op::process).containsExactly("a", "b");
    }

    @Test
    void concurrentRecordingLosesNothingAndStaysInTimeOrder() throws Exception {
        History h = new History();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                String process = "t" + t;
                done.add(pool.submit(() -> {
                    for (int i = 0; i < 2_000; i++) {
                        h.invoke(process, Type.NEXT_ID, null).ok(NONE, i);
                    }
                }));
            }
            for (Future<?> f : done) {
                f.get(30, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(h.size()).isEqualTo(16_000);
        assertThat(h.ops()).isSortedAccordingTo(Comparator.comparingLong(Op::time));
        assertThat(h.calls()).hasSize(8_000).allMatch(Call::isOk);
    }

    @Test
    void faultEndNeedsAFaultStart() {
        History h = new History();
        Op notAFault = h.lost("p", "l", 1);
        assertThatThrownBy(() -> h.faultEnd(notAFault)).isInstanceOf(IllegalArgumentException.class);
        Op start = h.faultStart("nemesis", "l", "restart etcd-2");
        Op end = h.faultEnd(start);
        assertThat(end.id()).isEqualTo(start.id());
        assertThat(end.noteWord()).isEqualTo(Op.RESTART);
    }

    @Test
    void parseOfAnEmptyStreamIsEmpty() {
        assertThat(History.parse(Stream.empty()).size()).isZero();
    }
}
