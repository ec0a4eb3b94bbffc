package io.distkit.lock.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.lock.LockBackendException;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockLostException;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.Closer;
import io.distkit.testkit.history.CheckResult;
import io.distkit.testkit.history.Checkers;
import io.distkit.testkit.history.FencedRegister;
import io.distkit.testkit.process.LockHolderProcess;
import io.distkit.testkit.server.FaultProxy;
import io.distkit.testkit.server.FaultProxy.Direction;
import io.distkit.testkit.server.Pools;
import io.distkit.testkit.server.PostgresServer;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * Scenarios of docs/failures.md for the JDBC lock on PostgreSQL where the fault is at a holder or between a
 * holder and the database: F1 (holder paused past its lease), F4 (holder cut off), F13 (ambiguous
 * acquire) and F14 (stale release and renewal). Server crashes (F17) are in {@code JdbcServerFailureTest},
 * client clock skew (F18) in {@code JdbcClockSkewFailureTest}.
 *
 * <p>Server-side expiry is read from the row by the database clock ({@link #expiry}), bounded in this
 * JVM's {@link System#nanoTime()}. Negative controls run the same checks where they could pass
 * vacuously: an unfenced register (F1), owner-blind statements (F14).
 */
@Timeout(90)
class JdbcLockFailureTest {

    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

    @RegisterExtension
    static PostgresServer postgres = PostgresServer.builder().build();

    @RegisterExtension
    final FaultProxy proxy = FaultProxy.builder().target(postgres.host(), postgres.port()).build();

    private final Closer toClose = new Closer();
    private @Nullable JdbcTemplate admin;

    @AfterEach
    void closeAll() throws Exception {
        proxy.heal(); // first: a client still cut off would wait for its releases to time out
        toClose.close();
    }

    // ---- F1 ----------------------------------------------------------------------------------------------

    @Test
    @DisplayName("F1: a holder paused past its lease is replaced only after DB-clock expiry; resumed, it is fenced off, told lost, and its release touches nothing")
    void pausedHolderIsReplacedAfterExpiryAndFencedOff() throws Exception {
        Duration lease = Duration.ofSeconds(2);
        String name = "f1-" + UUID.randomUUID();
        LockClient contenderClient = client(direct(), lease(Duration.ofSeconds(10), false));
        FencedRegister register = new FencedRegister();
        FencedRegister unfenced = FencedRegister.unfenced(); // negative control: the same writes, no fencing

        try (LockHolderProcess holder = LockHolderProcess.builder(URI.create(urlWithCredentials()))
                .leaseTime(lease).processName("holder").start()) {
            long holderToken = holder.acquire(name, Duration.ZERO).orElseThrow();
            assertThat(holder.write(register, 1)).isTrue();
            unfenced.write(holder.processName(), holderToken, 1);

            holder.pause();
            long pausedAt = System.nanoTime();
            assertThat(contenderClient.lock(name).tryAcquire()).as("not before expiry: the paused holder's lease runs")
                    .isEmpty();
            long[] expiry = expiry(name);
            LockHandle contender = contenderClient.lock(name).tryAcquire(lease.plusSeconds(3)).orElseThrow();
            long acquiredAt = System.nanoTime();
            assertThat(acquiredAt).as("the contender gets the lock only after the row expired by the DB clock")
                    .isGreaterThanOrEqualTo(expiry[0] - MS);
            assertThat(contender.fencingToken()).isGreaterThan(holderToken);
            assertThat(register.write("contender", contender.fencingToken(), 2)).isTrue();
            unfenced.write("contender", contender.fencingToken(), 2);
            Row taken = row(name);

            // the fault itself: the pause lasts the lease plus half a second
            TimeUnit.NANOSECONDS.sleep(Math.max(0, pausedAt + lease.plusMillis(500).toNanos() - System.nanoTime()));
            holder.resume();

            assertThat(holder.awaitLost(Duration.ofSeconds(5))).as("the resumed holder is told").isEqualTo(holderToken);
            assertThat(holder.status().held()).isFalse();
            assertThat(holder.write(register, 3)).as("the resumed holder's write is refused by token").isFalse();
            assertThat(unfenced.write(holder.processName(), holderToken, 3)).as("control: unfenced, it is accepted")
                    .isTrue();
            assertThatThrownBy(holder::release).isInstanceOf(LockLostException.class).hasMessageContaining(name);

            assertThat(row(name)).as("the contender's row, token and expiry untouched").isEqualTo(taken);
            assertThat(contender.isHeld()).isTrue();
            assertThat(register.read()).isEqualTo(2);
            Checkers.fencedResource(register).assertValid();
            CheckResult control = Checkers.fencedResource(unfenced);
            assertThat(control.violations()).as("the checker flags the unfenced register")
                    .anyMatch(v -> v.contains("stale token accepted"));
            contender.release();
        }
    }

    // ---- F4 ----------------------------------------------------------------------------------------------

    @Test
    @DisplayName("F4: a holder cut off declares the loss at its local deadline, before the row expires; the contender gets the lock only after the DB-clock expiry; no resurrection after healing")
    void cutOffHolderGivesUpBeforeTheServerDoes() throws Exception {
        Duration lease = Duration.ofSeconds(2);
        String name = "f4-" + UUID.randomUUID();
        LockClient holderClient = client(viaProxy(1), lease(lease, true));
        LockClient contenderClient = client(direct(), lease(Duration.ofSeconds(10), false));
        LockHandle holder = holderClient.lock(name).acquire();
        AtomicLong lostAt = new AtomicLong();
        CountDownLatch lost = new CountDownLatch(1);
        holder.onLost(() -> {
            lostAt.set(System.nanoTime());
            lost.countDown();
        });

        proxy.blackHole();
        assertThat(lost.await(lease.plusSeconds(2).toMillis(), TimeUnit.MILLISECONDS)).as("told within the lease")
                .isTrue();
        long[] expiry = expiry(name); // the cut-off holder cannot renew any more: this is the final expiry
        assertThat(lostAt.get()).as("the holder gives up no later than the row expires").isLessThanOrEqualTo(expiry[1]);

        LockHandle contender = contenderClient.lock(name).tryAcquire(lease.plusSeconds(3)).orElseThrow();
        assertThat(System.nanoTime()).as("the contender only after the row's expiry").isGreaterThanOrEqualTo(expiry[0] - MS);
        assertThat(contender.fencingToken()).isGreaterThan(holder.fencingToken());
        Row taken = row(name);

        proxy.heal();
        await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(3))
                .until(() -> !holder.isHeld() && taken.equals(row(name)));
        assertThatThrownBy(holder::release).isInstanceOf(LockLostException.class);
        assertThat(row(name)).isEqualTo(taken);
        contender.release();
    }

    // ---- F13 ---------------------------------------------------------------------------------------------

    @Test
    @DisplayName("F13: an acquire applied whose reply is lost: the caller does not enter and the lock is given back by owner value")
    void lostAcquireReplyIsGivenBack() throws Exception {
        String name = "f13-" + UUID.randomUUID();
        LockClient holderClient = client(viaProxy(2), lease(Duration.ofSeconds(30), true));
        holderClient.lock("f13-warm-up").tryAcquire().orElseThrow().release(); // a pooled connection through the proxy

        proxy.dropNextReply();
        CompletableFuture<LockHandle> acquiring = holderClient.lock(name).acquireAsync(Duration.ofSeconds(20));
        await().atMost(Duration.ofSeconds(3)).until(() -> proxy.chunksDropped(Direction.SERVER_TO_CLIENT) == 1
                && row(name) != null && row(name).owner() != null);
        long appliedToken = row(name).token();

        assertThatThrownBy(() -> acquiring.get(15, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(LockBackendException.class).hasMessageContaining(name);
        await().atMost(Duration.ofSeconds(10)).until(() -> row(name).owner() == null);
        assertThat(row(name).token()).as("given back, not taken again").isEqualTo(appliedToken);

        LockHandle next = client(direct(), lease(Duration.ofSeconds(10), false)).lock(name).tryAcquire().orElseThrow();
        assertThat(next.fencingToken()).isGreaterThan(appliedToken);
        next.release();
    }

    @Test
    @DisplayName("F4/F13: a connection gone silent ends a blocking acquire and a release within the network bound, though the pool sets no socket timeout")
    void silentConnectionEndsBlockingCallsInBoundedTime() throws Exception {
        String name = "silent-" + UUID.randomUUID();
        HikariDataSource pool = toClose.add(Pools.hikari(
                "jdbc:postgresql://" + proxy.host() + ":" + proxy.port() + "/" + postgres.database(),
                postgres.user(), postgres.password())); // no socketTimeout: the driver would wait for TCP
        LockClient client = toClose.add(JdbcLockClient.builder(pool).createTableIfMissing().commandTimeout(Duration.ofSeconds(1))
                .defaultOptions(lease(Duration.ofSeconds(30), false)).build());
        LockHandle held = client.lock(name).tryAcquire().orElseThrow();
        Duration bound = Duration.ofSeconds(1 + 1).plusSeconds(2); // the network bound, plus slack

        proxy.blackHole();
        long start = System.nanoTime();
        assertThatThrownBy(held::release).isInstanceOf(LockBackendException.class).hasMessageContaining(name)
                .hasRootCauseInstanceOf(java.net.SocketTimeoutException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(bound);

        start = System.nanoTime();
        assertThatThrownBy(() -> client.lock(name + "-other").tryAcquire(Duration.ofMillis(200)))
                .isInstanceOf(LockBackendException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("Hikari's own borrow timeout (5 s) may come first")
                .isLessThan(bound.plusSeconds(5));
    }

    // ---- F14 ---------------------------------------------------------------------------------------------

    @Test
    @DisplayName("F14: a stale renewal after ownership loss reports the loss and leaves the new holder's row alone")
    void staleRenewalIsRefused() throws Exception {
        String name = "f14-renew-" + UUID.randomUUID();
        LockClient staleClient = client(direct(), lease(Duration.ofSeconds(3), true)); // renews every second
        LockClient currentClient = client(direct(), lease(Duration.ofSeconds(60), false));
        LockHandle stale = staleClient.lock(name).acquire();
        CountDownLatch told = new CountDownLatch(1);
        stale.onLost(told::countDown);

        expireBehindTheHoldersBack(name); // a pause, an operator, a failover: the holder did not notice
        LockHandle current = currentClient.lock(name).tryAcquire().orElseThrow();
        Row taken = row(name);

        assertThat(told.await(5, TimeUnit.SECONDS)).as("the next renewal is refused and reported").isTrue();
        assertThat(row(name)).as("the refused renewal changed nothing").isEqualTo(taken);
        assertThatThrownBy(stale::release).isInstanceOf(LockLostException.class);
        assertThat(row(name)).isEqualTo(taken);
        assertThat(current.isHeld()).isTrue();

        // negative control: an owner-blind renewal would have moved the new holder's expiry
        admin().update("UPDATE distkit_lock SET expires_at = clock_timestamp() + INTERVAL '5 seconds' WHERE lock_name = ?",
                name);
        assertThat(row(name)).as("control: the row comparison sees an owner-blind renewal").isNotEqualTo(taken);
        current.release();
    }

    @Test
    @DisplayName("F14: a stale release from a holder that has not noticed its loss frees nothing")
    void staleReleaseIsRefused() throws Exception {
        String name = "f14-release-" + UUID.randomUUID();
        LockClient staleClient = client(direct(), lease(Duration.ofSeconds(60), true)); // next renewal in 20 s
        LockClient currentClient = client(direct(), lease(Duration.ofSeconds(60), false));
        LockHandle stale = staleClient.lock(name).acquire();

        expireBehindTheHoldersBack(name);
        LockHandle current = currentClient.lock(name).tryAcquire().orElseThrow();
        Row taken = row(name);
        assertThat(stale.isHeld()).as("the stale holder has not noticed").isTrue();

        assertThatThrownBy(stale::release).as("the database refuses the stale owner value")
                .isInstanceOf(LockLostException.class).hasMessageContaining(name);
        assertThat(row(name)).isEqualTo(taken);
        assertThat(staleClient.lock(name).tryAcquire()).as("still held by the new holder").isEmpty();

        // negative control: an owner-blind release would have freed the new holder's lock
        admin().update("UPDATE distkit_lock SET owner = NULL WHERE lock_name = ?", name);
        assertThat(row(name).owner()).as("control: the owner-blind release frees it").isNull();
        assertThat(current.fencingToken()).isGreaterThan(stale.fencingToken());
        assertThat(current.isHeld()).as("locally still held: the control went behind its back").isTrue();
    }

    // ---- support -----------------------------------------------------------------------------------------

    /** One lock row as the database has it; {@code expiresAt} as text, exact to the microsecond. */
    record Row(@Nullable String owner, long token, String expiresAt) {}

    private @Nullable Row row(String name) {
        List<Row> rows = admin().query("SELECT owner, fencing_token, CAST(expires_at AS TEXT) FROM distkit_lock"
                + " WHERE lock_name = ?", (rs, i) -> new Row(rs.getString(1), rs.getLong(2), rs.getString(3)), name);
        return rows.isEmpty() ? null : rows.get(0);
    }

    /**
     * The row's expiry by the DB clock, as a {@link System#nanoTime()} interval {@code [lower, upper]}:
     * the remaining time read between two readings of the local clock.
     */
    private long[] expiry(String name) {
        long before = System.nanoTime();
        double remainingMillis = admin().queryForObject("SELECT EXTRACT(EPOCH FROM (expires_at - clock_timestamp()))"
                + " * 1000 FROM distkit_lock WHERE lock_name = ?", Double.class, name);
        long after = System.nanoTime();
        long remaining = (long) (remainingMillis * MS);
        return new long[] {before + remaining, after + remaining};
    }

    private void expireBehindTheHoldersBack(String name) {
        assertThat(admin().update("UPDATE distkit_lock SET expires_at = clock_timestamp() - INTERVAL '1 second'"
                + " WHERE lock_name = ?", name)).isEqualTo(1);
    }

    private JdbcTemplate admin() {
        if (admin == null) {
            admin = new JdbcTemplate(direct());
        }
        return admin;
    }

    private HikariDataSource direct() {
        return toClose.add(Pools.hikari(postgres));
    }

    /** A pool whose connections go through the proxy; a silent connection fails after {@code socketTimeoutSeconds}. */
    private HikariDataSource viaProxy(int socketTimeoutSeconds) {
        Properties properties = new Properties();
        properties.setProperty("socketTimeout", Integer.toString(socketTimeoutSeconds));
        properties.setProperty("connectTimeout", "2");
        String url = "jdbc:postgresql://" + proxy.host() + ":" + proxy.port() + "/" + postgres.database();
        return toClose.add(Pools.hikari(url, postgres.user(), postgres.password(), properties));
    }

    private String urlWithCredentials() {
        client(direct(), LockOptions.defaults()); // the child's provider expects the table to exist
        return postgres.jdbcUrl() + "?user=" + postgres.user() + "&password=" + postgres.password();
    }

    private LockClient client(HikariDataSource pool, LockOptions defaults) {
        return toClose.add(JdbcLockClient.builder(pool).createTableIfMissing().commandTimeout(Duration.ofSeconds(2))
                .defaultOptions(defaults).build());
    }

    private static LockOptions lease(Duration lease, boolean autoRenew) {
        return LockOptions.builder().leaseTime(lease).autoRenew(autoRenew).build();
    }
}
