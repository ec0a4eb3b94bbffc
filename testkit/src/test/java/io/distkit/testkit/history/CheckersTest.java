package io.distkit.testkit.history;

import static io.distkit.testkit.history.Op.NONE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.testkit.history.History.Pending;
import io.distkit.testkit.history.Op.Kind;
import io.distkit.testkit.history.Op.Type;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * Each checker passes a clean synthetic history and catches a crafted violation of each of its
 * rules: the negative controls of the checkers. Histories use a manual clock that ticks once per op.
 */
class CheckersTest {

    private final AtomicLong clock = new AtomicLong();
    private final History h = new History(clock::incrementAndGet, op -> {});

    private Op acquire(String process, String lock, long token) {
        return h.invoke(process, Type.ACQUIRE, lock).ok(token);
    }

    private Op reacquire(String process, String lock, long token) {
        return h.invoke(process, Type.ACQUIRE, lock).ok(token, NONE, Op.REENTRANT);
    }

    private Op release(String process, String lock, long token) {
        return h.invoke(process, Type.RELEASE, lock, token, NONE).ok();
    }

    private static List<String> violations(CheckResult result) {
        assertThat(result.isValid()).as(result.report()).isFalse();
        return result.violations();
    }

    @Nested
    @DisplayName("1. fenced resource")
    class FencedResource {

        @Test
        void increasingTokensAndRepeatedWritesOfOneHolderPass() {
            FencedRegister r = new FencedRegister();
            r.write("a", 1, 1);
            r.write("a", 1, 2);
            r.write("b", 3, 3);
            r.write("a", 1, 9); // refused, and refused writes are not judged
            r.write("c", 4, 4);
            Checkers.fencedResource(r).assertValid();
        }

        @Test
        void staleTokenAcceptedIsCaught() {
            FencedRegister r = FencedRegister.unfenced();
            r.write("a", 5, 1);
            r.write("b", 3, 2);
            r.write("c", 4, 3); // still below 5
            assertThat(violations(Checkers.fencedResource(r)))
                    .hasSize(2).allMatch(v -> v.startsWith("stale token accepted"))
                    .first().asString().contains("b wrote 2 tok=3").contains("a wrote 1 tok=5");
        }

        @Test
        void equalTokenFromTwoHoldersIsCaught() {
            FencedRegister r = new FencedRegister(); // a register cannot tell holders apart
            r.write("a", 5, 1);
            r.write("b", 5, 2);
            assertThat(violations(Checkers.fencedResource(r))).singleElement().asString()
                    .startsWith("token shared by two holders").contains("a wrote 1", "b wrote 2");
        }
    }

    @Nested
    @DisplayName("2. lost updates")
    class LostUpdates {

        private final FencedRegister r = new FencedRegister();

        private void increment(String process, long token, boolean acknowledge) {
            long value = r.read(token);
            Pending write = h.invoke(process, Type.WRITE, "l", token, value + 1);
            if (r.write(process, token, value + 1) && acknowledge) {
                write.ok();
            } else if (acknowledge) {
                write.fail("refused");
            } else {
                write.info("reply lost");
            }
        }

        @Test
        void everyAcknowledgedIncrementCountedPasses() {
            increment("a", 1, true);
            increment("b", 2, true);
            increment("a", 1, true); // refused: not acknowledged, not applied
            increment("c", 3, false); // unknown outcome, applied
            assertThat(r.read()).isEqualTo(3);
            Checkers.lostUpdates(h, r).assertValid();
        }

        @Test
        void acknowledgedIncrementMissingIsCaught() {
            FencedRegister unfenced = FencedRegister.unfenced();
            long seenByA = unfenced.read();
            long seenByB = unfenced.read();
            unfenced.write("a", 1, seenByA + 1);
            h.invoke("a", Type.WRITE, "l", 1, seenByA + 1).ok();
            unfenced.write("b", 2, seenByB + 1);
            h.invoke("b", Type.WRITE, "l", 2, seenByB + 1).ok();
            assertThat(violations(Checkers.lostUpdates(h, unfenced)))
                    .anyMatch(v -> v.startsWith("lost updates: final value 1 but 2 increments acknowledged (1 lost)"))
                    .anyMatch(v -> v.startsWith("accepted write did not increment: [") && v.contains("b wrote 1"));
        }

