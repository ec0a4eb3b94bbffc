package io.distkit.testkit.process;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.lock.LockLostException;
import io.distkit.testkit.history.FencedRegister;
import io.distkit.testkit.history.History;
import io.distkit.testkit.history.Op;
import io.distkit.testkit.process.LockHolderProcess.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The holder protocol against {@link MemTestLockClientProvider}, whose in-memory server lives in
 * the child: acquire, busy, status, release, loss after a pause past the lease, history lines.
 * Exclusion between processes needs a shared backend and is tested with the first real one.
 */
@Timeout(120)
class LockHolderProcessTest {

    private static final Duration LEASE = Duration.ofSeconds(1);

    @Test
    @DisplayName("acquire, busy, status, release and the history each answer as the protocol says")
    void protocolRoundTrip() {
        try (LockHolderProcess holder = LockHolderProcess.builder("memtest://local?taken=busy-lock")
                .processName("holder-a").start()) {
            assertThat(holder.status()).isEqualTo(new Status(Op.NONE, false));
            assertThat(holder.acquire("busy-lock", Duration.ofMillis(50))).isEmpty();

            long token = holder.acquire("my lock", Duration.ZERO).orElseThrow();
            assertThat(holder.status()).isEqualTo(new Status(token, true));
            assertThatThrownBy(() -> holder.acquire("other", Duration.ZERO))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("already holding 'my lock'");

            holder.release();
            assertThat(holder.status()).isEqualTo(new Status(token, false));

            History history = holder.history();
            assertThat(history.calls()).extracting(c -> c.invoke().type() + " " + c.invoke().lock() + " " + c.isOk())
                    .as("a command refused by the holder itself is no operation")
                    .containsExactly("ACQUIRE busy-lock false", "ACQUIRE my lock true", "RELEASE my lock true");
            assertThat(history.ops()).allMatch(op -> op.process().equals("holder-a"));
        }
    }

    @Test
    @DisplayName("paused past its lease, a holder answers only after resuming, then reports the loss and is fenced off")
    void pausedPastLease() throws Exception {
        try (LockHolderProcess holder = LockHolderProcess.builder("memtest://local")
                .leaseTime(LEASE).processName("holder-p").start()) {
            long token = holder.acquire("job", Duration.ZERO).orElseThrow();
            FencedRegister register = new FencedRegister();
            assertThat(holder.write(register, 1)).isTrue();

            holder.pause();
            CompletableFuture<Status> answer = holder.statusAsync();
            // unanswered while stopped; this wait is the pause itself and outlasts the lease (renewals
            // stand still). A plain bounded get, not a polling "during", so load cannot stretch it.
            assertThatThrownBy(() -> answer.get(LEASE.plusMillis(300).toMillis(), TimeUnit.MILLISECONDS))
                    .isInstanceOf(java.util.concurrent.TimeoutException.class);
            register.write("contender", token + 1, 2); // what a contender would have done meanwhile
            holder.resume();

            assertThat(answer.get(30, TimeUnit.SECONDS).token()).isEqualTo(token);
            assertThat(holder.awaitLost(Duration.ofSeconds(10))).isEqualTo(token);
            assertThat(holder.status()).isEqualTo(new Status(token, false));
            assertThat(holder.write(register, 3)).as("stale write refused by token").isFalse();
            assertThat(register.read()).isEqualTo(2);
            assertThatThrownBy(holder::release).isInstanceOf(LockLostException.class)
                    .hasMessageContaining("job").hasMessageContaining("holder-p");
            assertThat(holder.history().ops()).filteredOn(op -> op.type() == Op.Type.LOST)
                    .extracting(Op::token).containsExactly(token);
        }
    }

    @Test
    @DisplayName("a killed holder fails its pending command at once; exit releases and ends the process")
    void killAndExit() {
        try (LockHolderProcess holder = LockHolderProcess.builder("memtest://local").start()) {
            holder.acquire("k", Duration.ZERO).orElseThrow();
            holder.pause();
            CompletableFuture<Status> pending = holder.statusAsync();
            holder.kill();
            assertThat(holder.isAlive()).isFalse();
            assertThat(pending).failsWithin(Duration.ofSeconds(10)).withThrowableThat()
                    .withMessageContaining("exited with code 137");
        }
        try (LockHolderProcess holder = LockHolderProcess.builder("memtest://local").start()) {
            holder.acquire("k", Duration.ZERO).orElseThrow();
            assertThat(holder.exit()).isZero();
            assertThat(holder.isAlive()).isFalse();
            assertThat(holder.history().calls()).extracting(c -> c.invoke().type()).isEqualTo(List.of(Op.Type.ACQUIRE));
        }
    }

    @Test
    @DisplayName("a holder that cannot connect fails at start with its stderr")
    void unknownScheme() {
        assertThatThrownBy(() -> LockHolderProcess.builder("nosuch://x").start())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("exited with code 1")
                .hasMessageContaining("memtest");
    }
}
