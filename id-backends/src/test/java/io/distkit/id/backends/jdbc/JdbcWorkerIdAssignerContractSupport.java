package io.distkit.id.backends.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.IdGenerationException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import io.distkit.id.backends.WorkerIdAssignerContract;
import io.distkit.testkit.id.IdChecks;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * What every database must do for {@link JdbcWorkerIdAssigner}: exclusion under concurrent acquirers
 * (with its negative control), recycling after expiry with the high-water mark, renewal, loss when the
 * row is taken behind a lease's back, exhaustion, close. A subclass supplies the database.
 */
abstract class JdbcWorkerIdAssignerContractSupport extends WorkerTableTestSupport {

    // ---- exclusion ---------------------------------------------------------------------------------------

    @Test
    @DisplayName("assigners acquiring concurrently get distinct ids, the lowest ones, each row owned by its lease")
    void concurrentAcquirersGetDistinctLowestIds() throws Exception {
        List<WorkerLease> leases = acquireConcurrently(() -> assigner(b -> b));
        Map<String, long[]> ids = byLease(leases);
        IdChecks.distinct(ids).assertNoViolations();
        assertThat(leases).extracting(WorkerLease::workerId).as("lowest first: exactly [0, %d)", leases.size())
                .containsExactlyInAnyOrderElementsOf(IntStream.range(0, leases.size()).boxed().toList());
        for (WorkerLease lease : leases) {
            assertThat(lease.isValid()).isTrue();
            assertThat(lease.lastTimestamp()).isZero();
            assertThat(row(lease.workerId()).owner()).as("the database agrees: row %d is this lease's", lease.workerId())
                    .isEqualTo(owner(lease));
        }
        assertThat(leases.stream().map(this::owner).distinct()).as("an owner value per lease").hasSameSizeAs(leases);
    }

    @Test
    @DisplayName("negative control: a claim that ignores leases hands one id to several live leases, and the check flags it")
    void claimIgnoringLeasesIsCaught() throws Exception {
        List<WorkerLease> leases = acquireConcurrently(() -> new LeaseIgnoringAssigner(assigner(b -> b), admin(), table));
        IdChecks.Result result = IdChecks.distinct(byLease(leases));
        assertThat(result.count(IdChecks.Kind.DUPLICATE)).as("the same check as the test above flags the control")
                .isPositive();
    }

    // ---- release, recycling, high-water mark -------------------------------------------------------------

    @Test
    @DisplayName("saveLastTimestamp keeps the maximum; a closed lease frees its id at once and the next holder reads the mark")
    void highWaterMarkKeepsTheMaximumAndOutlivesTheLease() {
        WorkerIdAssigner first = assigner(b -> b);
        WorkerLease lease = first.acquire(4);
        assertThat(lease.workerId()).isZero();
        assertThat(lease.lastTimestamp()).isZero();
        lease.saveLastTimestamp(100);
        assertThat(row(0).lastTimestamp()).isEqualTo(100);
        lease.saveLastTimestamp(50);
        assertThat(row(0).lastTimestamp()).as("a lower value leaves the mark").isEqualTo(100);
        lease.saveLastTimestamp(200);
        assertThat(row(0).lastTimestamp()).isEqualTo(200);
        assertThat(lease.lastTimestamp()).as("fixed at acquisition").isZero();

        lease.close();
        lease.close(); // idempotent
        assertThat(lease.isValid()).isFalse();
        assertThat(row(0).owner()).as("released").isNull();
        assertThatThrownBy(() -> lease.saveLastTimestamp(300)).isInstanceOf(WorkerLeaseLostException.class)
                .hasMessageContaining("worker id 0").hasMessageContaining("closed");
        assertThat(row(0).lastTimestamp()).isEqualTo(200);

        WorkerLease next = assigner(b -> b).acquire(4);
        assertThat(next.workerId()).as("freed at once, not after the lease time").isZero();
        assertThat(next.lastTimestamp()).isEqualTo(200);
    }

