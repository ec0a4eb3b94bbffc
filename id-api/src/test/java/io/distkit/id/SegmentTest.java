package io.distkit.id;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SegmentTest {

    @Nested
    class Validation {

        @Test
        void smallestSegmentHoldsOneId() {
            Segment s = new Segment("orders", 0, 1);

            assertThat(s.size()).isEqualTo(1);
        }

        @Test
        void largestSegmentSizeDoesNotOverflow() {
            assertThat(new Segment("t", 0, Long.MAX_VALUE).size()).isEqualTo(Long.MAX_VALUE);
        }

        @Test
        void nullTagIsRefused() {
            assertThatNullPointerException().isThrownBy(() -> new Segment(null, 0, 1)).withMessage("tag");
        }

        @ParameterizedTest
        @ValueSource(strings = {"", " ", "\t\n"})
        void blankTagIsRefused(String tag) {
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> new Segment(tag, 0, 1))
                    .withMessageContaining("tag");
        }

        @Test
        void negativeStartIsRefusedWithValue() {
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> new Segment("t", -5, 10))
                    .withMessageContaining("start")
                    .withMessageContaining("-5");
        }

        @Test
        void emptyRangeIsRefusedWithValues() {
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> new Segment("t", 7, 7))
                    .withMessageContaining("endExclusive")
                    .withMessageContaining("7");
        }

        @Test
        void reversedRangeIsRefused() {
            assertThatIllegalArgumentException()
                    .isThrownBy(() -> new Segment("t", 10, 3))
                    .withMessageContaining("3");
        }
    }

    @Nested
    class Contains {

        private final Segment s = new Segment("t", 100, 200);

        @Test
        void includesStartExcludesEnd() {
            assertThat(s.contains(100)).isTrue();
            assertThat(s.contains(199)).isTrue();
            assertThat(s.contains(200)).isFalse();
            assertThat(s.contains(99)).isFalse();
            assertThat(s.contains(-1)).isFalse();
        }
    }

    @Nested
    class Overlaps {

        private final Segment s = new Segment("t", 100, 200);

        @Test
        void adjacentRangesDoNotOverlap() {
            assertThat(s.overlaps(new Segment("t", 200, 300))).isFalse();
            assertThat(s.overlaps(new Segment("t", 0, 100))).isFalse();
        }

        @Test
        void sharingOneIdOverlaps() {
            assertThat(s.overlaps(new Segment("t", 199, 300))).isTrue();
            assertThat(s.overlaps(new Segment("t", 0, 101))).isTrue();
        }

        @Test
        void containedAndContainingRangesOverlapBothWays() {
            Segment inner = new Segment("t", 150, 160);
            Segment outer = new Segment("t", 0, 1000);

            assertThat(s.overlaps(inner)).isTrue();
            assertThat(inner.overlaps(s)).isTrue();
            assertThat(s.overlaps(outer)).isTrue();
            assertThat(outer.overlaps(s)).isTrue();
        }

        @Test
        void segmentOverlapsItself() {
            assertThat(s.overlaps(s)).isTrue();
        }

        @Test
        void rangesOfDifferentTagsNeverOverlap() {
            assertThat(s.overlaps(new Segment("other", 100, 200))).isFalse();
        }

        @Test
        void nullIsRefused() {
            assertThatNullPointerException().isThrownBy(() -> s.overlaps(null));
        }
    }

    @Test
    void toStringShowsHalfOpenRange() {
        assertThat(new Segment("orders", 1, 5)).hasToString("orders[1, 5)");
    }
}
