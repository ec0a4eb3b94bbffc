package io.distkit.lock.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.lock.spi.LockMode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Node names as ZooKeeper lists them, including sequences past the wrap of its 32-bit counter. */
class NodeNamesTest {

    private static final String GUID = "_c_0d5e8b6a-9a52-4d6b-8a8e-1f2b3c4d5e6f-";

    @Test
    void sequencesAreParsedWithTheOwnerAndKind() {
        NodeNames.Node node = NodeNames.parse(GUID + "write-own-er-0000000042");
        assertThat(node).isNotNull();
        assertThat(node.mode()).isEqualTo(LockMode.WRITE);
        assertThat(node.encodedOwner()).isEqualTo("own-er");
        assertThat(node.sequence()).isEqualTo(42);
        assertThat(NodeNames.parse("lock-own-er-2147483647").sequence()).isEqualTo(Integer.MAX_VALUE);
    }

    @Test
    void sequencesPastTheCountersWrapAreNegativeAndKeepTheOwnerWhole() {
        // ZooKeeper formats the counter with %010d: "-000000001" (ten characters), "-2147483648" (eleven)
        NodeNames.Node minus1 = NodeNames.parse(GUID + "lock-own-er--000000001");
        NodeNames.Node min = NodeNames.parse(GUID + "read-own-er--2147483648");
        assertThat(minus1).isNotNull();
        assertThat(minus1.sequence()).isEqualTo(-1);
        assertThat(minus1.encodedOwner()).isEqualTo("own-er");
        assertThat(min).isNotNull();
        assertThat(min.sequence()).isEqualTo(Integer.MIN_VALUE);
        assertThat(min.encodedOwner()).isEqualTo("own-er");
        assertThat(min.mode()).isEqualTo(LockMode.READ);
    }

    @Test
    void theQueueOrderFollowsTheCounterAcrossItsWrap() {
        long last = Integer.MAX_VALUE;
        long first = Integer.MIN_VALUE; // the create after 2147483647
        assertThat(NodeNames.precedes(last, first)).as("2147483647 before -2147483648").isTrue();
        assertThat(NodeNames.precedes(first, last)).isFalse();
        assertThat(NodeNames.precedes(first, first + 1)).isTrue();
        assertThat(NodeNames.precedes(-1, 0)).isTrue();
        assertThat(NodeNames.precedes(5, 6)).isTrue();
        assertThat(NodeNames.precedes(6, 6)).isFalse();

        // a queue that spans the wrap, listed in ZooKeeper's (arbitrary) order: the lowest is the oldest
        List<Long> queue = new ArrayList<>(List.of(-2147483647L, 2147483646L, -2147483648L, 2147483647L));
        queue.sort((x, y) -> NodeNames.precedes(x, y) ? -1 : NodeNames.precedes(y, x) ? 1 : 0);
        assertThat(queue).containsExactly(2147483646L, 2147483647L, -2147483648L, -2147483647L);
    }

    @Test
    void namesThatAreNotOursAreIgnored() {
        assertThat(NodeNames.parse("lock-0000000001")).isNull();
        assertThat(NodeNames.parse("other-own-0000000001")).isNull();
        assertThat(NodeNames.parse("lock-own-00000000x1")).isNull();
    }
}
