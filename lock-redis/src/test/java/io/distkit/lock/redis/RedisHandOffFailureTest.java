package io.distkit.lock.redis;

import static io.distkit.lock.redis.FailureSupport.calls;
import static io.distkit.lock.redis.FailureSupport.commandCounts;
import static io.distkit.lock.redis.FailureSupport.difference;
import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.lock.redis.internal.LockKeys;
import io.distkit.testkit.Closer;
import io.distkit.testkit.server.RedisServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.LongSupplier;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What a hand-off costs the server under contention (issue 4): 16 waiters on one lock, each release
 * handing it to the next, Redis commands counted per hand-off with {@code INFO commandstats} (script
 * calls are {@code EVALSHA}/{@code EVAL}; "all commands" adds the commands the scripts run and the
 * {@code PUBLISH}). Part of the failure suite because a thundering herd is a failure under load.
 *
 * <p><b>What is flat.</b> Within one client, a release wakes exactly one waiter: a hand-off is the
 * release script plus one acquire script, 2 script calls and 9 commands in all (release: {@code EVALSHA},
 * {@code GET}, {@code DEL}, {@code PUBLISH}; acquire: {@code EVALSHA}, {@code SET NX}, {@code TIME},
 * {@code INCR}, {@code SET} of the fence), whether 16 waiters wait or 1. The client holds one
 * subscription for all its waiters; the hand-off to its last waiter also sends its {@code UNSUBSCRIBE}.
 *
 * <p><b>What is not.</b> Across clients, every client with a waiter is subscribed and gets the release
 * message, and each wakes one of its own waiters: a hand-off costs 1 + (clients with waiters) script
 * calls, all but one of them busy attempts ({@code EVALSHA}, {@code SET NX}, {@code GET}, {@code PTTL}).
 * With 4 clients × 4 waiters that is 5 script calls (21 commands) while every client still has a
 * waiter, fewer as clients run out. It grows with the number of waiting <em>clients</em>, never with the
 * number of waiters in them. Joining costs each waiter 2 attempts once (one before subscribing, one
 * after), which is not part of a hand-off.
 *
 * <p>Leases are 30 s without renewal here, so that neither renewals nor timed retries (at the holder's
 * remaining TTL) fall into a counted window; the server is this class's own.
 */
@Timeout(60)
class RedisHandOffFailureTest {

    private static final int WAITERS = 16;
    private static final LockOptions NO_BACKGROUND_TRAFFIC = LockOptions.builder().leaseTime(Duration.ofSeconds(30))
            .autoRenew(false).build();

    @RegisterExtension
    static RedisServer redis = RedisServer.builder().build();

    private final Closer toClose = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    @Test
    @DisplayName("16 waiters in one client: every hand-off costs 2 script calls, from 16 waiters down to 1")
    void oneClientWakesOneWaiterPerRelease() throws Exception {
        List<HandOff> handOffs = handOffs(1, WAITERS);
        assertThat(handOffs).as("release + one woken attempt, however many wait").allMatch(h -> h.scriptCalls == 2);
        Map<String, Long> first = handOffs.get(0).commands;
        assertThat(handOffs.subList(0, WAITERS - 1)).as("every command, not only scripts: the same for each hand-off")
                .allMatch(h -> h.commands.equals(first));
        Map<String, Long> last = new java.util.TreeMap<>(handOffs.get(WAITERS - 1).commands);
        assertThat(last.remove("unsubscribe")).as("the last waiter leaving unsubscribes the client").isEqualTo(1L);
        assertThat(last).isEqualTo(first);
    }

    @Test
    @DisplayName("16 waiters in 4 clients x 4: a hand-off costs 1 + (clients with waiters) script calls, at most 5")
    void eachWaitingClientGetsTheReleaseMessage() throws Exception {
        List<HandOff> handOffs = handOffs(4, WAITERS / 4);
        assertThat(handOffs).as("one attempt per waiting client").allMatch(h -> h.scriptCalls == 1 + h.clientsWaiting);
        assertThat(handOffs.get(0).scriptCalls).isEqualTo(5);
        assertThat(handOffs).allMatch(h -> h.scriptCalls <= 5);
    }

    /**
     * One counted hand-off: how many waited (in how many clients) when it began, and what it cost: script
     * calls, and every command by name.
     */
    private record HandOff(int number, int waiting, int clientsWaiting, long scriptCalls, Map<String, Long> commands) {
        long allCommands() {
            return commands.values().stream().mapToLong(Long::longValue).sum();
        }
    }

