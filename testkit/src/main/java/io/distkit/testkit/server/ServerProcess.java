package io.distkit.testkit.server;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * One server running as a child process, with the faults of docs/failures.md: {@link #kill()} (SIGKILL),
 * {@link #pause()}/{@link #resume()} (SIGSTOP/SIGCONT, a GC pause as far as anyone else can tell),
 * {@link #stop()} (SIGTERM, then SIGKILL after a grace period) and {@link #restart()} (same port,
 * same data directory). Output goes to a log file whose tail is quoted when the server fails to
 * start.
 *
 * <p>Every process started is also registered with a JVM shutdown hook, so a crashed test run
 * leaves no server behind. The static helpers ({@link #killAtExit}, {@link #sendSignal},
 * {@link #tailOf}) serve every child process of the tests, not only servers.
 */
public abstract class ServerProcess implements AutoCloseable {

    /** How often {@link #pollUntilReady} asks. */
    private static final Duration POLL_INTERVAL = Duration.ofMillis(20);

    private static final Set<ProcessHandle> LIVE = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(p -> {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }), "distkit-child-process-reaper"));
    }

    private final String name;
    private final Path logFile;
    private Process process;
    private boolean paused;

    protected ServerProcess(String name, Path logFile) {
        this.name = name;
        this.logFile = logFile;
    }

    /** The command line that starts the server in the foreground. */
    protected abstract List<String> command();

    /** Extra environment for the server process (faketime, say). */
    protected Map<String, String> environment() {
        return Map.of();
    }

    /**
     * Blocks until the server answers, or throws if it does not within {@code timeout}; usually
     * {@link #pollUntilReady} with a probe of the server's protocol.
     */
    protected abstract void awaitReady(Duration timeout) throws Exception;

    /**
     * Calls {@code probe} every 20 ms until it returns true: the way to wait for a child process that
     * gives no readiness signal. An exception from the probe (connection refused, "starting up")
     * counts as not ready yet; the last one is quoted if time runs out.
     *
     * @throws IllegalStateException if the process exits meanwhile, or the probe has not returned
     *     true within {@code timeout}
     * @throws InterruptedException if interrupted while waiting
     */
    protected final void pollUntilReady(Duration timeout, Callable<Boolean> probe) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Exception last = null;
        while (System.nanoTime() - deadline < 0) {
            if (!isRunning()) {
                throw new IllegalStateException(name + " exited");
            }
            try {
                if (probe.call()) {
                    return;
                }
                last = null; // it answered, just not "ready"
            } catch (InterruptedException e) {
                throw e;
            } catch (Exception e) {
                last = e;
            }
            Thread.sleep(POLL_INTERVAL.toMillis());
        }
        throw new IllegalStateException("not ready" + (last == null ? "" : ": " + last.getMessage()), last);
    }

    /** How long the server may take to become ready. */
    protected Duration startTimeout() {
        return Duration.ofSeconds(30);
    }

    /** Starts the server and waits until it answers. */
    public synchronized void start() {
        if (process != null && process.isAlive()) {
            return;
        }
        ProcessBuilder builder = new ProcessBuilder(command())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
        builder.environment().putAll(environment());
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new UncheckedIOException("could not start " + name + ": " + String.join(" ", command()), e);
        }
        killAtExit(process.toHandle());
        paused = false;
        try {
            awaitReady(startTimeout());
        } catch (Exception e) {
            String tail = logTail(30);
            kill();
            throw new IllegalStateException(name + " did not become ready within " + startTimeout()
                    + (e.getMessage() == null ? "" : " (" + e.getMessage() + ")") + "; log " + logFile + ":\n" + tail, e);
        }
    }

    /** SIGTERM, then SIGKILL if it has not exited within 10 s. */
    public synchronized void stop() {
        if (process == null) {
            return;
        }
        resumeIfPaused();
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        cancelKillAtExit(process.toHandle());
    }

    /** SIGKILL: a crash, no chance to flush or clean up. Waits until the process is gone. */
    public synchronized void kill() {
        if (process == null) {
            return;
        }
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        paused = false;
        cancelKillAtExit(process.toHandle());
    }

    /** SIGSTOP: the server stops answering but keeps its connections and state. */
    public synchronized void pause() {
        signal("STOP");
        paused = true;
    }

    /** SIGCONT after {@link #pause()}. */
    public synchronized void resume() {
        signal("CONT");
        paused = false;
    }

    /** Stops (or finds dead) and starts again on the same port with the same data. */
    public synchronized void restart() {
        stop();
        start();
    }

    /** Whether the process is alive (paused counts as alive). */
    public synchronized boolean isRunning() {
        return process != null && process.isAlive();
    }

    public synchronized boolean isPaused() {
        return paused;
    }

    /** The process id, for tests that signal it themselves. */
    public synchronized long pid() {
        if (process == null) {
            throw new IllegalStateException(name + " was never started");
        }
        return process.pid();
    }

    /** Resumes a paused server, so that a test that failed mid-pause does not poison the next one. */
    public synchronized void resumeIfPaused() {
        if (paused && isRunning()) {
            resume();
        }
    }

    /** The server's log so far. */
    public Path logFile() {
        return logFile;
    }

    /** The last {@code lines} lines of the server's log, for failure messages. */
    protected String logTail(int lines) {
        return tailOf(logFile, lines);
    }

    /** The last {@code lines} lines of a child process's log file, or why there are none; never throws. */
    public static String tailOf(Path logFile, int lines) {
        try {
            List<String> all = Files.readAllLines(logFile, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException | UncheckedIOException e) {
            return "(no log: " + e + ")";
        }
    }

    /**
     * Has a JVM shutdown hook SIGKILL {@code process} and its descendants if it is still alive when
     * the JVM exits, so that a crashed test run leaves no child process behind.
     */
    public static void killAtExit(ProcessHandle process) {
        LIVE.add(process);
    }

    /** Undoes {@link #killAtExit} for a process that is gone. */
    public static void cancelKillAtExit(ProcessHandle process) {
        LIVE.remove(process);
    }

    private void signal(String signal) {
        if (process == null || !process.isAlive()) {
            throw new IllegalStateException(name + " is not running");
        }
        if (signal.equals("STOP")) {
            sigstop(process.toHandle());
        } else {
            sendSignal(process.toHandle(), signal);
        }
    }

    /**
     * SIGSTOP, returning once every thread of the process has stopped. {@code kill} returns when the
     * signal is queued; a multi-threaded process (a JVM, a server with I/O threads) completes its group
     * stop a moment later, and on a loaded machine a request sent right after could still be answered.
     * Waits at most 10 s, reading the thread states from {@code /proc} (where there is no {@code /proc},
     * or the process is gone, it returns at once).
     */
    public static void sigstop(ProcessHandle handle) {
        sendSignal(handle, "STOP");
        Path tasks = Path.of("/proc", Long.toString(handle.pid()), "task");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!allStopped(tasks)) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException("process " + handle.pid() + " got SIGSTOP but did not stop within 10 s");
            }
            java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(200));
        }
    }

    /** Whether every thread under {@code /proc/<pid>/task} is stopped (T, t) or dead (Z, X); true if unreadable. */
    private static boolean allStopped(Path tasks) {
        try (java.util.stream.Stream<Path> threads = Files.list(tasks)) {
            return threads.allMatch(thread -> {
                try {
                    String stat = Files.readString(thread.resolve("stat"));
                    char state = stat.charAt(stat.lastIndexOf(')') + 2); // the name in parentheses may hold spaces
                    return state == 'T' || state == 't' || state == 'Z' || state == 'X';
                } catch (IOException | RuntimeException gone) {
                    return true; // the thread exited meanwhile
                }
            });
        } catch (IOException | RuntimeException noProc) {
            return true;
        }
    }

    /** {@code kill -<signal> <pid>}; Java has no API for STOP and CONT. */
    public static void sendSignal(ProcessHandle handle, String signal) {
        List<String> command = new ArrayList<>(List.of("kill", "-" + signal, Long.toString(handle.pid())));
        try {
            Process kill = new ProcessBuilder(command).redirectErrorStream(true).start();
            if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
                throw new IllegalStateException("'" + String.join(" ", command) + "' failed: "
                        + new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while signalling " + handle.pid(), e);
        }
    }

    @Override
    public void close() {
        stop();
    }

    @Override
    public String toString() {
        return name;
    }
}
