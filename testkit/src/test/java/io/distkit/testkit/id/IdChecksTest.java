package io.distkit.testkit.id;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.id.Segment;
import io.distkit.testkit.id.IdChecks.Kind;
import io.distkit.testkit.id.IdChecks.Result;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class IdChecksTest {

    private static Map<String, long[]> ids(Object... labelsAndIds) {
        Map<String, long[]> m = new LinkedHashMap<>();
        for (int i = 0; i < labelsAndIds.length; i += 2) {
            m.put((String) labelsAndIds[i], (long[]) labelsAndIds[i + 1]);
        }
        return m;
    }

    @Nested
    class Distinct {

        @Test
        void distinctIdsPass() {
            Result r = IdChecks.distinct(ids("a", new long[] {1, 5, 3}, "b", new long[] {2, 4, 6}));

            assertThat(r.isClean()).isTrue();
            assertThatCode(r::assertNoViolations).doesNotThrowAnyException();
            assertThat(r.report()).isEqualTo("no id violations");
        }

        @Test
        void noIdsAtAllPass() {
            assertThat(IdChecks.distinct(Map.of()).isClean()).isTrue();
            assertThat(IdChecks.distinct(ids("a", new long[0])).isClean()).isTrue();
        }

        @Test
        void duplicateAcrossProducersNamesBothWithPositions() {
            Result r = IdChecks.distinct(ids("gen-a", new long[] {10, 11, 12}, "gen-b", new long[] {20, 11}));

            assertThat(r.count(Kind.DUPLICATE)).isEqualTo(1);
            assertThat(r.violations()).singleElement().satisfies(v -> {
                assertThat(v.kind()).isEqualTo(Kind.DUPLICATE);
                assertThat(v.description()).isEqualTo("id 11 returned 2 times: by gen-a at #1 and by gen-b at #1");
            });
        }

        @Test
        void duplicateWithinOneProducerIsFound() {
            Result r = IdChecks.distinct(ids("gen-a", new long[] {7, 8, 7, 7}));

            assertThat(r.violations()).singleElement().extracting(IdChecks.Violation::description)
                    .isEqualTo("id 7 returned 3 times: by gen-a at #0 and by gen-a at #2 and by gen-a at #3");
        }

        @Test
        void manyDuplicatesAreCountedButOnlyTheFirstListed() {
            long[] a = new long[1000];
            long[] b = new long[1000];
            for (int i = 0; i < 1000; i++) {
                a[i] = i;
                b[i] = 999 - i;
            }

            Result r = IdChecks.distinct(ids("a", a, "b", b));

            assertThat(r.count(Kind.DUPLICATE)).isEqualTo(1000);
            assertThat(r.totalCount()).isEqualTo(1000);
            assertThat(r.violations()).hasSize(IdChecks.MAX_LISTED);
            assertThat(r.violations().get(0).description()).startsWith("id 0 returned 2 times");
            assertThat(r.report()).contains("1000 id violation(s)", "980 more DUPLICATE violation(s) not listed");
        }

        @Test
        void inputArraysAreNotModified() {
            long[] a = {3, 1, 2};

            IdChecks.distinct(ids("a", a));

            assertThat(a).containsExactly(3, 1, 2);
        }
    }

    @Nested
    class StrictlyIncreasing {

        @Test
        void increasingSequencesPass() {
            assertThat(IdChecks.strictlyIncreasing(ids("a", new long[] {1, 2, 9}, "b", new long[] {0, 1})).isClean())
                    .isTrue();
        }

        @Test
        void decreaseIsReportedWithProducerPositionsAndValues() {
            Result r = IdChecks.strictlyIncreasing(ids("ok", new long[] {1, 2}, "bad", new long[] {1, 2, 5, 4, 6}));

            assertThat(r.violations()).singleElement().satisfies(v -> {
                assertThat(v.kind()).isEqualTo(Kind.NOT_INCREASING);
                assertThat(v.description()).isEqualTo("bad: ids at #2..#3 do not increase: 5 > 4");
            });
        }

        @Test
        void repeatedIdIsNotIncreasing() {
            Result r = IdChecks.strictlyIncreasing(ids("a", new long[] {1, 3, 3, 4}));

            assertThat(r.violations()).singleElement().extracting(IdChecks.Violation::description)
                    .isEqualTo("a: ids at #1..#2 do not increase: 3 = 3");
        }

        @Test
        void consecutiveOffencesAreOneRunAndSeparateOnesAreSeparate() {
            Result r = IdChecks.strictlyIncreasing(ids("a", new long[] {9, 8, 7, 7, 10, 11, 2}));

            assertThat(r.violations()).extracting(IdChecks.Violation::description).containsExactly(
                    "a: ids at #0..#3 do not increase: 9 > 8 > 7 = 7",
                    "a: ids at #5..#6 do not increase: 11 > 2");
        }

        @Test
        void longRunIsElided() {
            long[] down = new long[100];
            for (int i = 0; i < 100; i++) {
                down[i] = 100 - i;
            }

            Result r = IdChecks.strictlyIncreasing(ids("a", down));

            assertThat(r.violations()).singleElement().extracting(IdChecks.Violation::description)
                    .isEqualTo("a: ids at #0..#99 do not increase: 100 > 99 > 98 > 97 > 96 > 95 ... (94 more)");
        }
    }

    @Nested
    class Disjoint {

        @Test
        void adjacentAndOtherTagSegmentsPass() {
            Result r = IdChecks.disjoint(Map.of(
                    "alloc-1", List.of(new Segment("orders", 0, 100), new Segment("orders", 200, 300)),
                    "alloc-2", List.of(new Segment("orders", 100, 200), new Segment("users", 0, 300))));

            assertThat(r.isClean()).isTrue();
        }

        @Test
        void overlapNamesBothAllocatorsAndTheSharedIds() {
            Map<String, List<Segment>> segments = new LinkedHashMap<>();
            segments.put("alloc-1", List.of(new Segment("orders", 0, 100), new Segment("orders", 100, 200)));
            segments.put("alloc-2", List.of(new Segment("orders", 150, 250)));

            Result r = IdChecks.disjoint(segments);

            assertThat(r.violations()).singleElement().satisfies(v -> {
                assertThat(v.kind()).isEqualTo(Kind.SEGMENT_OVERLAP);
                assertThat(v.description()).isEqualTo(
                        "orders[100, 200) from alloc-1 (#1) overlaps orders[150, 250) from alloc-2 (#0) on ids [150, 200)");
            });
        }

        @Test
        void everyOverlappingPairIsReported() {
            Result r = IdChecks.disjoint(List.of(
                    new Segment("t", 0, 1000), new Segment("t", 10, 20), new Segment("t", 15, 30), new Segment("t", 40, 50)));

            // [0,1000) overlaps all three others; [10,20) and [15,30) overlap each other.
            assertThat(r.count(Kind.SEGMENT_OVERLAP)).isEqualTo(4);
        }

        @Test
        void sameSegmentReturnedTwiceOverlaps() {
            Result r = IdChecks.disjoint(List.of(new Segment("t", 0, 10), new Segment("t", 0, 10)));

            assertThat(r.count(Kind.SEGMENT_OVERLAP)).isEqualTo(1);
        }
    }

    @Nested
    class Restart {

        @Test
        void firstIdAboveEverythingBeforePasses() {
            Result r = IdChecks.noRewindAfterRestart(ids("a", new long[] {1, 9}, "b", new long[] {5}), "a again", 10);

            assertThat(r.isClean()).isTrue();
        }

        @Test
        void rewindIsReportedWithTheHighestEarlierIdAndItsProducer() {
            Result r = IdChecks.noRewindAfterRestart(ids("a", new long[] {1, 9}, "b", new long[] {5, 12, 3}), "a again", 12);

            assertThat(r.violations()).singleElement().satisfies(v -> {
                assertThat(v.kind()).isEqualTo(Kind.REWIND_AFTER_RESTART);
                assertThat(v.description()).isEqualTo(
                        "first id 12 of a again is not above id 12 acknowledged before the restart by b at #1");
            });
        }

        @Test
        void nothingAcknowledgedBeforePasses() {
            assertThat(IdChecks.noRewindAfterRestart(ids("a", new long[0]), "a again", 0).isClean()).isTrue();
        }
    }

    @Nested
    class Results {

        @Test
        void assertNoViolationsThrowsAssertionErrorWithTheReport() {
            Result r = IdChecks.distinctAndIncreasing(ids("a", new long[] {1, 2, 2}));

            assertThat(r.count(Kind.DUPLICATE)).isEqualTo(1);
            assertThat(r.count(Kind.NOT_INCREASING)).isEqualTo(1);
            assertThatThrownBy(r::assertNoViolations)
                    .isInstanceOf(AssertionError.class)
                    .hasMessage("2 id violation(s) (docs/failures.md, checker 5):\n"
                            + "  - DUPLICATE: id 2 returned 2 times: by a at #1 and by a at #2\n"
                            + "  - NOT_INCREASING: a: ids at #1..#2 do not increase: 2 = 2");
        }

        @Test
        void andCombinesListedAndCountedViolations() {
            long[] many = new long[50];
            Result dupes = IdChecks.distinct(ids("a", many, "b", many.clone()));
            Result clean = Result.clean();

            Result both = dupes.and(clean).and(IdChecks.noRewindAfterRestart(ids("a", many), "a", 0));

            assertThat(both.count(Kind.DUPLICATE)).isEqualTo(1);
            assertThat(both.count(Kind.REWIND_AFTER_RESTART)).isEqualTo(1);
            assertThat(both.violations(Kind.REWIND_AFTER_RESTART)).hasSize(1);
            assertThat(clean.and(clean).isClean()).isTrue();
        }
    }
}
