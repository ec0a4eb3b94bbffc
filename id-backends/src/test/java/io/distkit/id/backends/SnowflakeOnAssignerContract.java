package io.distkit.id.backends;

import io.distkit.id.IdGenerator;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.snowflake.SnowflakeIdGenerator;
import io.distkit.id.snowflake.SnowflakeLayout;
import io.distkit.testkit.id.IdGeneratorContract;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * The id contract for snowflake generators whose worker ids come from a store: each generator leases its
 * worker id through an assigner of its own (its own connection, as a separate process would), and closing the
 * generator closes that assigner, which gives the worker id back with its mark.
 */
public abstract class SnowflakeOnAssignerContract extends IdGeneratorContract {

    private final Map<IdGenerator, WorkerIdAssigner> assigners = new IdentityHashMap<>();

    /** A new assigner on the shared store. */
    protected abstract WorkerIdAssigner newAssigner();

    @Override
    protected IdGenerator newGenerator() {
        WorkerIdAssigner assigner = newAssigner();
        try {
            SnowflakeIdGenerator generator = SnowflakeIdGenerator.builder(SnowflakeLayout.TWITTER)
                    .workerIdAssigner(assigner).build();
            synchronized (assigners) {
                assigners.put(generator, assigner);
            }
            return generator;
        } catch (RuntimeException e) {
            assigner.close();
            throw e;
        }
    }

    @Override
    protected void closeGenerator(IdGenerator generator) throws Exception {
        WorkerIdAssigner assigner;
        synchronized (assigners) {
            assigner = assigners.remove(generator);
        }
        try {
            super.closeGenerator(generator);
        } finally {
            if (assigner != null) {
                assigner.close();
            }
        }
    }
}
