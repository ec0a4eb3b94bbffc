package io.distkit.id.backends.jdbc;

import io.distkit.id.IdGenerator;
import io.distkit.id.IdStore;
import io.distkit.id.Segment;
import io.distkit.id.SegmentAllocator;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.backends.AllocatedCounter;
import java.util.Objects;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * Ids in a database you already have (PostgreSQL, MySQL/MariaDB, H2): counters and segments in table {@value
 * JdbcSegmentAllocator#DEFAULT_TABLE} ({@link JdbcSegmentAllocator}), worker ids in table {@value
 * JdbcWorkerIdAssigner#DEFAULT_TABLE} ({@link JdbcWorkerIdAssigner}); both tables are created if missing, and a
 * tag is created at 1 on its first use. A counter is one row update per id ({@code nextIds(n)} one per batch),
 * in the same row as the segments of its tag, so the two never hand out the same id.
 *
 * <pre>{@code
 * try (IdStore store = JdbcIdStore.of(dataSource)) {
 *     long orderNo = store.counter("orders").nextId();
 * }
 * }</pre>
 */
public final class JdbcIdStore implements IdStore {

    private final DataSource dataSource;
    private final @Nullable AutoCloseable ownedPool;
    private final JdbcSegmentAllocator allocator;
    private @Nullable WorkerIdAssigner assigner;
    private volatile boolean closed;
    /** The allocator handed out, to counters too: refuses once the store is closed, whoever owns the data source. */
    private final SegmentAllocator handedOut = new SegmentAllocator() {
        @Override
        public Segment allocate(String tag, long step) {
            checkOpen();
            return allocator.allocate(tag, step);
        }

        @Override
        public String toString() {
            return allocator.toString();
        }
    };

    private JdbcIdStore(DataSource dataSource, @Nullable AutoCloseable ownedPool) {
        this.dataSource = dataSource;
        this.ownedPool = ownedPool;
        this.allocator = JdbcSegmentAllocator.builder(dataSource).createTableIfMissing().createMissingTags(1).build();
    }

    /**
     * A store on {@code dataSource}, which stays yours (closing the store does not close it).
     *
     * @throws io.distkit.id.IdSourceUnavailableException if the database cannot be reached
     */
    public static JdbcIdStore of(DataSource dataSource) {
        return new JdbcIdStore(Objects.requireNonNull(dataSource, "dataSource"), null);
    }

    /** A store on a pool made for it alone, closed with it. */
    static JdbcIdStore owning(DataSource pool, AutoCloseable closePool) {
        try {
            return new JdbcIdStore(pool, closePool);
        } catch (RuntimeException | Error e) {
            try {
                closePool.close();
            } catch (Exception suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    @Override
    public String describe() {
        return "database (" + allocator + ")";
    }

    @Override
    public synchronized IdGenerator counter(String name) {
        checkOpen();
        return AllocatedCounter.of(handedOut, name);
    }

    @Override
    public synchronized SegmentAllocator segmentAllocator() {
        checkOpen();
        return handedOut;
    }

    @Override
    public synchronized WorkerIdAssigner workerIdAssigner() {
        checkOpen();
        if (assigner == null) {
            assigner = JdbcWorkerIdAssigner.builder(dataSource).createTableIfMissing().build();
        }
        return assigner;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("this JDBC id store is closed");
        }
    }

    @Override
    public void close() {
        WorkerIdAssigner toClose;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            toClose = assigner;
        }
        try {
            if (toClose != null) {
                toClose.close();
            }
        } finally {
            if (ownedPool != null) {
                try {
                    ownedPool.close();
                } catch (Exception e) {
                    // nothing left to do with it
                }
            }
        }
    }

    @Override
    public String toString() {
        return describe();
    }
}
