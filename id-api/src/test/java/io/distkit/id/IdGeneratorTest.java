package io.distkit.id;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class IdGeneratorTest {

    private final AtomicLong source = new AtomicLong();
    private final AtomicInteger calls = new AtomicInteger();
    private final IdGenerator counting = () -> {
        calls.incrementAndGet();
        return source.incrementAndGet();
    };

    @Test
    void defaultBatchCallsNextIdOncePerIdInOrder() {
        long[] ids = counting.nextIds(5);

        assertThat(ids).containsExactly(1, 2, 3, 4, 5);
        assertThat(calls).hasValue(5);
    }

    @Test
    void batchOfOneIsTheNextId() {
        counting.nextId();

        assertThat(counting.nextIds(1)).containsExactly(2);
    }

    @Test
    void batchOfMaxBatchIsAccepted() {
        long[] ids = counting.nextIds(IdGenerator.MAX_BATCH);

        assertThat(ids).hasSize(1_000_000);
        assertThat(ids[ids.length - 1]).isEqualTo(1_000_000L);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -1, Integer.MIN_VALUE, IdGenerator.MAX_BATCH + 1, Integer.MAX_VALUE})
    void batchCountOutOfRangeIsRefusedNamingArgumentAndValue(int count) {
        assertThatIllegalArgumentException()
                .isThrownBy(() -> counting.nextIds(count))
                .withMessageContaining("count")
                .withMessageContaining(String.valueOf(count))
                .withMessageContaining(String.valueOf(IdGenerator.MAX_BATCH));
        assertThat(calls).as("no id is consumed by a refused batch").hasValue(0);
    }

    @Test
    void checkBatchCountReturnsValidCount() {
        assertThat(IdGenerator.checkBatchCount(1)).isEqualTo(1);
        assertThat(IdGenerator.checkBatchCount(IdGenerator.MAX_BATCH)).isEqualTo(IdGenerator.MAX_BATCH);
    }

    @Test
    void failureInsideDefaultBatchPropagatesUnchanged() {
        IdSourceUnavailableException failure = new IdSourceUnavailableException("orders", "timed out", null);
        IdGenerator failingOnThird = () -> {
            if (calls.incrementAndGet() == 3) {
                throw failure;
            }
            return source.incrementAndGet();
        };

        assertThatThrownBy(() -> failingOnThird.nextIds(10)).isSameAs(failure);
    }
}
