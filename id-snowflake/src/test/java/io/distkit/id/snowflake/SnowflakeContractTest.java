package io.distkit.id.snowflake;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdGenerator;
import io.distkit.testkit.id.IdGeneratorContract;
import java.util.List;
import java.util.stream.IntStream;

/**
 * The id contract on the system clock, {@link SnowflakeLayout#TWITTER}, strict mode. Each generator
 * leases the lowest free worker id from a pool of {@link StaticWorkerIdAssigner}s, as a process would
 * from a shared store: generators alive at once get distinct worker ids, and a generator created after
 * one was closed gets its worker id back with the last timestamp it saved on close, so it starts above
 * every id of the one it replaces (the contract's restart test holds).
 */
class SnowflakeContractTest extends IdGeneratorContract {

    private final List<StaticWorkerIdAssigner> workerIds = IntStream.range(0, 32)
            .mapToObj(StaticWorkerIdAssigner::of)
            .toList();

    /** The builder a generator of this contract starts from. */
    protected SnowflakeIdGenerator.Builder builder() {
        return SnowflakeIdGenerator.builder(SnowflakeLayout.TWITTER);
    }

    @Override
    protected final IdGenerator newGenerator() {
        for (StaticWorkerIdAssigner workerId : workerIds) {
            try {
                return builder().workerIdAssigner(workerId).build();
            } catch (IdGenerationException e) {
                if (e.getClass() != IdGenerationException.class) {
                    throw e; // not "already leased": a real failure
                }
                // leased to a generator that is still open: try the next
            }
        }
        throw new IllegalStateException("all " + workerIds.size() + " worker ids are leased");
    }
}
