package io.distkit.lock.jdbc;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.testkit.Closer;
import io.distkit.testkit.jdbc.JdbcConfigurationMatrix;
import io.distkit.testkit.jdbc.PoolConfiguration;
import io.distkit.testkit.server.JdbcServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * The lock under the pool settings and calling habits of ordinary applications ({@link PoolConfiguration}),
 * on PostgreSQL, MariaDB and H2: 4 clients (a pool each) × 4 threads take one lock 5 times each with a
 * 30 s wait. Every cell must give mutual exclusion, strictly increasing fencing tokens, a token in the
 * table equal to the last one handed out (the writes were committed, not rolled back by the pool or with
 * the caller's transaction), every contended acquire waiting rather than failing, and no connection left
 * borrowed afterwards.
 */
class JdbcLockConfigurationMatrixTest extends JdbcConfigurationMatrix {

    private static final int ROUNDS = 5;

    @ParameterizedTest(name = "{0}: {1}", autoCloseArguments = false) // the servers outlive a cell
    @MethodSource("cells")
    void contendedLockExcludesWithIncreasingCommittedTokens(JdbcServer server, PoolConfiguration cell) throws Exception {
        String name = "matrix-" + UUID.randomUUID();
        try (Closer closer = new Closer()) {
            List<HikariDataSource> pools = pools(server, cell, closer);
            List<DistributedLock> locks = new ArrayList<>();
            for (HikariDataSource pool : pools) {
                LockClient client = closer.add(JdbcLockClient.builder(cell.forDistkit(pool)).createTableIfMissing().build());
                locks.add(client.lock(name));
            }
            AtomicInteger inside = new AtomicInteger();
            long[] lastToken = {Long.MIN_VALUE};
            int[] counter = {0}; // a plain int: only mutual exclusion keeps it exact
            List<String> violations = Collections.synchronizedList(new ArrayList<>());
            run(cell, pools, ROUNDS, (client, round) -> {
                Optional<LockHandle> maybe = locks.get(client).tryAcquire(Duration.ofSeconds(30));
                if (maybe.isEmpty()) {
                    violations.add("a contended acquire gave up after 30 s");
                    return;
                }
                try (LockHandle handle = maybe.get()) {
                    if (inside.incrementAndGet() != 1) {
                        violations.add("two holders at once");
                    }
                    if (handle.fencingToken() <= lastToken[0]) {
                        violations.add("token " + handle.fencingToken() + " after " + lastToken[0]);
                    }
                    lastToken[0] = handle.fencingToken();
                    counter[0]++;
                    inside.decrementAndGet();
                }
            });
            assertThat(violations).isEmpty();
            assertThat(counter[0]).isEqualTo(CLIENTS * THREADS * ROUNDS);
            Long stored = new JdbcTemplate(pools.get(0)).queryForObject(
                    "SELECT fencing_token FROM " + JdbcLockClient.DEFAULT_TABLE + " WHERE lock_name = ?", Long.class, name);
            assertThat(stored).as("the token committed in the table").isEqualTo(lastToken[0]);
            pools.forEach(PoolConfiguration::awaitNoConnectionBorrowed);
        }
    }
}
