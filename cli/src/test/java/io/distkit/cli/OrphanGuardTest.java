package io.distkit.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatIOException;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OrphanGuardTest {

    private final List<String> said = new ArrayList<>();
    private final List<Process> started = new ArrayList<>();

    @TempDir
    Path dir;

    @AfterEach
    void killLeftovers() {
        for (Process p : started) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
    }

    @Test
    void closingAGuardThatWasToldTheGroupKillsTheCommandAndWhatItStarted() throws IOException {
        OrphanGuard guard = OrphanGuard.start(said::add);
        Process sh = start(guard, "sh", "-c", "sleep 60 & wait");
        ProcessHandle sleep = await().atMost(Duration.ofSeconds(10))
                .until(() -> sh.descendants().findFirst(), Optional::isPresent).orElseThrow();

        guard.close(); // as when distkit dies: the watchdog reads end of file

        await().atMost(Duration.ofSeconds(5)).until(() -> !LockCommand.running(sleep) && !sh.isAlive());
        assertThat(sh.exitValue()).isEqualTo(128 + 9);
        assertThat(said).isEmpty();
    }

    @Test
    void aDismissedGuardLeavesTheGroupAlone() throws IOException {
        OrphanGuard guard = OrphanGuard.start(said::add);
        ProcessHandle watchdog = guard.watchdog().orElseThrow();
        Process sleep = start(guard, "sleep", "60");

        guard.dismiss();
        guard.close(); // no second word: dismissed stays dismissed

        await().atMost(Duration.ofSeconds(5)).until(() -> !watchdog.isAlive());
        assertThat(sleep.isAlive()).isTrue();
    }

    @Test
    void theCommandIsItsOwnProcessGroup() throws IOException {
        OrphanGuard guard = OrphanGuard.start(said::add);
        Process sleep = start(guard, "sleep", "60");
        String[] fields = stat(sleep.pid(), "sleep");
        assertThat(Long.parseLong(fields[2])).as("pgrp").isEqualTo(sleep.pid());
        assertThat(Long.parseLong(fields[3])).as("session").isEqualTo(sleep.pid());
        guard.dismiss();
    }

    @Test
    void theWatchdogIsItsOwnProcessGroupOnceStarted() throws IOException {
        OrphanGuard guard = OrphanGuard.start(said::add);
        long watchdog = guard.watchdog().orElseThrow().pid();

        // no wait: start returned once the watchdog ran, so a kill of distkit's group can no longer reach it
        String[] fields = fields(Files.readString(Path.of("/proc", Long.toString(watchdog), "stat")));
        assertThat(Long.parseLong(fields[2])).as("pgrp").isEqualTo(watchdog);
        assertThat(Long.parseLong(fields[3])).as("session").isEqualTo(watchdog);
        assertThat(said).isEmpty();
        guard.dismiss();
    }

    @Test
    void aProgramThatCannotRunIsRefusedBeforeStarting() throws IOException {
        Path plain = Files.writeString(dir.resolve("plain"), "echo hi\n");

        assertThatIOException().isThrownBy(() -> OrphanGuard.checkRunnable("distkit-no-such-program"))
                .withMessage("not found on PATH");
        assertThatIOException().isThrownBy(() -> OrphanGuard.checkRunnable(plain.toString()))
                .withMessage("permission denied");
        assertThatIOException().isThrownBy(() -> OrphanGuard.checkRunnable(dir.toString()))
                .withMessage("is a directory");
        assertThatIOException().isThrownBy(() -> OrphanGuard.checkRunnable(dir + "/missing"))
                .withMessage("no such file or directory");
        assertThatCode(() -> OrphanGuard.checkRunnable("sh")).doesNotThrowAnyException();
    }

    /** The {@link #fields} of {@code /proc/<pid>/stat} once the process runs {@code name}. */
    private static String[] stat(long pid, String name) {
        String stat = await().atMost(Duration.ofSeconds(5))
                .until(() -> Files.readString(Path.of("/proc", Long.toString(pid), "stat")),
                        s -> s.contains("(" + name + ")"));
        return fields(stat);
    }

    /** "pid (comm) state ppid pgrp session ...": the fields from state on (comm may hold anything). */
    private static String[] fields(String stat) {
        return stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    }

    private Process start(OrphanGuard guard, String... command) throws IOException {
        Process process = new ProcessBuilder(guard.commandLine(List.of(command))).start();
        started.add(process);
        guard.guard(process.pid());
        return process;
    }
}
