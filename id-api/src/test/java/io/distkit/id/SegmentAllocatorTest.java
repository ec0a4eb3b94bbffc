package io.distkit.id;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import org.junit.jupiter.api.Test;

/** The argument checks every allocator and segment generator shares. */
class SegmentAllocatorTest {

    @Test
    void tagsAStoreKeepsExactlyAreAccepted() {
        assertThat(SegmentAllocator.checkTag("order")).isEqualTo("order");
        assertThat(SegmentAllocator.checkTag("x".repeat(SegmentAllocator.MAX_TAG_LENGTH))).hasSize(128);
        assertThat(SegmentAllocator.checkTag("b\uD83D\uDE00c")).isEqualTo("b\uD83D\uDE00c"); // a surrogate pair
    }

    @Test
    void tagsAStoreWouldNotKeepExactlyAreRefusedWithTheReason() {
        assertThatNullPointerException().isThrownBy(() -> SegmentAllocator.checkTag(null)).withMessage("tag");
        assertThatIllegalArgumentException().isThrownBy(() -> SegmentAllocator.checkTag(" "))
                .withMessage("tag must not be blank, was ' '");
        assertThatIllegalArgumentException().isThrownBy(() -> SegmentAllocator.checkTag("x".repeat(129)))
                .withMessage("tag must be at most 128 characters, was 129 ('" + "x".repeat(32) + "...')");
        assertThatIllegalArgumentException().isThrownBy(() -> SegmentAllocator.checkTag("a\tb"))
                .withMessage("tag must not contain control characters, was 'a?b'");
        assertThatIllegalArgumentException().isThrownBy(() -> SegmentAllocator.checkTag("a\uD800"))
                .withMessage("tag must be well-formed UTF-16, without unpaired surrogates (databases would store"
                        + " them as '?'): U+D800 at index 1 is unpaired");
        assertThatIllegalArgumentException().isThrownBy(() -> SegmentAllocator.checkTag("\uDC00a"))
                .withMessageEndingWith("U+DC00 at index 0 is unpaired");
    }

    @Test
    void stepMustBePositive() {
        assertThat(SegmentAllocator.checkStep(1)).isEqualTo(1);
        assertThatIllegalArgumentException().isThrownBy(() -> SegmentAllocator.checkStep(0))
                .withMessage("step must be positive, was 0");
        assertThatIllegalArgumentException().isThrownBy(() -> SegmentAllocator.checkStep(-7))
                .withMessage("step must be positive, was -7");
    }
}
