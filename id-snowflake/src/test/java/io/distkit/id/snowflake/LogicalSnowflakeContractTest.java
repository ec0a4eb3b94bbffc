package io.distkit.id.snowflake;

import java.time.Duration;

/**
 * The id contract in logical mode on {@link SnowflakeLayout#JS_SAFE} (1,024 ids per 10 ms, so the
 * racing threads run out of sequence numbers all the time and borrow timestamps up to the lead).
 */
class LogicalSnowflakeContractTest extends SnowflakeContractTest {

    @Override
    protected SnowflakeIdGenerator.Builder builder() {
        return SnowflakeIdGenerator.builder(SnowflakeLayout.JS_SAFE).logicalClock(Duration.ofMillis(100));
    }

    @Override
    protected int idsPerThread() {
        return 5_000;
    }
}