    private record Waiter(int client, CompletableFuture<LockHandle> handle) {}

    private List<HandOff> handOffs(int clients, int perClient) throws Exception {
        String prefix = FailureSupport.freshPrefix();
        String channel = LockKeys.of(prefix, "handoff").channel();
        LockClient holderClient = client(prefix);
        List<LockClient> waiterClients = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            waiterClients.add(client(prefix));
        }
        holderClient.lock("warm-up").acquire().release(); // scripts cached: no NOSCRIPT + EVAL in a counted window
        LockHandle current = holderClient.lock("handoff").acquire();

        long joinStart = scriptCalls();
        List<Waiter> waiters = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            for (int i = 0; i < perClient; i++) {
                waiters.add(new Waiter(c, waiterClients.get(c).lock("handoff").acquireAsync(Duration.ofSeconds(50))));
            }
        }
        int total = clients * perClient;
        awaitSteady("script calls of joining", () -> scriptCalls() - joinStart, 2L * total); // each: one attempt, one more once subscribed
        assertThat(numsub(channel)).as("one subscription per client").isEqualTo(clients);

        List<HandOff> handOffs = new ArrayList<>();
        Set<Waiter> served = new HashSet<>();
        for (int number = 1; number <= total; number++) {
            int waiting = total - served.size();
            int clientsWaiting = (int) waiters.stream().filter(w -> !served.contains(w)).map(Waiter::client).distinct()
                    .count();
            long scriptsBefore = scriptCalls();
            Map<String, Long> commandsBefore = commandCounts(redis);
            long previousToken = current.fencingToken();
            current.release();
            int expectedDone = served.size() + 1;
            awaitSteady("waiters served", () -> done(waiters), expectedDone);
            awaitSteady("script calls of hand-off " + number, () -> scriptCalls() - scriptsBefore, 1 + clientsWaiting);
            HandOff handOff = new HandOff(number, waiting, clientsWaiting, scriptCalls() - scriptsBefore,
                    difference(commandsBefore, commandCounts(redis)));
            handOffs.add(handOff);
            Waiter next = waiters.stream().filter(w -> !served.contains(w) && w.handle().isDone()).findFirst().orElseThrow();
            served.add(next);
            current = next.handle().join();
            assertThat(current.isHeld()).isTrue();
            assertThat(current.fencingToken()).isGreaterThan(previousToken);
        }
        current.release();
        Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> numsub(channel) == 0); // nobody left waiting

        System.out.println("hand-offs, " + clients + " client(s) x " + perClient + " waiters"
                + " (hand-off, waiting, clients waiting, script calls, all commands, by command):");
        handOffs.forEach(h -> System.out.println("  " + h.number + "\t" + h.waiting + "\t" + h.clientsWaiting + "\t"
                + h.scriptCalls + "\t" + h.allCommands() + "\t" + h.commands));
        return handOffs;
    }

    private LockClient client(String prefix) {
        LockClient client = RedisLockClient.builder(redis.uri()).keyPrefix(prefix).defaultOptions(NO_BACKGROUND_TRAFFIC)
                .build();
        toClose.add(client);
        return client;
    }

    /**
     * Waits until {@code value} reaches {@code expected} and then stays put for 150 ms (a late extra
     * attempt, a second waiter woken, would show within that window), then asserts it is exactly
     * {@code expected}; a wait that runs out is reported by that assertion with the value seen.
     */
    private static void awaitSteady(String what, LongSupplier value, long expected) {
        try {
            Awaitility.await().pollInterval(Duration.ofMillis(5)).atMost(Duration.ofSeconds(5))
                    .until(() -> value.getAsLong() >= expected);
            long reached = value.getAsLong();
            Awaitility.await().pollInterval(Duration.ofMillis(5)).during(Duration.ofMillis(150))
                    .atMost(Duration.ofSeconds(5)).until(() -> value.getAsLong() == reached);
        } catch (ConditionTimeoutException e) {
            // reported below, with the value
        }
        assertThat(value.getAsLong()).as(what).isEqualTo(expected);
    }

    private static long done(List<Waiter> waiters) {
        return waiters.stream().filter(w -> w.handle().isDone()).count();
    }

    private static long scriptCalls() {
        return calls(redis, "evalsha") + calls(redis, "eval");
    }

    private static long numsub(String channel) {
        return (Long) ((List<?>) redis.call("PUBSUB", "NUMSUB", channel)).get(1);
    }
}
