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
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * One server running as a child process, with the faults of FAILURES.md: {@link #kill()} (SIGKILL),
 * {@link #pause()}/{@link #resume()} (SIGSTOP/SIGCONT, a GC pause as far as anyone else can tell),
 * {@link #stop()} (SIGTERM, then SIGKILL after a grace period) and {@link #restart()} (same port,
 * same data directory). Output goes to a log file whose tail is quoted when the server fails to
 * start.
 *
 * <p>Every process started is also registered with a JVM shutdown hook, so a crashed test run
 * leaves no server behind.
 */
public abstract class ServerProcess implements AutoCloseable {

    private static final Set<ProcessHandle> LIVE = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(p -> {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }), "distkit-server-reaper"));
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

    /** Blocks until the server answers, or throws if it does not within {@code timeout}. */
    protected abstract void awaitReady(Duration timeout) throws Exception;

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
        LIVE.add(process.toHandle());
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
        LIVE.remove(process.toHandle());
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
        LIVE.remove(process.toHandle());
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

    protected String logTail(int lines) {
        try {
            List<String> all = Files.readAllLines(logFile, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException | UncheckedIOException e) {
            return "(no log: " + e + ")";
        }
    }

    private void signal(String signal) {
        if (process == null || !process.isAlive()) {
            throw new IllegalStateException(name + " is not running");
        }
        sendSignal(process.toHandle(), signal);
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
