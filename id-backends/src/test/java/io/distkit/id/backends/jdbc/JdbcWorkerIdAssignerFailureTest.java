package io.distkit.id.backends.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import io.distkit.jdbc.SqlDialect;
import io.distkit.testkit.server.FaultProxy;
import io.distkit.testkit.server.Pools;
import io.distkit.testkit.server.PostgresServer;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * docs/failures.md, F20, from the assigner's side, on PostgreSQL: a holder cut off from the database by a
 * black-holed {@link FaultProxy} (connections stay open, nothing arrives). The holder's pool sets no
 * socket timeout and its statements may take 5 s (network bound 6 s), longer than the 2 s lease: a
 * renewal hangs past the deadline, so only a deadline watched apart from the renewals can be on time.
 */
@Timeout(90)
class JdbcWorkerIdAssignerFailureTest extends WorkerTableTestSupport {

    @RegisterExtension
    static PostgresServer postgres = PostgresServer.builder().build();

    @RegisterExtension
    final FaultProxy proxy = FaultProxy.builder().target(postgres.host(), postgres.port()).build();

    @Override
    HikariDataSource newPool() {
        return Pools.hikari(postgres);
    }

    @Override
    SqlDialect dialect() {
        return SqlDialect.POSTGRESQL;
    }

    @AfterEach
    void healFirst() {
        proxy.heal(); // before the base class closes: a client still cut off would wait for its releases to time out
    }

    @Test
    @DisplayName("F20: a holder cut off declares its lease lost at the local deadline, before the row expires; the id goes to another process only after the DB-clock expiry, with the mark")
    void cutOffHolderGivesUpBeforeTheDatabaseDoes() throws Exception {
        Duration leaseTime = Duration.ofSeconds(2);
        WorkerIdAssigner holder = toClose.add(JdbcWorkerIdAssigner.builder(viaProxy()).tableName(table)
                .createTableIfMissing().leaseTime(leaseTime).build());
        WorkerLease lease = holder.acquire(1);
        lease.saveLastTimestamp(777);
        AtomicLong lostAt = new AtomicLong();
        CountDownLatch lost = new CountDownLatch(1);
        lease.onLost(() -> {
            lostAt.set(System.nanoTime());
            lost.countDown();
        });

        proxy.blackHole();
        assertThat(lost.await(leaseTime.plusSeconds(1).toMillis(), TimeUnit.MILLISECONDS)).as("told within the lease")
                .isTrue();
        assertThat(lease.isValid()).isFalse();
        long[] expiry = expiry(0); // the holder cannot renew any more: this is the row's final expiry
        assertThat(lostAt.get()).as("the holder gives up no later than the row expires").isLessThanOrEqualTo(expiry[1]);

        WorkerIdAssigner contender = assigner(b -> b.leaseTime(Duration.ofSeconds(10)));
        WorkerLease taken = await().atMost(leaseTime.plusSeconds(3)).pollInterval(Duration.ofMillis(20))
                .until(() -> tryAcquire(contender, 1), l -> l != null);
        assertThat(System.nanoTime()).as("the contender only after the row's expiry").isGreaterThanOrEqualTo(expiry[0] - MS);
        assertThat(taken.workerId()).isZero();
        assertThat(taken.lastTimestamp()).isEqualTo(777);
        Row row = row(0);

        proxy.heal();
        await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(3))
                .until(() -> !lease.isValid() && row.equals(row(0)) && taken.isValid());
        assertThatThrownBy(() -> lease.saveLastTimestamp(1_000)).isInstanceOf(WorkerLeaseLostException.class);
        assertThat(row(0)).as("no resurrection: the late holder changed nothing").isEqualTo(row);
    }

    @Test
    @DisplayName("cut off: saveLastTimestamp fails as unavailable (not lost) in bounded time; close returns in bounded time without throwing; the row then expires by itself")
    void unreachableDatabaseIsUnavailableNotLost() {
        WorkerIdAssigner holder = toClose.add(JdbcWorkerIdAssigner.builder(viaProxy()).tableName(table)
                .createTableIfMissing().commandTimeout(Duration.ofSeconds(1)).build()); // 30 s lease
        WorkerLease lease = holder.acquire(1);
        lease.saveLastTimestamp(10);
        // distkit's network bound (1 s + 1 s), or Hikari's borrow timeout (5 s) where the pool validates an
        // idle connection first; plus slack
        Duration bound = Duration.ofSeconds(5 + 2 + 2);

        proxy.blackHole();
        long start = System.nanoTime();
        assertThatThrownBy(() -> lease.saveLastTimestamp(20)).isInstanceOf(IdSourceUnavailableException.class)
                .hasMessageContaining("'" + table + "' unavailable").hasMessageContaining("saving last timestamp 20")
                .hasMessageContaining("whether it was saved is unknown");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(bound);
        assertThat(lease.isValid()).as("unreachable is not lost: the lease runs for 30 s").isTrue();

        start = System.nanoTime();
        lease.close();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(bound);
        assertThat(lease.isValid()).isFalse();

        proxy.heal();
        assertThat(row(0)).as("the release never arrived: the row is held until it expires; the lost save never arrived")
                .isEqualTo(new Row(owner(lease), 10));
        assertThat(tryAcquire(assigner(b -> b), 1)).isNull();
    }

    private HikariDataSource viaProxy() {
        // no socketTimeout: only distkit's network bound ends a statement on a silent connection
        return toClose.add(Pools.hikari("jdbc:postgresql://" + proxy.host() + ":" + proxy.port() + "/"
                + postgres.database(), postgres.user(), postgres.password()));
    }
}
