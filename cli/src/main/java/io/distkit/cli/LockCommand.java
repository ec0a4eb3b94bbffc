package io.distkit.cli;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockException;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockLostException;
import io.distkit.lock.LockOptions;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code distkit lock}: a distributed {@code flock(1)}. Takes the lock, runs the command with the
 * fencing token in its environment while the lock engine renews the lease, and releases the lock
 * when the command ends. If the lease is lost (a renewal finds the lock gone, or none succeeds by
 * the lease's local deadline), the holder is told through {@link LockHandle#onLost}, and the
 * command, which no longer holds the lock, is stopped: SIGTERM to it and its descendants, SIGKILL
 * after a grace period.
 */
@Command(name = "lock",
        sortOptions = false,
        usageHelpAutoWidth = true,
        description = {
            "Runs a command while holding a distributed lock: flock(1) across machines.",
            "",
            "The lease is renewed in the background while the command runs, and the lock released when it"
                    + " ends. The command gets the lock's fencing token in DISTKIT_FENCING_TOKEN (and its name in"
                    + " DISTKIT_LOCK_NAME): pass the token to what it writes to, so that a holder that lost the lock"
                    + " cannot overwrite a newer one.",
            "",
            "If the lock is lost while the command runs, the command (and its children) gets SIGTERM, then"
                    + " SIGKILL after --grace; distkit then exits with the command's code, 1 if that was 0.",
            "",
            "Exit code: the command's; 75 if the lock could not be had within --wait; 127 if the command could"
                    + " not be started; 2 for bad arguments; 1 if the backend failed."},
        footerHeading = "%nExamples:%n",
        footer = {
            "  distkit lock --backend redis://localhost:6379 --name report -- ./report.sh",
            "  distkit lock --backend 'jdbc:postgresql://db/app?user=app' \\",
            "      --name migrate --wait 0 -- make migrate",
            "  distkit lock --backend 'jdbc:h2:/tmp/locks;AUTO_SERVER=TRUE' --name x \\",
            "      -- sh -c 'echo my token is $DISTKIT_FENCING_TOKEN'",
            "  export DISTKIT_BACKEND=redis://localhost:6379",
            "  distkit lock --name deploy --wait 5m -- ./deploy.sh"})
final class LockCommand implements Callable<Integer> {

    /** EX_TEMPFAIL of sysexits.h, as flock(1) -w uses 1: the lock could not be had in time. */
    static final int EXIT_NOT_ACQUIRED = 75;
    /** As a shell does for a command it cannot run. */
    static final int EXIT_CANNOT_RUN = 127;
    /** Environment variable with the fencing token of the acquisition. */
    static final String TOKEN_ENV = "DISTKIT_FENCING_TOKEN";
    /** Environment variable with the lock name. */
    static final String NAME_ENV = "DISTKIT_LOCK_NAME";

    @Spec
    CommandSpec spec;

    @Mixin
    HelpOption help;

    @Option(names = "--backend", paramLabel = "URI", defaultValue = "${env:DISTKIT_BACKEND}",
            description = "Lock backend: redis://host:port, redis-sentinel://..., jdbc:postgresql://..., any jdbc: URL"
                    + " (the lock table is created if missing). Default: $DISTKIT_BACKEND.")
    @Nullable String backendUri;

    @Option(names = "--name", paramLabel = "NAME", required = true, description = "Name of the lock.")
    String name = "";

    @Option(names = "--wait", paramLabel = "DURATION", defaultValue = "10s", converter = DurationConverter.class,
            description = "How long to wait for the lock (default: ${DEFAULT-VALUE}); 0 tries once.")
    Duration wait = Duration.ofSeconds(10);

    @Option(names = "--lease", paramLabel = "DURATION", defaultValue = "30s", converter = DurationConverter.class,
            description = "Lease: how long the lock outlives a holder that stopped renewing it, e.g. a crashed"
                    + " distkit (default: ${DEFAULT-VALUE}; renewed every third of it).")
    Duration lease = Duration.ofSeconds(30);

    @Option(names = "--grace", paramLabel = "DURATION", defaultValue = "10s", converter = DurationConverter.class,
            description = "After the lock is lost: time between SIGTERM and SIGKILL to the command (default: ${DEFAULT-VALUE}).")
    Duration grace = Duration.ofSeconds(10);

    @Parameters(paramLabel = "COMMAND", arity = "1..*",
            description = "The command and its arguments; put -- before it if it has options of its own.")
    List<String> command = new ArrayList<>();

    @Override
    public Integer call() throws InterruptedException {
        if (wait.isNegative()) {
            throw new ParameterException(spec.commandLine(), "--wait must not be negative, was " + wait);
        }
        if (grace.isNegative()) {
            throw new ParameterException(spec.commandLine(), "--grace must not be negative, was " + grace);
        }
        if (backendUri == null || backendUri.isBlank()) {
            throw new ParameterException(spec.commandLine(), "--backend is required (or set DISTKIT_BACKEND)");
        }
        LockOptions options;
        try {
            options = LockOptions.builder().leaseTime(lease).build();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--lease: " + e.getMessage(), e);
        }
        PrintWriter err = spec.commandLine().getErr();
        try (Backend backend = DistkitCommand.openBackend(spec, backendUri)) {
            LockClient client = backend.newLockClient();
            Optional<LockHandle> acquired;
            try {
                acquired = client.lock(name, options).tryAcquire(wait);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), "--name: " + e.getMessage(), e);
            }
            if (acquired.isEmpty()) {
                err.println("distkit lock: '" + name + "' is held by someone else; gave up after "
                        + DurationConverter.format(wait) + " (on " + backend.description() + ")");
                err.flush();
                return EXIT_NOT_ACQUIRED;
            }
            return runHolding(acquired.get(), err);
        }
    }

    private int runHolding(LockHandle handle, PrintWriter err) throws InterruptedException {
        ProcessBuilder builder = new ProcessBuilder(command).inheritIO();
        builder.environment().put(TOKEN_ENV, Long.toString(handle.fencingToken()));
        builder.environment().put(NAME_ENV, name);
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            handle.release();
            err.println("distkit lock: cannot run " + command.get(0) + ": " + DistkitCommand.describe(e));
            err.flush();
            return EXIT_CANNOT_RUN;
        }
        AtomicBoolean lost = new AtomicBoolean();
        handle.onLost(() -> {
            lost.set(true);
            err.println("distkit lock: lost lock '" + name + "' (its lease was not renewed in time);"
                    + " stopping the command (pid " + process.pid() + ")");
            err.flush();
            stop(process, grace);
        });
        // distkit itself stopped (Ctrl-C, kill): the command must not go on without the lock, and the lock
        // should not wait out its lease
        Thread hook = new Thread(() -> {
            if (process.isAlive()) {
                stop(process, grace);
                try {
                    process.waitFor(grace.toMillis() + 1_000, TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            try {
                handle.release();
            } catch (RuntimeException e) {
                // lost or unreachable: the lease runs out by itself
            }
        }, "distkit-lock-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        int code;
        try {
            code = process.waitFor();
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: it stops the command
            }
        }
        try {
            handle.release();
        } catch (LockLostException e) {
            if (!lost.getAndSet(true)) {
                err.println("distkit lock: lost lock '" + name + "' before the command ended");
                err.flush();
            }
        } catch (LockException e) {
            // the command ran under the lock all the same: its code stands
            err.println("distkit lock: could not release '" + name + "' (its lease runs out by itself): "
                    + DistkitCommand.describe(e));
            err.flush();
        }
        if (lost.get()) {
            return code != 0 ? code : DistkitCommand.EXIT_FAILURE;
        }
        return code;
    }

    /** SIGTERM to the process and its descendants, SIGKILL to those left after {@code grace}. */
    static void stop(Process process, Duration grace) {
        List<ProcessHandle> tree = new ArrayList<>();
        tree.add(process.toHandle());
        process.descendants().forEach(tree::add);
        tree.forEach(ProcessHandle::destroy);
        Thread killer = new Thread(() -> {
            long deadline = System.nanoTime() + grace.toNanos();
            for (ProcessHandle p : tree) {
                long left = deadline - System.nanoTime();
                try {
                    p.onExit().get(Math.max(0, left), TimeUnit.NANOSECONDS);
                } catch (Exception notYet) {
                    p.destroyForcibly();
                }
            }
        }, "distkit-lock-kill");
        killer.setDaemon(true);
        killer.start();
    }
}
