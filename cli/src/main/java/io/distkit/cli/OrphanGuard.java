package io.distkit.cli;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * Keeps the command of {@code distkit lock} from outliving distkit, however distkit ends: SIGKILL and the
 * OOM killer included, where no shutdown hook runs.
 *
 * <p>The command runs in a process group (and session) of its own, and beside it runs a watchdog, a
 * {@code /bin/sh} whose standard input is a pipe from distkit. The watchdog blocks reading it; end of
 * file (distkit exited, whatever killed it: the kernel closes the pipe) makes it SIGKILL the command and
 * its whole group at once. distkit tells it the group first and, when the command has ended normally,
 * to exit without killing.
 *
 * <p>Why so: Java cannot set {@code PR_SET_PDEATHSIG} on a child, and that would reach only the direct
 * child, not what the command starts; after distkit's death nobody knows the command's descendants any
 * more (they are re-parented), but a process group can still be signalled as one, atomically, by any
 * process of the same user. SIGKILL and not SIGTERM first: with distkit gone nobody renews the lease or
 * knows how much of it is left, and a command that ignores SIGTERM must not outlive it. The watchdog
 * ignores HUP, INT, QUIT and TERM: without setsid it stays in distkit's group, and a Ctrl-C or a
 * {@code kill} sent to that group must not take the guard away while distkit stops the command
 * gracefully.
 *
 * <p>The group is made by {@code setsid(1)} (util-linux, in every Debian and Red Hat base system;
 * BusyBox has it too): a child of the JVM is never a group leader, so setsid calls {@code setsid(2)} and
 * execs the command in the same process, and the pid Java knows is the command's, its group's and its
 * session's. A new session, not only a new group, because that is what a command can make of itself
 * without job control ({@code sh -c 'set -m'} needs a terminal in dash, and a background group of the
 * terminal's session would be stopped by SIGTTIN when it reads the terminal). The cost, documented in
 * {@code --help}: the command has no controlling terminal. It still reads and writes the terminal
 * through the standard streams it inherits, but cannot open {@code /dev/tty}, and Ctrl-C, Ctrl-Z and a
 * hangup reach only distkit (Ctrl-C and a hangup stop the command through distkit, SIGTERM then
 * SIGKILL; Ctrl-Z stops distkit, not the command, like any pause of distkit).
 *
 * <p>The watchdog too leads a session (and so a process group) of its own, by the same setsid, and the
 * command is started only once it runs there (it says so on its standard output). Left in distkit's
 * group it would die with distkit whenever that group is killed as one, as jobs commonly are: a shell's
 * {@code kill -9 %1}, {@code timeout -s KILL}, a CI runner or systemd ending the job. distkit and its
 * guard would go together, and the command, in a session of its own, would run on orphaned while
 * another distkit takes the lock. Its standard input is still the pipe from distkit, so end of file
 * still comes however distkit ends.
 *
 * <p>Not covered: what the command moves out of its group itself (a daemon that calls {@code setsid});
 * and a distkit killed between starting the command and writing its pid to the watchdog, one pipe
 * write later. Without {@code setsid} the watchdog kills the command only, not its descendants, and
 * distkit says so; command and watchdog then share distkit's group, and die with it when it is killed as
 * one.
 */
final class OrphanGuard implements AutoCloseable {

    /** What the watchdog writes, on its own line, once it runs. */
    static final String READY = "ready";
    /**
     * The watchdog: says it is running (so in its session, setsid having made it before the shell
     * started), reads the group, then waits. {@code exit} means the command ended and the rest of
     * its group may run on (as after flock(1)); end of file, now or before the group, means distkit is
     * gone or gave up on the command. The pid itself is killed first, then the group: before the
     * command has made its group there is only the pid, and once it is killed it forks no more.
     * The check against 0 and 1 is a guard against {@code kill -1}, which reaches every process.
     */
    static final String WATCHDOG_SCRIPT = "trap '' HUP INT QUIT TERM\n"
            + "echo " + READY + "\n"
            + "exec >/dev/null\n"
            + "IFS= read -r group\n"
            + "case $group in ''|*[!0-9]*) exit 0;; esac\n"
            + "[ \"$group\" -gt 1 ] || exit 0\n"
            + "IFS= read -r verdict\n"
            + "[ \"$verdict\" = exit ] && exit 0\n"
            + "kill -s KILL \"$group\" \"-$group\" 2>/dev/null\n"
            + "exit 0\n";
    /** The shell the watchdog runs in: POSIX places it there. */
    static final String SHELL = "/bin/sh";
    /** How long {@link #killGroup} waits for the watchdog to have sent the SIGKILL. */
    static final Duration KILL_WAIT = Duration.ofSeconds(2);
    /** Where setsid is looked for when it is not on PATH. */
    private static final List<String> SYSTEM_DIRS = List.of("/usr/bin", "/bin", "/usr/sbin", "/sbin");
    /** What execvp(3) searches when PATH is not set. */
    private static final String DEFAULT_PATH = "/bin:/usr/bin";

    private final @Nullable Process watchdog;
    private final @Nullable String setsid;
    private final Consumer<String> say;

    // guarded by this
    private boolean ended;

    private OrphanGuard(@Nullable Process watchdog, @Nullable String setsid, Consumer<String> say) {
        this.watchdog = watchdog;
        this.setsid = setsid;
        this.say = say;
    }

    /**
     * Starts the watchdog, before the command, so that the command never runs unwatched but for one
     * pipe write; returns once it runs (in its own session, given setsid). Never fails: a guard that cannot be had is said through {@code say}, and the command
     * runs as it would have without it.
     */
    static OrphanGuard start(Consumer<String> say) {
        Optional<String> setsid = findOnPath("setsid", true, true);
        if (setsid.isEmpty()) {
            say.accept("setsid (util-linux) not found: should distkit be killed (SIGKILL), only the command"
                    + " itself is killed with it, not the processes it started");
        }
        List<String> line = new ArrayList<>();
        setsid.ifPresent(program -> line.addAll(List.of(program, "--")));
        line.addAll(List.of(SHELL, "-c", WATCHDOG_SCRIPT));
        Process watchdog = null;
        try {
            watchdog = new ProcessBuilder(line)
                    .directory(new File("/")) // pins no directory of the command's
                    .redirectInput(ProcessBuilder.Redirect.PIPE)
                    .redirectOutput(ProcessBuilder.Redirect.PIPE)
                    .redirectError(ProcessBuilder.Redirect.INHERIT)
                    .start();
            awaitReady(watchdog);
        } catch (IOException e) {
            if (watchdog != null) {
                watchdog.destroyForcibly();
                watchdog = null;
            }
            say.accept("cannot start the watchdog (" + SHELL + "): should distkit be killed (SIGKILL), the"
                    + " command runs on: " + DistkitCommand.describe(e));
        }
        return new OrphanGuard(watchdog, setsid.orElse(null), say);
    }

    /**
     * Returns once the watchdog runs: from then on it is in its own session, out of reach of a kill of
     * distkit's group. Until then setsid may not have made it yet, and a group kill would take it.
     *
     * @throws IOException if it ended (or closed its output) without saying so
     */
    private static void awaitReady(Process watchdog) throws IOException {
        byte[] expected = (READY + "\n").getBytes(StandardCharsets.US_ASCII);
        try (InputStream out = watchdog.getInputStream()) {
            if (!Arrays.equals(out.readNBytes(expected.length), expected)) {
                throw new IOException("it ended before it ran"
                        + (watchdog.isAlive() ? "" : " (exit code " + watchdog.exitValue() + ")"));
            }
        }
    }

    /**
     * The command line that runs {@code command} as the leader of a session of its own.
     *
     * @throws IOException if the program is not found or not executable (setsid would only say so once
     *     started, with its own message and exit code)
     */
    List<String> commandLine(List<String> command) throws IOException {
        String program = command.get(0);
        checkRunnable(program);
        if (setsid == null) {
            return command;
        }
        List<String> line = new ArrayList<>(command.size() + 2);
        line.add(setsid);
        line.add("--");
        line.addAll(command);
        return line;
    }

    /** The command has started as {@code pid}: from now on distkit's end kills its group. */
    synchronized void guard(long pid) {
        if (!send(pid + "\n", false)) {
            say.accept("the watchdog is gone: should distkit be killed (SIGKILL), the command (pid " + pid
                    + ") runs on");
        }
    }

    /** The command has ended: the watchdog exits and leaves the rest of the group alone. Idempotent. */
    synchronized void dismiss() {
        if (!ended) {
            ended = true;
            send("exit\n", true);
        }
    }

    /**
     * SIGKILL to the command's group (what a stop of the tree missed, such as a process orphaned between
     * two looks at the tree), and the watchdog exits; returns once it has, or after {@link #KILL_WAIT}.
     * Idempotent.
     */
    void killGroup() throws InterruptedException {
        close();
        Process process = watchdog;
        if (process != null) {
            process.waitFor(KILL_WAIT.toNanos(), TimeUnit.NANOSECONDS);
        }
    }

    /** Unless dismissed: as if distkit had died, the watchdog kills the group (if it was told it). */
    @Override
    public synchronized void close() {
        if (!ended) {
            ended = true;
            send("", true);
        }
    }

    /** The watchdog process, if it could be started. */
    Optional<ProcessHandle> watchdog() {
        return Optional.ofNullable(watchdog).map(Process::toHandle);
    }

    /** Writes {@code text} to the watchdog (and closes its input if {@code last}); whether it got there. */
    private boolean send(String text, boolean last) {
        Process process = watchdog;
        if (process == null) {
            return false;
        }
        OutputStream in = process.getOutputStream();
        try {
            in.write(text.getBytes(StandardCharsets.US_ASCII));
            in.flush();
            return true;
        } catch (IOException gone) {
            return false;
        } finally {
            if (last) {
                try {
                    in.close();
                } catch (IOException gone) {
                    // the watchdog is gone already: nothing to tell it
                }
            }
        }
    }

    /** As execvp(3) would find {@code program}, or why it would not; the message is the reason alone. */
    static void checkRunnable(String program) throws IOException {
        if (program.isEmpty()) {
            throw new IOException("no such file or directory");
        }
        if (program.contains("/")) {
            Path file = path(program).orElseThrow(() -> new IOException("no such file or directory"));
            if (Files.isDirectory(file)) {
                throw new IOException("is a directory");
            }
            if (!Files.exists(file)) {
                throw new IOException("no such file or directory");
            }
            if (!Files.isExecutable(file)) {
                throw new IOException("permission denied");
            }
            return;
        }
        if (findOnPath(program, false, true).isEmpty()) {
            throw new IOException(findOnPath(program, false, false).isPresent() ? "permission denied"
                    : "not found on PATH");
        }
    }

    /** The first regular file {@code program} in PATH (then the system directories), executable if asked. */
    private static Optional<String> findOnPath(String program, boolean systemDirs, boolean executable) {
        String path = System.getenv("PATH");
        Stream<String> dirs = Stream.of((path != null ? path : DEFAULT_PATH).split(":", -1))
                .map(dir -> dir.isEmpty() ? "." : dir);
        if (systemDirs) {
            dirs = Stream.concat(dirs, SYSTEM_DIRS.stream());
        }
        return dirs.flatMap(dir -> path(dir + "/" + program).stream())
                .filter(Files::isRegularFile)
                .filter(file -> !executable || Files.isExecutable(file))
                .map(file -> file.toAbsolutePath().toString())
                .findFirst();
    }

    private static Optional<Path> path(String name) {
        try {
            return Optional.of(Path.of(name));
        } catch (InvalidPathException e) {
            return Optional.empty();
        }
    }
}
