package io.distkit.id.backends.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.IdGenerator;
import io.distkit.id.SegmentAllocator;
import io.distkit.testkit.server.H2Database;
import io.distkit.testkit.server.Pools;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** {@link JdbcIdStore} on a data source the caller owns. */
class JdbcIdStoreTest {

    static H2Database database;
    static HikariDataSource pool;

    @BeforeAll
    static void start() {
        database = H2Database.builder().build();
        database.start();
        pool = Pools.hikari(database);
    }

    @AfterAll
    static void stop() {
        pool.close();
        database.close();
    }

    @Test
    @DisplayName("closing the store stops what it handed out, counters and the allocator, and leaves the caller's data source open")
    void closeStopsWhatItHandedOut() {
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
