package io.distkit.testkit.history;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import io.distkit.testkit.history.FencedRegister.Write;
import org.junit.jupiter.api.Test;

class FencedRegisterTest {

    @Test
    void staleTokenIsRefusedEqualAndHigherAreAccepted() {
        FencedRegister r = new FencedRegister();
        assertThat(r.write("a", 5, 1)).isTrue();
        assertThat(r.write("a", 5, 2)).as("same holder writes twice").isTrue();
        assertThat(r.write("b", 4, 3)).as("stale").isFalse();
        assertThat(r.write("c", 6, 4)).isTrue();
        assertThat(r.read()).isEqualTo(4);
        assertThat(r.highestToken()).isEqualTo(6);
        assertThat(r.writes()).extracting(Write::process, Write::token, Write::value, Write::accepted)
                .containsExactly(tuple("a", 5L, 1L, true), tuple("a", 5L, 2L, true), tuple("b", 4L, 3L, false),
                        tuple("c", 6L, 4L, true));
        assertThat(r.writes()).extracting(Write::time).isSorted();
    }

    @Test
    void fencedReadRefusesLaterWritesOfLowerTokens() {
        FencedRegister r = new FencedRegister();
        long seenByStaleHolder = r.read(10);
        long seenByNewHolder = r.read(11);
        assertThat(r.write("stale", 10, seenByStaleHolder + 1)).isFalse();
        assertThat(r.write("new", 11, seenByNewHolder + 1)).isTrue();
        assertThat(r.read()).isEqualTo(1);
    }

    @Test
    void unfencedRegisterAcceptsStaleTokensAndTheCheckerFlagsIt() {
        FencedRegister r = FencedRegister.unfenced();
        assertThat(r.fencing()).isFalse();
        r.read(10);
        assertThat(r.write("new", 10, 1)).isTrue();
        assertThat(r.write("stale", 9, 2)).isTrue();
        assertThat(r.read()).isEqualTo(2);
        assertThat(Checkers.fencedResource(r).violations()).singleElement().asString()
                .startsWith("stale token accepted");
    }
}
