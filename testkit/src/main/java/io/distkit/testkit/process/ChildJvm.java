package io.distkit.testkit.process;

import io.distkit.testkit.server.ServerProcess;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * A {@code main} class of the current test classpath running in a separate JVM: the only way to
 * pause a lock <em>holder</em> (docs/failures.md, "Paused holders"), since a JVM cannot
 * usefully stop its own threads.
 *
 * <p><b>Line protocol.</b> The test writes command lines to the child's stdin with {@link #send} and
 * reads the child's stdout lines with {@link #awaitLine} / {@link #nextLine}. A reader thread
 * collects every stdout line as it arrives; each line is handed to at most one waiter (the first
 * registered whose predicate matches), so two commands that get the same kind of reply are answered
 * in order. Lines no waiter wants stay available for later waiters and for {@link #lines()}, so log
 * noise on stdout is harmless as long as predicates are specific. The child's stderr goes to a log
 * file whose tail is quoted in every failure message.
 *
 * <p><b>Faults.</b> {@link #pause()} (SIGSTOP: a GC pause as far as anyone else can tell),
 * {@link #resume()} (SIGCONT), {@link #kill()} (SIGKILL, returns once the process is gone), and for a
 * child started in a session of its own ({@link Builder#ownSession()}) {@link #killGroup()}: SIGKILL to
 * its whole process group at once, as a shell's {@code kill -9 %1}, {@code timeout -s KILL}, a CI runner
 * or systemd end a job.
 * {@link #close()} kills the child if it is still alive; every child is also killed by the JVM
 * shutdown hook that kills the servers ({@link ServerProcess#killAtExit}), so a crashed test run
 * leaves none behind. The child also sees EOF on its stdin when this JVM dies, and the mains of
 * this package exit on it.
 *
 * <p>Every wait is bounded, and a child that exits (or is killed) fails pending and later waits at
 * once, with its exit code and log tail, instead of letting them run to their timeout.
 *
 * <pre>{@code
 * try (ChildJvm child = ChildJvm.builder(RedisTouchMain.class).args(host, port, key).start()) {
 *     child.awaitLine(l -> l.startsWith("touched "), Duration.ofSeconds(30));
 *     child.pause(); ... child.resume(); ... child.kill();
 * }
 * }</pre>
 */
public final class ChildJvm implements AutoCloseable {

    /** Heap of a child unless {@link Builder#jvmArgs} says otherwise: holders and touchers need little. */
    public static final String DEFAULT_MAX_HEAP = "-Xmx96m";
    /** How long {@link #kill()} waits for the process to disappear. */
    public static final Duration KILL_TIMEOUT = Duration.ofSeconds(10);

    private static final int LOG_TAIL_LINES = 30;
    private static final int STDOUT_TAIL_LINES = 10;
    private static final AtomicInteger SEQUENCE = new AtomicInteger();

    private final String name;
    private final Process process;
    private final boolean ownSession;
    private final Path logFile;
    private final OutputStream stdin;
    private final Object lock = new Object();
    /** Every stdout line, in order; {@code claimed} marks those handed to a waiter. */
    private final List<String> lines = new ArrayList<>();
    private final List<Boolean> claimed = new ArrayList<>();
    private final List<Waiter> waiters = new ArrayList<>();
    private @Nullable String endReason;
    private boolean paused;

    private record Waiter(Predicate<String> matcher, CompletableFuture<String> future) {}

    private ChildJvm(String name, Process process, boolean ownSession, Path logFile) {
        this.name = name;
        this.process = process;
        this.ownSession = ownSession;
        this.logFile = logFile;
        this.stdin = process.getOutputStream();
        Thread reader = new Thread(this::readStdout, "distkit-child-" + name + "-stdout");
        reader.setDaemon(true);
        reader.start();
    }

    /** A builder for a child running {@code mainClass}, which must be on this JVM's classpath. */
    public static Builder builder(Class<?> mainClass) {
        Objects.requireNonNull(mainClass, "mainClass");
        return new Builder(mainClass.getName());
    }

    /** A builder for a child running the class named {@code mainClass} from this JVM's classpath. */
    public static Builder builder(String mainClass) {
        Objects.requireNonNull(mainClass, "mainClass");
        if (mainClass.isBlank()) {
            throw new IllegalArgumentException("mainClass must not be blank");
        }
        return new Builder(mainClass);
    }

    /**
     * Writes {@code line} and a newline to the child's stdin. A paused child reads it after
     * {@link #resume()} (the pipe buffers it).
     *
     * @throws IllegalArgumentException if {@code line} contains a line break
     * @throws IllegalStateException if the child has exited (message with exit code and log tail)
     */
    public void send(String line) {
        Objects.requireNonNull(line, "line");
        if (line.indexOf('\n') >= 0 || line.indexOf('\r') >= 0) {
            throw new IllegalArgumentException("a command is one line; got a line break in '" + line + "'");
        }
        synchronized (stdin) {
            try {
                stdin.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                stdin.flush();
            } catch (IOException e) {
                throw new IllegalStateException(describeEnd("could not send '" + line + "' (" + e.getMessage() + ")"), e);
            }
        }
    }

    /**
     * The first stdout line matching {@code matcher} that no other waiter has taken, received or yet
     * to come. The future completes exceptionally with {@link IllegalStateException} when the child's
     * stdout ends (it exited or was killed) without such a line. Cancelling the future withdraws the
     * wait, and the line it would have taken stays available.
     */
    public CompletableFuture<String> nextLine(Predicate<String> matcher) {
        Objects.requireNonNull(matcher, "matcher");
        CompletableFuture<String> future = new CompletableFuture<>();
        synchronized (lock) {
            for (int i = 0; i < lines.size(); i++) {
                if (!claimed.get(i) && matcher.test(lines.get(i))) {
                    claimed.set(i, true);
                    future.complete(lines.get(i));
                    return future;
                }
            }
            if (endReason != null) {
                future.completeExceptionally(new IllegalStateException(endReason));
            } else {
                waiters.add(new Waiter(matcher, future));
            }
        }
        return future;
    }

    /**
     * Waits at most {@code timeout} for {@link #nextLine(Predicate) the next line} matching
     * {@code matcher} and returns it.
     *
     * @throws IllegalStateException if the child ends without printing such a line (at once, not at
     *     the timeout), or none comes within {@code timeout}; the message has the exit code or state,
     *     the last stdout lines and the log tail
     */
    public String awaitLine(Predicate<String> matcher, Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        CompletableFuture<String> future = nextLine(matcher);
        try {
            return future.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            if (future.cancel(false)) {
                throw new IllegalStateException(name + ": no matching line within " + timeout
                        + (isPaused() ? " (the child is paused)" : isAlive() ? " (the child is running)" : "")
                        + diagnostics(), e);
            }
            try {
                return future.join(); // the line (or the end) arrived as the wait ran out
            } catch (CompletionException ended) {
                throw new IllegalStateException(ended.getCause().getMessage(), ended.getCause());
            }
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            future.cancel(false);
            Thread.currentThread().interrupt();
            throw new IllegalStateException(name + ": interrupted while waiting for a line", e);
        }
    }

    /** Every stdout line so far (taken by a waiter or not), in order. */
    public List<String> lines() {
        synchronized (lock) {
            return List.copyOf(lines);
        }
    }

    /** SIGSTOP: the child stops wherever it is, its sockets stay open and its timers stand still. */
    public synchronized void pause() {
        requireAlive("pause");
        ServerProcess.sigstop(process.toHandle()); // returns once every thread has stopped
        paused = true;
    }

    /** SIGCONT after {@link #pause()}. */
    public synchronized void resume() {
        requireAlive("resume");
        ServerProcess.sendSignal(process.toHandle(), "CONT");
        paused = false;
    }

    /**
     * SIGKILL (paused or not): a crash with no chance to clean up. Returns once the process is gone.
     * Does nothing if it has already exited.
     *
     * @throws IllegalStateException if it is still there after {@link #KILL_TIMEOUT}
     */
    public synchronized void kill() {
        process.destroyForcibly();
        try {
            if (!process.waitFor(KILL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException(name + " (pid " + process.pid() + ") still alive " + KILL_TIMEOUT
                        + " after SIGKILL");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while killing " + name, e);
        }
        paused = false;
        ServerProcess.cancelKillAtExit(process.toHandle());
    }

    /**
     * SIGKILL to the child's whole process group at once ({@code kill -s KILL -- -<pid>}): the child and
     * whatever it started that stayed in its group die together, none of them sees another end first.
     * Returns once the child itself is gone; does nothing if it has already exited. Only for a child
     * started with {@link Builder#ownSession()}: any other shares this JVM's group.
     *
     * @throws IllegalStateException if the child was not started with {@link Builder#ownSession()}, does
     *     not lead its process group, cannot be signalled, or is still there after {@link #KILL_TIMEOUT}
     */
    public synchronized void killGroup() {
        if (!ownSession) {
            throw new IllegalStateException(name + " shares this JVM's process group: start it with ownSession()"
                    + " to kill its group");
        }
        if (process.isAlive()) {
            OptionalLong group = processGroup(process.pid());
            if (group.isPresent() && group.getAsLong() != process.pid()) {
                // never signal a group that is not the child's alone: it could hold this JVM
                throw new IllegalStateException(name + " (pid " + process.pid() + ") is in process group "
                        + group.getAsLong() + ", not one of its own");
            }
            List<String> command = List.of("kill", "-s", "KILL", "--", "-" + process.pid());
            try {
                Process kill = new ProcessBuilder(command).redirectErrorStream(true).start();
                boolean done = kill.waitFor(KILL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
                if ((!done || kill.exitValue() != 0) && process.isAlive()) { // failing on a group gone is fine
                    throw new IllegalStateException("'" + String.join(" ", command) + "' failed: "
                            + new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                throw new UncheckedIOException("could not run '" + String.join(" ", command) + "'", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while killing the group of " + name, e);
            }
        }
        kill(); // waits for the child to be gone; a SIGKILL more to a process already dying changes nothing
    }

    /** The process group of {@code pid} from {@code /proc}, or empty if it is gone or there is no {@code /proc}. */
    private static OptionalLong processGroup(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            // "pid (comm) state ppid pgrp ...", and comm may hold spaces and parentheses
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return OptionalLong.of(Long.parseLong(fields[2]));
        } catch (IOException | RuntimeException gone) {
            return OptionalLong.empty();
        }
    }

    /**
     * Waits at most {@code timeout} for the child to exit by itself (no signal is sent).
     *
     * @return its exit code, or empty if it is still alive
     */
    public OptionalInt awaitExit(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        try {
            if (process.waitFor(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
                ServerProcess.cancelKillAtExit(process.toHandle());
                return OptionalInt.of(process.exitValue());
            }
            return OptionalInt.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for " + name + " to exit", e);
        }
    }

    /** Whether the process exists (a paused child is alive). */
    public boolean isAlive() {
        return process.isAlive();
    }

    /** Whether {@link #pause()} was the last signal sent and the child is still alive. */
    public synchronized boolean isPaused() {
        return paused && process.isAlive();
    }

    /** The child's process id. */
    public long pid() {
        return process.pid();
    }

    /** The exit code, or empty while the process is alive. */
    public OptionalInt exitCode() {
        return process.isAlive() ? OptionalInt.empty() : OptionalInt.of(process.exitValue());
    }

    /** The file the child's stderr goes to; deleted by {@link #close()}. */
    public Path logFile() {
        return logFile;
    }

    /** The last {@code count} lines of the child's stderr log. */
    public String logTail(int count) {
        return ServerProcess.tailOf(logFile, count);
    }

    /** The name given to the builder, for messages. */
    public String name() {
        return name;
    }

    /** Kills the child if it is still alive and removes its log file. Idempotent. */
    @Override
    public void close() {
        kill();
        try {
            Files.deleteIfExists(logFile);
        } catch (IOException ignored) {
            // a stray temp file is no reason to fail a test
        }
    }

    @Override
    public String toString() {
        return "child JVM " + name + " (pid " + process.pid() + (isPaused() ? ", paused" : "")
                + (process.isAlive() ? "" : ", exited") + ")";
    }

    private void readStdout() {
        try (BufferedReader reader = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                offer(line);
            }
        } catch (IOException ignored) {
            // the pipe broke: the child is gone, which the code below reports
        }
        // stdout closes when the child exits; give it a moment to be reaped so the exit code is known
        try {
            process.waitFor(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        String reason = describeEnd("stdout ended without a matching line");
        List<Waiter> orphaned;
        synchronized (lock) {
            endReason = reason;
            orphaned = List.copyOf(waiters);
            waiters.clear();
        }
        orphaned.forEach(w -> w.future.completeExceptionally(new IllegalStateException(reason)));
    }

    private void offer(String line) {
        synchronized (lock) {
            lines.add(line);
            claimed.add(false);
            for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
                Waiter waiter = it.next();
                if (waiter.future.isDone()) {
                    it.remove(); // cancelled by a timed-out awaitLine
                } else if (waiter.matcher.test(line) && waiter.future.complete(line)) {
                    it.remove();
                    claimed.set(claimed.size() - 1, true);
                    return;
                }
            }
        }
    }

    private String describeEnd(String what) {
        String state = process.isAlive() ? "is still running" : "exited with code " + process.exitValue();
        return name + " (pid " + process.pid() + ") " + state + ": " + what + diagnostics();
    }

    private String diagnostics() {
        List<String> out = lines();
        return "\nlast stdout lines:\n  " + String.join("\n  ", out.subList(Math.max(0, out.size() - STDOUT_TAIL_LINES),
                out.size())) + "\nstderr " + logFile + ":\n" + logTail(LOG_TAIL_LINES);
    }

    private void requireAlive(String action) {
        if (!process.isAlive()) {
            throw new IllegalStateException("cannot " + action + " " + describeEnd("not running"));
        }
    }

    /** Configures and starts a {@link ChildJvm}. */
    public static final class Builder {
        private final String mainClass;
        private final List<String> jvmArgs = new ArrayList<>();
        private final List<String> args = new ArrayList<>();
        private final Map<String, String> environment = new LinkedHashMap<>();
        private @Nullable String name;
        private boolean ownSession;

        private Builder(String mainClass) {
            this.mainClass = mainClass;
        }

        /** A name for thread names and messages; default: the main class's simple name and a number. */
        public Builder name(String name) {
            Objects.requireNonNull(name, "name");
            if (name.isBlank()) {
                throw new IllegalArgumentException("name must not be blank");
            }
            this.name = name;
            return this;
        }

        /** JVM options added after the defaults (so {@code -Xmx256m} here wins over {@link #DEFAULT_MAX_HEAP}). */
        public Builder jvmArgs(String... jvmArgs) {
            for (String arg : jvmArgs) {
                this.jvmArgs.add(Objects.requireNonNull(arg, "jvm arg"));
            }
            return this;
        }

        /** Program arguments for {@code main}. */
        public Builder args(String... args) {
            for (String arg : args) {
                this.args.add(Objects.requireNonNull(arg, "arg"));
            }
            return this;
        }

        /**
         * Environment variables for the child, on top of this JVM's environment (which the child
         * otherwise inherits unchanged): a variable named here replaces the inherited one. For
         * example {@link io.distkit.testkit.server.FakeTime#environment()} runs the child on a shifted
         * wall clock. Calls add up; for a name given twice the later value wins.
         *
         * @throws NullPointerException if the map, a name or a value is null
         * @throws IllegalArgumentException if a name is empty or contains {@code '='} or a NUL
         *     character, or a value contains a NUL character (none of which an environment can hold)
         */
        public Builder environment(Map<String, String> environment) {
            Objects.requireNonNull(environment, "environment");
            Map<String, String> checked = new LinkedHashMap<>();
            environment.forEach((variable, value) -> checked.put(checkVariable(variable), checkValue(variable, value)));
            this.environment.putAll(checked);
            return this;
        }

        private static String checkVariable(String variable) {
            Objects.requireNonNull(variable, "environment variable name");
            if (variable.isEmpty() || variable.indexOf('=') >= 0 || variable.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("an environment variable name must be non-empty without '=' or NUL,"
                        + " was '" + variable.replace("\0", "\\0") + "'");
            }
            return variable;
        }

        private static String checkValue(String variable, String value) {
            Objects.requireNonNull(value, () -> "value of environment variable " + variable);
            if (value.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("the value of environment variable " + variable + " contains NUL");
            }
            return value;
        }

        /**
         * Runs the child as the leader of a session and process group of its own, through
         * {@code setsid(1)} (util-linux), so that {@link ChildJvm#killGroup()} can signal its group and
         * never reaches this JVM, and the child's group is what a shell's job or a CI step would be. A
         * child of this JVM is never a group leader, so setsid calls {@code setsid(2)} and execs java in
         * the same process: {@link ChildJvm#pid()} is the child JVM's pid, its group's and its session's.
         * The child then has no controlling terminal; its standard streams are the same pipes as ever.
         */
        public Builder ownSession() {
            this.ownSession = true;
            return this;
        }

        /**
         * Starts the child. Returns at once: wait for a line the main prints when it is ready.
         *
         * @throws UncheckedIOException if the process cannot be started (or, with {@link #ownSession()},
         *     setsid is not on PATH)
         */
        public ChildJvm start() {
            String childName = name != null ? name
                    : mainClass.substring(mainClass.lastIndexOf('.') + 1) + "-" + SEQUENCE.incrementAndGet();
            List<String> command = new ArrayList<>();
            if (ownSession) {
                command.addAll(List.of("setsid", "--"));
            }
            command.add(javaExecutable());
            // small and quick to start: two cores are shared by the test JVM, servers and children
            command.addAll(List.of("-Xms16m", DEFAULT_MAX_HEAP, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                    "-Xshare:auto", "-XX:-UsePerfData", "-Dfile.encoding=UTF-8", "-Dstdout.encoding=UTF-8"));
            command.addAll(jvmArgs);
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
            command.addAll(args);
            Path log;
            try {
                log = Files.createTempFile("distkit-child-" + childName.replaceAll("[^A-Za-z0-9_.-]", "_") + "-", ".log");
            } catch (IOException e) {
                throw new UncheckedIOException("no temp file for the log of " + childName, e);
            }
            Process process;
            try {
                ProcessBuilder builder = new ProcessBuilder(command)
                        .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
                builder.environment().putAll(environment);
                process = builder.start();
            } catch (IOException e) {
                throw new UncheckedIOException("could not start " + childName + ": " + String.join(" ", command), e);
            }
            ServerProcess.killAtExit(process.toHandle());
            return new ChildJvm(childName, process, ownSession, log);
        }

        private static String javaExecutable() {
            // the running java, so the child has the same version and vendor; java.home if unknown
            Optional<String> current = ProcessHandle.current().info().command()
                    .filter(c -> Paths.get(c).getFileName().toString().startsWith("java"));
            return current.orElseGet(() -> Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        }
    }
}