        @Test
        void incrementNobodyMadeIsCaught() {
            r.write("ghost", 1, 1);
            assertThat(violations(Checkers.lostUpdates(h, r))).first().asString()
                    .startsWith("unacknowledged increments: final value 1 exceeds 0 acknowledged");
        }
    }

    @Nested
    @DisplayName("3. token issuance")
    class TokenIssuance {

        @Test
        void increasingReentrantAndConcurrentTokensPass() {
            acquire("a", "l", 1);
            reacquire("a", "l", 1);
            release("a", "l", 1);
            release("a", "l", 1);
            acquire("b", "other", 1); // tokens are per lock
            // Overlapping acquisitions may complete in either order.
            Pending c = h.invoke("c", Type.ACQUIRE, "l");
            Pending d = h.invoke("d", Type.ACQUIRE, "l");
            d.ok(3);
            c.ok(4);
            h.invoke("e", Type.ACQUIRE, "l").info("timed out"); // unknown: no token to judge
            Op restart = h.faultStart("nemesis", null, "restart redis-1");
            h.faultEnd(restart);
            acquire("e", "l", 5);
            Checkers.tokenIssuance(h).assertValid();
        }

        @Test
        void duplicateTokenIsCaught() {
            Pending a = h.invoke("a", Type.ACQUIRE, "l");
            Pending b = h.invoke("b", Type.ACQUIRE, "l");
            a.ok(7);
            b.ok(7);
            assertThat(violations(Checkers.tokenIssuance(h))).singleElement().asString()
                    .startsWith("duplicate token 7 on lock l").contains(" a OK ACQUIRE", " b OK ACQUIRE");
        }

        @Test
        void reentrantAcquisitionOfAnotherHoldersTokenIsCaught() {
            acquire("a", "l", 7);
            reacquire("b", "l", 7);
            reacquire("c", "l", 8);
            assertThat(violations(Checkers.tokenIssuance(h)))
                    .anyMatch(v -> v.startsWith("reentrant acquisition by another holder") && v.contains(" b OK"))
                    .anyMatch(v -> v.startsWith("reentrant acquisition shares no holder's token") && v.contains(" c OK"));
        }

        @Test
        void realTimeOrderBrokenIsCaught() {
            acquire("a", "l", 5);
            release("a", "l", 5);
            acquire("b", "l", 4);
            assertThat(violations(Checkers.tokenIssuance(h))).singleElement().asString()
                    .startsWith("real-time order broken on lock l").contains(" a OK ACQUIRE lock=l tok=5")
                    .contains(" b OK ACQUIRE lock=l tok=4");
        }

        @Test
        void regressionAcrossRestartIsCaught() {
            acquire("a", "l", 10);
            Op restart = h.faultStart("nemesis", "l", "restart redis-1 without persistence");
            h.faultEnd(restart);
            acquire("b", "l", 3);
            Op pause = h.faultStart("nemesis", null, "pause redis-1"); // not a restart: no window
            h.faultEnd(pause);
            assertThat(violations(Checkers.tokenIssuance(h)))
                    .anyMatch(v -> v.startsWith("real-time order broken"))
                    .anyMatch(v -> v.startsWith("token regression across restart \"restart redis-1 without persistence\"")
                            && v.contains(" b OK ACQUIRE lock=l tok=3"))
                    .hasSize(2);
        }
    }

    @Nested
    @DisplayName("4. holder intervals")
    class HolderIntervals {

