package io.distkit.id.backends.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.SegmentAllocator;
import io.distkit.id.backends.SegmentOnAllocatorContract;

/** The segment id contract on {@link JdbcSegmentAllocator}, each generator with an allocator of its own. */
abstract class JdbcSegmentContractSupport extends SegmentOnAllocatorContract {

    abstract HikariDataSource pool();

    @Override
    protected SegmentAllocator allocator() {
        return JdbcSegmentAllocator.builder(pool()).createTableIfMissing().createMissingTags(1).build();
    }
}