    @Test
    @DisplayName("the id of a holder that stopped renewing is leased again only after its row expires by the DB clock, with the holder's mark; the holder knew first")
    void expiredLeaseIsRecycledWithItsHighWaterMark() throws Exception {
        Duration leaseTime = Duration.ofSeconds(2);
        HikariDataSource crashingPool = toClose.add(newPool());
        WorkerIdAssigner crashing = toClose.add(JdbcWorkerIdAssigner.builder(crashingPool).tableName(table)
                .createTableIfMissing().leaseTime(leaseTime).build());
        WorkerLease old = crashing.acquire(1);
        old.saveLastTimestamp(12_345);
        AtomicLong lostAt = new AtomicLong();
        CountDownLatch lost = new CountDownLatch(1);
        old.onLost(() -> {
            lostAt.set(System.nanoTime());
            lost.countDown();
        });

        crashingPool.close(); // the holder can no longer renew, nor release
        long[] expiry = expiry(0);
        WorkerIdAssigner next = assigner(b -> b.leaseTime(leaseTime));
        assertThatThrownBy(() -> next.acquire(1)).as("not while the row's lease runs")
                .isExactlyInstanceOf(IdGenerationException.class).hasMessageContaining("[0, 1)");

        WorkerLease recycled = await().atMost(leaseTime.plusSeconds(3)).pollInterval(Duration.ofMillis(20))
                .until(() -> tryAcquire(next, 1), lease -> lease != null);
        long acquiredAt = System.nanoTime();
        assertThat(acquiredAt).as("only after the row expired by the DB clock").isGreaterThanOrEqualTo(expiry[0] - MS);
        assertThat(recycled.workerId()).isZero();
        assertThat(recycled.lastTimestamp()).as("the previous holder's high-water mark").isEqualTo(12_345);

        assertThat(lost.await(2, TimeUnit.SECONDS)).as("the cut-off holder was told").isTrue();
        assertThat(lostAt.get()).as("... no later than its row expired").isLessThanOrEqualTo(expiry[1]);
        assertThat(old.isValid()).isFalse();
        assertThatThrownBy(() -> old.saveLastTimestamp(99_999)).isInstanceOf(WorkerLeaseLostException.class)
                .hasMessageContaining("lease deadline");
        assertThat(row(0).owner()).isEqualTo(owner(recycled));
    }

    @Test
    @DisplayName("renewal keeps a lease past its lease time")
    void renewalKeepsTheLeaseAlive() {
        WorkerIdAssigner assigner = assigner(b -> b.leaseTime(Duration.ofSeconds(1)));
        WorkerLease lease = assigner.acquire(1);
        WorkerIdAssigner other = assigner(b -> b.leaseTime(Duration.ofSeconds(1)));
        await().during(Duration.ofMillis(2500)).atMost(Duration.ofSeconds(4)).pollInterval(Duration.ofMillis(100))
                .until(() -> lease.isValid() && tryAcquire(other, 1) == null);
        assertThat(row(0).owner()).isEqualTo(owner(lease));
        assertThat(remainingMillis(0)).as("the DB-clock expiry keeps moving").isPositive();
    }

    // ---- loss -------------------------------------------------------------------------------------------

    @Test
    @DisplayName("a row taken behind the lease's back is reported lost at the next renewal; saveLastTimestamp then throws and changes nothing")
    void rowTakenBehindItsBackIsLost() throws Exception {
        WorkerIdAssigner assigner = assigner(b -> b.leaseTime(Duration.ofSeconds(3))); // renews every second
        WorkerLease lease = assigner.acquire(8);
        int id = lease.workerId();
        AtomicReference<String> listenerThread = new AtomicReference<>();
        AtomicInteger runs = new AtomicInteger();
        CountDownLatch told = new CountDownLatch(1);
        lease.onLost(() -> {
            throw new IllegalStateException("a listener that throws must not stop the others");
        });
        lease.onLost(() -> {
            listenerThread.set(Thread.currentThread().getName());
            runs.incrementAndGet();
            told.countDown();
        });

        assertThat(admin().update("UPDATE " + table + " SET owner = 'intruder', fencing_token = fencing_token + 1,"
                + " last_timestamp = 7 WHERE lock_name = ?", lockName(id))).isEqualTo(1);
        assertThat(told.await(2500, TimeUnit.MILLISECONDS)).as("the next renewal (within a second) reports it").isTrue();
        assertThat(listenerThread.get()).as("a library thread").startsWith("distkit-");
        assertThat(lease.isValid()).isFalse();
        assertThatThrownBy(() -> lease.saveLastTimestamp(999)).isInstanceOf(WorkerLeaseLostException.class)
                .hasMessageContaining("worker id " + id).hasMessageContaining("a renewal found the lock gone");
        Row taken = row(id);
        assertThat(taken).isEqualTo(new Row("intruder", 7));

        CountDownLatch late = new CountDownLatch(1);
        AtomicReference<String> lateThread = new AtomicReference<>();
        lease.onLost(() -> {
            lateThread.set(Thread.currentThread().getName());
            late.countDown();
        });
        assertThat(late.await(2, TimeUnit.SECONDS)).as("a listener registered after the loss runs at once").isTrue();
        assertThat(lateThread.get()).as("a library thread").startsWith("distkit-");
        lease.close();
        assertThat(row(id)).as("close touches the intruder's row no more than the renewals did").isEqualTo(taken);
        assertThat(runs.get()).as("once").isEqualTo(1);
    }

