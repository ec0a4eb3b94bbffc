package io.distkit.testkit.server;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * What the single-server fixtures ({@link RedisServer}, {@link PostgresServer}, {@link MariaDbServer})
 * share: a child process in a temp directory of its own, as a {@link TestServer}. This class owns
 * the temp directory (the log goes there; {@link #close()} removes it), the started flag, the
 * optional {@link FakeTime} clock (set up on the first start when asked for, put back by
 * {@link #heal()}), and the Testcontainers stand-in a subclass may choose instead of a process when
 * the binary is missing ({@link #useContainer}).
 *
 * <p>A server that is not a process of this fixture (a container, an external database: see
 * {@link #noProcessReason()}) cannot be faulted: {@link #kill()}, {@link #pause()},
 * {@link #resume()}, {@link #restart()}, {@link #pid()} and shifting the clock throw
 * {@link UnsupportedOperationException}, and {@link #heal()} does nothing.
 */
abstract class LocalServer extends ServerProcess implements TestServer {

    private static final Duration SETUP_TIMEOUT = Duration.ofSeconds(60);

    private final Path dir;
    private final boolean wantsFakeTime;
    private @Nullable FakeTime fakeTime;
    private @Nullable ContainerFallback container;
    private boolean started;

    /**
     * @param name the binary's name, for messages
     * @param dir the temp directory, which this fixture removes at {@link #close()}
     * @param logFileName the server's log, in {@code dir}
     * @param wantsFakeTime whether to run the server on a {@link FakeTime} clock
     */
    LocalServer(String name, Path dir, String logFileName, boolean wantsFakeTime) {
        super(name, dir.resolve(logFileName));
        this.dir = dir;
        this.wantsFakeTime = wantsFakeTime;
    }

    /**
     * Readies what the process needs before each start: finds the binary (failing or skipping the
     * test if it is missing) and, the first time, creates the data directory. Returns false when no
     * process of ours is to run: a container ({@link #useContainer}) or an external server stands in.
     */
    abstract boolean prepareStart();

    /** Runs each time the process answers, before the server counts as started. Nothing by default. */
    void afterStart() {}

    /**
     * Null while the server is a process of this fixture; otherwise what stands in for it and how to
     * get a process instead, as the end of the message "{@code <fault> is unsupported: }". By default
     * it names the container, if there is one.
     */
    @Nullable String noProcessReason() {
        return container == null ? null : this + " is a Testcontainers container, not a process of this fixture";
    }

    /**
     * Starts the server and waits until it answers: prepares it (binary, data directory), sets up its
     * clock if it was built with {@code fakeTime()}, starts the process and finishes set-up (creating
     * the test user, say). Where a container or an external server stands in, only records that it
     * is in use. Idempotent.
     */
    @Override
    public synchronized void start() {
        if (container == null && prepareStart()) {
            if (wantsFakeTime && fakeTime == null) {
                fakeTime = FakeTime.in(dir);
            }
            super.start();
            afterStart();
        }
        started = true;
    }

    @Override
    public synchronized boolean isStarted() {
        return started;
    }

    /** Resumes a paused server, restarts a killed one, and puts its clock back; nothing for a stand-in. */
    @Override
    public synchronized void heal() {
        if (noProcessReason() != null) {
            return;
        }
        resumeIfPaused();
        if (!isRunning()) {
            start();
        }
        if (fakeTime != null) {
            fakeTime.shift(Duration.ZERO);
        }
    }

    /** Stops the server (or the container; an external server is left alone) and removes the temp directory. */
    @Override
    public synchronized void close() {
        started = false;
        if (container != null) {
            container.stop();
            container = null;
        }
        stop();
        Servers.deleteRecursively(dir);
    }

    /** The clock environment when built with {@code fakeTime()}, else none. */
    @Override
    protected Map<String, String> environment() {
        return fakeTime == null ? Map.of() : fakeTime.environment();
    }

    /** Whether the process is alive (paused counts as alive); for a container, whether it runs. */
    @Override
    public synchronized boolean isRunning() {
        return container != null ? container.isRunning() : super.isRunning();
    }

    /**
     * {@inheritDoc}
     *
     * @throws UnsupportedOperationException if the server is not a process of this fixture
     */
    @Override
    public synchronized void kill() {
        requireOwnProcess("kill");
        super.kill();
    }

    /**
     * {@inheritDoc}
     *
     * @throws UnsupportedOperationException if the server is not a process of this fixture
     */
    @Override
    public synchronized void pause() {
        requireOwnProcess("pause");
        super.pause();
    }

    /**
     * {@inheritDoc}
     *
     * @throws UnsupportedOperationException if the server is not a process of this fixture
     */
    @Override
    public synchronized void resume() {
        requireOwnProcess("resume");
        super.resume();
    }

    /**
     * {@inheritDoc}
     *
     * @throws UnsupportedOperationException if the server is not a process of this fixture
     */
    @Override
    public synchronized void restart() {
        requireOwnProcess("restart");
        super.restart();
    }

    /**
     * {@inheritDoc}
     *
     * @throws UnsupportedOperationException if the server is not a process of this fixture
     */
    @Override
    public synchronized long pid() {
        requireOwnProcess("pid");
        return super.pid();
    }

    /** The temp directory: the log, the data and whatever else the server keeps. */
    Path dir() {
        return dir;
    }

    /** The clock, once a start with {@code fakeTime()} has set it up. */
    final @Nullable FakeTime fakeTime() {
        return fakeTime;
    }

    /** The stand-in chosen by {@link #useContainer}, if any. */
    final @Nullable ContainerFallback container() {
        return container;
    }

    /** Has {@code container} stand in for the process; called from {@link #prepareStart()}, which then returns false. */
    final void useContainer(ContainerFallback container) {
        this.container = container;
    }

    /**
     * Shifts the server's wall clock.
     *
     * @throws UnsupportedOperationException if the server is not a process of this fixture
     * @throws IllegalStateException if it was built without {@code fakeTime()} or not started
     */
    final void shiftFakeClock(Duration offset) {
        requireOwnProcess("shiftClock");
        if (fakeTime == null) {
            throw new IllegalStateException("build the server with fakeTime() and start it to shift its clock");
        }
        fakeTime.shift(Objects.requireNonNull(offset, "offset"));
    }

    /** Throws {@link UnsupportedOperationException} naming {@code fault} if the server is not a process of ours. */
    final void requireOwnProcess(String fault) {
        String reason = noProcessReason();
        if (reason != null) {
            throw new UnsupportedOperationException(fault + " is unsupported: " + reason);
        }
    }

    /**
     * Runs a set-up program ({@code initdb}, say) to completion in the temp directory, its output
     * appended to the server's log.
     *
     * @throws IllegalStateException if it fails or does not finish within 60 s, with the log's tail
     */
    final void runSetupProgram(String what, List<String> command) {
        try {
            Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile().toFile())).start();
            if (!process.waitFor(SETUP_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IllegalStateException(what + " did not finish within " + SETUP_TIMEOUT.toSeconds() + " s; log "
                        + logFile() + ":\n" + logTail(30));
            }
            if (process.exitValue() != 0) {
                throw new IllegalStateException(what + " failed (exit " + process.exitValue() + "): "
                        + String.join(" ", command) + "; log " + logFile() + ":\n" + logTail(30));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not run " + what + " in " + dir, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while running " + what, e);
        }
    }
}
