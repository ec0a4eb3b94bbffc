package io.distkit.id.backends.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.IdGenerator;
import io.distkit.id.SegmentAllocator;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@link JdbcIdStore} on a data source the caller owns. */
class JdbcIdStoreTest {

    @RegisterExtension
    static final H2Pool h2 = new H2Pool();

    @Test
    @DisplayName("closing the store stops what it handed out, counters and the allocator, and leaves the caller's data source open")
    void closeStopsWhatItHandedOut() {
        HikariDataSource pool = h2.pool();
        JdbcIdStore store = JdbcIdStore.of(pool);
        IdGenerator orders = store.counter("store-close");
        SegmentAllocator allocator = store.segmentAllocator();
        long first = orders.nextId();
        assertThat(orders.nextId()).isEqualTo(first + 1);
        assertThat(allocator.allocate("store-close", 10).start()).isEqualTo(first + 2);

        store.close();
        assertThatThrownBy(orders::nextId).isExactlyInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThatThrownBy(() -> allocator.allocate("store-close", 10)).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(() -> store.counter("other")).isExactlyInstanceOf(IllegalStateException.class);
        assertThat(pool.isClosed()).as("the caller's pool").isFalse();
    }
}