    @Test
    @DisplayName("saveLastTimestamp on a row taken behind the lease's back throws before any renewal noticed, and persists nothing")
    void saveOnATakenRowThrows() {
        WorkerLease lease = assigner(b -> b.leaseTime(Duration.ofSeconds(60))).acquire(8); // next renewal in 20 s
        int id = lease.workerId();
        // as a take by another holder does: a new owner, a higher fencing token
        admin().update("UPDATE " + table + " SET owner = 'intruder', fencing_token = fencing_token + 1"
                + " WHERE lock_name = ?", lockName(id));
        assertThat(lease.isValid()).as("not noticed yet").isTrue();
        assertThatThrownBy(() -> lease.saveLastTimestamp(5)).isInstanceOf(WorkerLeaseLostException.class);
        assertThat(lease.isValid()).isFalse();
        assertThat(row(id)).isEqualTo(new Row("intruder", 0));
    }

    @Test
    @DisplayName("closing a lease does not run its loss listeners")
    void closeIsNotALoss() {
        WorkerLease lease = assigner(b -> b.leaseTime(Duration.ofSeconds(1))).acquire(2);
        AtomicInteger runs = new AtomicInteger();
        lease.onLost(runs::incrementAndGet);
        lease.close();
        lease.onLost(runs::incrementAndGet);
        await().during(Duration.ofMillis(800)).atMost(Duration.ofSeconds(2)).until(() -> runs.get() == 0);
    }

    // ---- exhaustion and close ----------------------------------------------------------------------------

    @Test
    @DisplayName("a full range is an IdGenerationException naming the range and the live leases; a freed id is taken again")
    void fullRangeIsAnError() {
        WorkerIdAssigner first = assigner(b -> b);
        List<WorkerLease> leases = List.of(first.acquire(3), first.acquire(3), first.acquire(3));
        assertThat(leases).extracting(WorkerLease::workerId).containsExactly(0, 1, 2);
        WorkerIdAssigner second = assigner(b -> b);
        assertThatThrownBy(() -> second.acquire(3)).isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("[0, 3)").hasMessageContaining("3 live lease(s)").hasMessageContaining(table);
        assertThatThrownBy(() -> second.acquire(1)).isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("[0, 1)").hasMessageContaining("1 live lease(s)");
        assertThat(second.acquire(5).workerId()).as("a wider range has room").isEqualTo(3);

        leases.get(1).close();
        assertThat(second.acquire(3).workerId()).isEqualTo(1);
    }

    @Test
    @DisplayName("closing the assigner closes and releases its leases; it then refuses to acquire")
    void closingTheAssignerClosesItsLeases() {
        WorkerIdAssigner assigner = assigner(b -> b);
        List<WorkerLease> leases = List.of(assigner.acquire(8), assigner.acquire(8), assigner.acquire(8));
        AtomicInteger runs = new AtomicInteger();
        leases.forEach(lease -> lease.onLost(runs::incrementAndGet));
        assigner.close();
        assigner.close(); // idempotent
        for (WorkerLease lease : leases) {
            assertThat(lease.isValid()).isFalse();
            assertThat(row(lease.workerId()).owner()).isNull();
            assertThatThrownBy(() -> lease.saveLastTimestamp(1)).isInstanceOf(WorkerLeaseLostException.class)
                    .hasMessageContaining("closed");
            lease.close();
        }
        assertThatThrownBy(() -> assigner.acquire(8)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThat(runs.get()).isZero();
        assertThat(assigner(b -> b).acquire(8).workerId()).isZero();
    }

    // ---- support -----------------------------------------------------------------------------------------

    static List<WorkerLease> acquireConcurrently(Supplier<WorkerIdAssigner> newAssigner) throws Exception {
        return WorkerIdAssignerContract.acquireConcurrently(newAssigner);
    }

    /** Each lease as a producer of one id, for {@link IdChecks#distinct}. */
    static Map<String, long[]> byLease(List<WorkerLease> leases) {
        Map<String, long[]> ids = new LinkedHashMap<>();
        for (WorkerLease lease : leases) {
            ids.put(lease.toString(), new long[] {lease.workerId()});
        }
        return ids;
    }
}