        @Test
        void handOffsReentrancyAndLossPass() {
            acquire("a", "l", 1);
            reacquire("a", "l", 1);
            release("a", "l", 1); // inner handle: still held
            h.invoke("b", Type.ACQUIRE, "l").fail("busy");
            release("a", "l", 1);
            acquire("b", "l", 2);
            acquire("c", "other", 1); // another lock
            h.lost("b", "l", 2);
            acquire("c", "l", 3);
            release("c", "l", 3);
            Checkers.holderIntervals(h).assertValid();
        }

        @Test
        void overlappingHoldersAreCaught() {
            acquire("a", "l", 1);
            acquire("b", "l", 2);
            release("b", "l", 2);
            release("a", "l", 1);
            assertThat(violations(Checkers.holderIntervals(h))).singleElement().asString()
                    .startsWith("overlapping holders on lock l: [a tok=1 held 2..7, ended by release]")
                    .contains("[b tok=2 held 4..5, ended by release]");
        }

        @Test
        void releasingAnInnerReentrantHandleDoesNotEndTheHold() {
            acquire("a", "l", 1);
            reacquire("a", "l", 1);
            release("a", "l", 1);
            acquire("b", "l", 2);
            assertThat(violations(Checkers.holderIntervals(h))).singleElement().asString()
                    .startsWith("overlapping holders on lock l: [a tok=1");
        }

        @Test
        void lostHoldEndsAtTheLocalDeadlineIfEarlier() {
            acquire("a", "l", 1); // held from t=2
            acquire("b", "l", 2); // held from t=4
            h.lost("a", "l", 1, 3); // noticed at t=5, deadline t=3
            Checkers.holderIntervals(h).assertValid();

            acquire("c", "l", 3); // b never released: still held
            assertThat(violations(Checkers.holderIntervals(h))).singleElement().asString()
                    .contains("[b tok=2 held 4..end, ended by nothing");
        }

        @Test
        void lateLossOfAnOlderTokenDoesNotEndTheCurrentHold() {
            acquire("a", "l", 1);
            h.invoke("a", Type.RELEASE, "l", 1, NONE).info("lost: expired");
            acquire("a", "l", 3);
            h.lost("a", "l", 1); // listener of the old handle, running late
            acquire("b", "l", 4);
            assertThat(violations(Checkers.holderIntervals(h))).singleElement().asString()
                    .contains("[a tok=3");
        }
    }

    @Test
    void reportNamesTheCheckerAndShowsTheFirstFewViolations() {
        List<String> many = new ArrayList<>();
        for (int i = 0; i < 15; i++) {
            many.add("violation " + i);
        }
        CheckResult result = new CheckResult("demo", many);
        assertThatThrownBy(result::assertValid).isInstanceOf(AssertionError.class)
                .hasMessageStartingWith("demo: 15 violation(s)\n  - violation 0\n")
                .hasMessageContaining("violation 9").hasMessageNotContaining("violation 10")
                .hasMessageEndingWith("... and 5 more");
        new CheckResult("clean", List.of()).assertValid();
        assertThatThrownBy(() -> CheckResult.assertAllValid(List.of(new CheckResult("clean", List.of()), result)))
                .hasMessageStartingWith("demo: 15");
    }

    @Test
    void oddHistoriesAreJudgedNotThrownAt() {
        h.add(new Op(100, "a", 99, Kind.OK, Type.ACQUIRE, "l", 5, NONE, "")); // completion without invocation
        h.add(new Op(101, "a", 98, Kind.INFO, Type.FAULT_END, null, NONE, NONE, "restart")); // end without start
        h.invoke("b", Type.RELEASE, "l", 5, NONE).ok(); // release of nothing held
        h.invoke("c", Type.ACQUIRE, null).ok(1); // no lock name
        h.add(new Op(1, "d", 97, Kind.INFO, Type.LOST, "l", NONE, NONE, "")); // out of time order
        assertThat(List.of(Checkers.tokenIssuance(h), Checkers.holderIntervals(h),
                Checkers.lostUpdates(h, new FencedRegister()))).allMatch(CheckResult::isValid);
    }
}
