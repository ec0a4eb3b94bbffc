package io.distkit.testkit.id;

import io.distkit.id.IdGenerator;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The contract against the simplest correct generator: every generator increments one shared
 * {@link AtomicLong}, as processes would increment one counter in a store. Must pass; if it does
 * not, the contract is wrong, not the generator.
 */
class AtomicIdGeneratorContractTest extends IdGeneratorContract {

    private final AtomicLong source = new AtomicLong();

    @Override
    protected IdGenerator newGenerator() {
        return new AtomicIdGenerator(source);
    }

    static final class AtomicIdGenerator implements IdGenerator {
        private final AtomicLong source;

        AtomicIdGenerator(AtomicLong source) {
            this.source = source;
        }

        @Override
        public long nextId() {
            return source.incrementAndGet();
        }
    }
}
