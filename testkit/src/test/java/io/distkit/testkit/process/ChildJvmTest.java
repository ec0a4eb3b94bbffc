package io.distkit.testkit.process;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.distkit.testkit.server.RedisServer;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A child JVM against a real redis-server: it runs, SIGSTOP freezes it, SIGCONT thaws it, SIGKILL ends it. */
@Timeout(120)
class ChildJvmTest {

    private static final Duration START = Duration.ofSeconds(60);
    /** Several touch periods: long enough that a running child certainly touches the key meanwhile. */
    private static final Duration STILL = Duration.ofMillis(600);

    @RegisterExtension
    static RedisServer redis = RedisServer.builder().build();

    @Test
    @DisplayName("a paused child stops touching the key, a resumed one touches it again, a killed one is gone")
    void pauseResumeKill() {
        String key = "touch-" + System.nanoTime();
        try (ChildJvm child = ChildJvm.builder(RedisTouchMain.class)
                .args(redis.host(), Integer.toString(redis.port()), key).name("toucher").start()) {
            child.awaitLine(l -> l.startsWith("touched "), START);
            assertChanges(key);

            child.pause();
            assertThat(child.isPaused()).isTrue();
            assertThat(threadStates(child.pid())).as("pause() returns only once every thread has stopped")
                    .isNotEmpty().allMatch(state -> state == 'T' || state == 't');
            assertStill(key);

            child.resume();
            assertChanges(key);

            long pid = child.pid();
            child.kill();
            assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).isNotEqualTo(Optional.of(true));
            assertThat(child.isAlive()).isFalse();
            assertThat(child.exitCode()).hasValue(137); // 128 + SIGKILL
            assertStill(key);
            assertThatThrownBy(() -> child.awaitLine(l -> l.equals("never printed"), START))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("exited with code 137");
        }
    }

    @Test
    @DisplayName("lines are handed out in order, each to one waiter, and wanted lines are not lost to noise")
    void linesPairInOrder() {
        String key = "order-" + System.nanoTime();
        try (ChildJvm child = ChildJvm.builder(RedisTouchMain.class)
                .args(redis.host(), Integer.toString(redis.port()), key).start()) {
            assertThat(child.awaitLine(l -> l.startsWith("touched "), START)).isEqualTo("touched 1");
            assertThat(child.awaitLine(l -> l.startsWith("touched "), START)).isEqualTo("touched 2");
            assertThat(child.awaitLine(l -> l.equals("touched 5"), START)).isEqualTo("touched 5");
            assertThat(child.awaitLine(l -> l.startsWith("touched "), START)).isEqualTo("touched 3"); // skipped, still there
        }
    }

    @Test
    @DisplayName("a child that exits early fails the wait at once, with its exit code and stderr")
    void earlyExitFailsAtOnce() {
        try (ChildJvm child = ChildJvm.builder(RedisTouchMain.class).args("no-port").start()) {
            long started = System.nanoTime();
            assertThatThrownBy(() -> child.awaitLine(l -> true, Duration.ofMinutes(10)))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("exited with code 2")
                    .hasMessageContaining("usage: RedisTouchMain");
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(START);
            assertThatThrownBy(() -> child.send("anything")).isInstanceOf(IllegalStateException.class);
        }
    }

    private static java.util.List<Character> threadStates(long pid) {
        try (java.util.stream.Stream<java.nio.file.Path> tasks = java.nio.file.Files.list(
                java.nio.file.Path.of("/proc", Long.toString(pid), "task"))) {
            return tasks.map(task -> {
                try {
                    String stat = java.nio.file.Files.readString(task.resolve("stat"));
                    return stat.charAt(stat.lastIndexOf(')') + 2);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).toList();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static void assertChanges(String key) {
        String before = get(key);
        await("key " + key + " changes").atMost(Duration.ofSeconds(10))
                .until(() -> !Objects.equals(get(key), before));
    }

    private static void assertStill(String key) {
        String frozen = get(key);
        await("key " + key + " stays " + frozen).during(STILL).atMost(STILL.plusSeconds(5))
                .until(() -> Objects.equals(get(key), frozen));
    }

    private static String get(String key) {
        return (String) redis.call("GET", key);
    }
}
