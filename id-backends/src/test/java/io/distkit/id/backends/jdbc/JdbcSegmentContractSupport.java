package io.distkit.id.backends.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.IdGenerator;
import io.distkit.id.segment.SegmentIdGenerator;
import io.distkit.testkit.id.IdGeneratorContract;

/**
 * The id contract on {@link JdbcSegmentAllocator}, step 1,000 fixed: every generator of a test on one
 * table and tag, racing the others for segments through the database.
 */
abstract class JdbcSegmentContractSupport extends IdGeneratorContract {

    abstract HikariDataSource pool();

    @Override
    protected IdGenerator newGenerator() {
        JdbcSegmentAllocator allocator = JdbcSegmentAllocator.builder(pool()).createTableIfMissing()
                .createMissingTags(1).build();
        return SegmentIdGenerator.builder(allocator, "contract").minStep(1000).maxStep(1000).build();
    }

    @Override
    protected int idsPerThread() {
        return 5_000;
    }
}
