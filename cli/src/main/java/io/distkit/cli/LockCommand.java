package io.distkit.cli;

import io.distkit.common.DaemonThreads;
import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockException;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockLostException;
import io.distkit.lock.LockOptions;
import io.distkit.lock.spi.LockNames;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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
 * when the command ends.
 *
 * <p>The command must not run without the lock, so it is stopped (SIGTERM to it and every
 * descendant seen, SIGKILL to what is left after the grace period) in three cases: a watchdog finds
 * that renewals have failed and only the grace period is left of the lease, so that the SIGKILL
 * lands by the lease's local deadline; the lease is lost ({@link LockHandle#onLost}: taken over, or
 * the deadline passed while the JVM stood still), SIGKILL after the grace period or at the deadline,
 * whichever comes first; distkit itself is stopped (shutdown hook). distkit releases the lock and
 * returns only once the whole tree is gone. Where no hook runs (SIGKILL, the OOM killer), the {@link
 * OrphanGuard} SIGKILLs the command's process group as distkit dies.
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
            "The command is not left running without the lock. If renewals fail, it gets SIGTERM when only"
                    + " --grace is left of the lease, and SIGKILL when the lease runs out. If the lock is lost"
                    + " (taken over, or distkit stood still past the lease), SIGTERM at once and SIGKILL after"
                    + " --grace. If distkit itself is stopped, the same as for a lost lock. Signals go to the"
                    + " command and all its descendants; distkit exits once they are all gone, with the command's"
                    + " code, 1 if that was 0. If distkit is killed (SIGKILL, the OOM killer), a watchdog process"
                    + " SIGKILLs the command's process group at once.",
            "",
            "For that the command runs in a session of its own (setsid(1)): it has no controlling terminal."
                    + " It still reads and writes the terminal through its standard streams, but Ctrl-C reaches"
                    + " it through distkit, as above.",
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
            "  distkit lock --backend redis://localhost:6379 --name etl \\",
            "      --lease 2m --grace 20s -- ./etl.sh",
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
    /** Longest default grace period: {@code min(2 s, lease / 10)}. */
    static final Duration DEFAULT_MAX_GRACE = Duration.ofSeconds(2);
    /** How long a SIGKILLed process is given to disappear before distkit looks again (and says so). */
    static final Duration KILL_WAIT = Duration.ofSeconds(2);
    /** Rounds of "look for descendants, SIGKILL them": a fork bomb gets no endless loop. */
    static final int KILL_ROUNDS = 5;
    /** How often a stop looks whether the processes it signalled are gone. */
    static final Duration EXIT_POLL = Duration.ofMillis(20);

    @Spec
    CommandSpec spec;

    @Mixin
    HelpOption help;

    @Option(names = "--backend", paramLabel = "URI", defaultValue = "${env:DISTKIT_BACKEND}",
            description = "Lock backend: redis://host:port, redis-sentinel://..., redlock://h1:port,h2:port,h3:port, etcd://host:2379,"
                    + " zookeeper://host:2181[/chroot], jdbc:postgresql://..., any jdbc: URL (the lock table is created"
                    + " if missing). Default: $DISTKIT_BACKEND.")
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

    @Option(names = "--grace", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "Time between SIGTERM and SIGKILL when the command is stopped; the SIGTERM comes this"
                    + " long before the lease runs out if renewals fail. Less than half the lease (default: 2s or"
                    + " a tenth of the lease, whichever is less).")
    @Nullable Duration grace;

    @Parameters(paramLabel = "COMMAND", arity = "1..*",
            description = "The command and its arguments; put -- before it if it has options of its own.")
    List<String> command = new ArrayList<>();

    @Override
    public Integer call() throws InterruptedException {
        if (wait.isNegative()) {
            throw new ParameterException(spec.commandLine(), "--wait must not be negative, was " + wait);
        }
        if (backendUri == null || backendUri.isBlank()) {
            throw new ParameterException(spec.commandLine(), "--backend is required (or set DISTKIT_BACKEND)");
        }
        try {
            LockNames.check(name);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--name: " + e.getMessage(), e);
        }
        LockOptions options;
        try {
            options = LockOptions.builder().leaseTime(lease).build();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--lease: " + e.getMessage(), e);
        }
        Duration graceTime = grace != null ? grace : min(DEFAULT_MAX_GRACE, lease.dividedBy(10));
        if (graceTime.isNegative()) {
            throw new ParameterException(spec.commandLine(), "--grace must not be negative, was "
                    + DurationConverter.format(graceTime));
        }
        if (graceTime.compareTo(lease.dividedBy(2)) >= 0) {
            throw new ParameterException(spec.commandLine(), "--grace must be less than half the --lease ("
                    + DurationConverter.format(lease) + "), was " + DurationConverter.format(graceTime)
                    + ": the command is stopped when only --grace is left of a lease that cannot be renewed");
        }
        PrintWriter err = spec.commandLine().getErr();
        try (Backend backend = DistkitCommand.openBackend(spec, backendUri, Backend.poolSize(1, 1))) {
            LockClient client = backend.newLockClient();
            DistributedLock lock;
            try {
                lock = client.lock(name, options);
            } catch (IllegalArgumentException e) {
                // the name is checked above: what is left is the backend's verdict on the options
                throw new ParameterException(spec.commandLine(), "--lease: " + e.getMessage(), e);
            }
            Optional<LockHandle> acquired = lock.tryAcquire(wait);
            if (acquired.isEmpty()) {
                err.println("distkit lock: '" + name + "' is held by someone else; gave up after "
                        + DurationConverter.format(wait) + " (on " + backend.description() + ")");
                err.flush();
                return EXIT_NOT_ACQUIRED;
            }
            return new Holder(acquired.get(), options.renewInterval(), graceTime, err, backend).run();
        }
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    /**
     * Whether {@code process} still runs: alive, and not a zombie (dead, waiting for its parent to reap
     * it; {@link ProcessHandle#isAlive} counts those, and an orphan's new parent may take its time).
     * Where there is no {@code /proc}, as the JDK sees it.
     */
    static boolean running(ProcessHandle process) {
        if (!process.isAlive()) {
            return false;
        }
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(process.pid()), "stat"));
            int endOfName = stat.lastIndexOf(')'); // "pid (name) state ...", and a name may hold anything
            return endOfName < 0 || endOfName + 2 >= stat.length() || "ZXx".indexOf(stat.charAt(endOfName + 2)) < 0;
        } catch (NoSuchFileException gone) {
            return false;
        } catch (IOException | RuntimeException e) {
            return process.isAlive();
        }
    }

    /**
     * One run of the command under the lock. The monitor orders the start of the command against the
     * start of stopping it: a loss (or a signal to distkit) before the start keeps it from starting,
     * one after it stops it; there is no moment in between where it would be missed.
     */
    private final class Holder {
        private final LockHandle handle;
        private final Duration renewInterval;
        private final Duration grace;
        private final PrintWriter err;
        private final Backend backend;
        private final Thread shutdownHook;
        /** The command and every descendant seen since; dead ones are pruned as the watchdog goes. */
        private final Set<ProcessHandle> tree = ConcurrentHashMap.newKeySet();
        /** Counted down once stopping the tree has ended (only waited for when it began). */
        private final CountDownLatch stopped = new CountDownLatch(1);
        /** The lock was lost, or was about to be, while the command ran: its exit code 0 becomes 1. */
        private final AtomicBoolean lost = new AtomicBoolean();
        private final AtomicBoolean releasing = new AtomicBoolean();
        private final CompletableFuture<Void> released = new CompletableFuture<>();

        // guarded by this
        private @Nullable Process child;
        private boolean stopRequested;
        private boolean stopping;
        private boolean childEnded;
        private boolean lossReported;

        Holder(LockHandle handle, Duration renewInterval, Duration grace, PrintWriter err, Backend backend) {
            this.handle = handle;
            this.renewInterval = renewInterval;
            this.grace = grace;
            this.err = err;
            this.backend = backend;
            this.shutdownHook = new Thread(this::onShutdown, "distkit-lock-shutdown");
        }

        int run() throws InterruptedException {
            // first the listener and the hook, then the command: a loss or a signal at any moment is seen
            handle.onLost(this::onLost);
            Runtime.getRuntime().addShutdownHook(shutdownHook);
            try {
                return runCommand();
            } finally {
                try {
                    Runtime.getRuntime().removeShutdownHook(shutdownHook);
                } catch (IllegalStateException shuttingDown) {
                    // the hook is running: it waits for the same stop and release as this thread
                }
            }
        }

        /**
         * Runs the command under an {@link OrphanGuard}, which kills its process group should distkit die
         * while it runs (closed unless dismissed: an exception out of here counts as distkit's end).
         */
        private int runCommand() throws InterruptedException {
            try (OrphanGuard guard = OrphanGuard.start(this::say)) {
                return runCommand(guard);
            }
        }

        private int runCommand(OrphanGuard guard) throws InterruptedException {
            Process process;
            try {
                ProcessBuilder builder = new ProcessBuilder(guard.commandLine(command)).inheritIO();
                builder.environment().put(TOKEN_ENV, Long.toString(handle.fencingToken()));
                builder.environment().put(NAME_ENV, name);
                process = start(builder, guard);
            } catch (IOException e) {
                guard.dismiss();
                releaseOnce(); // a lost lock changes nothing here: the command never ran
                say("cannot run " + command.get(0) + ": " + DistkitCommand.describe(e));
                return EXIT_CANNOT_RUN;
            }
            if (process == null) {
                guard.dismiss();
                LockException failure = releaseOnce();
                synchronized (this) {
                    if (failure instanceof LockLostException) {
                        reportLoss(handle.lostReason().orElse(null), null);
                    }
                    say(lost.get() || failure instanceof LockLostException ? "the command was not started"
                            : "distkit is stopping; the command was not started");
                }
                return DistkitCommand.EXIT_FAILURE;
            }
            DaemonThreads.start("lock-watchdog", () -> watch(process));
            int code = process.waitFor();
            // a stop begun goes on until the descendants are gone too: only then may the lock go
            if (childEnded()) {
                if (!stopped.await(stopBound(), TimeUnit.NANOSECONDS)) {
                    say("the command's processes did not all end in time; releasing the lock all the same");
                }
                guard.killGroup(); // and what of its group the stop did not find
            } else {
                guard.dismiss(); // ended by itself: what it left running in the background may run on
            }
            finishRelease();
            return lost.get() && code == 0 ? DistkitCommand.EXIT_FAILURE : code;
        }

        /** Starts the command, guarded, unless stopping was asked for or the lock is no longer held. */
        private synchronized @Nullable Process start(ProcessBuilder builder, OrphanGuard guard) throws IOException {
            if (stopRequested || !handle.isHeld()) {
                return null;
            }
            Process process = builder.start();
            guard.guard(process.pid());
            child = process;
            tree.add(process.toHandle());
            return process;
        }

        /** The command has exited: a stop begun goes on (descendants), none begins. Returns whether one began. */
        private synchronized boolean childEnded() {
            childEnded = true;
            return stopping;
        }

        /**
         * Stops the command's tree, once: SIGTERM now, SIGKILL by {@code now + grace}, or by the lease's
         * deadline if that is sooner (at once if it has passed). Before the start it keeps the command
         * from starting.
         *
         * @return the pid of the command if this call began stopping it
         */
        private synchronized @Nullable Long requestStop() {
            stopRequested = true;
            Process process = child;
            if (process == null || stopping || childEnded) {
                return null;
            }
            stopping = true;
            long left = Math.max(0, remaining().toNanos());
            long killAt = System.nanoTime() + Math.min(grace.toNanos(), left);
            Thread stopper = new Thread(() -> {
                try {
                    stopTree(process, killAt);
                } finally {
                    stopped.countDown();
                }
            }, "distkit-lock-stop");
            stopper.setDaemon(false); // not inherited from the library thread a loss is reported on
            stopper.start();
            return process.pid();
        }

        /** Longer than a stop can take: its kill deadline, then every SIGKILL round. */
        private long stopBound() {
            return grace.toNanos() + KILL_WAIT.toNanos() * (KILL_ROUNDS + 2);
        }

        /** Time left of the lease by this client's conservative local deadline; negative once past. */
        private Duration remaining() {
            return Duration.between(Instant.now(), handle.leaseDeadline());
        }

        /**
         * The watchdog: stops the command when only {@code grace} is left of the lease. A lease renewed
         * on time never gets there: renewals come every third of the lease, and the grace is under half
         * of it, so the lease has then gone unrenewed for more than one and a half renewal intervals.
         * It wakes when that point would come and at least every quarter renewal interval (the deadline
         * moves with each renewal), and notes the command's descendants as it goes, so that one
         * orphaned by a parent that exits is still stopped.
         */
        private void watch(Process process) {
            long checkNanos = Math.max(TimeUnit.MILLISECONDS.toNanos(1), renewInterval.toNanos() / 4);
            try {
                for (;;) {
                    synchronized (this) {
                        if (stopping || childEnded) {
                            return;
                        }
                    }
                    tree.removeIf(p -> !p.isAlive());
                    process.descendants().forEach(tree::add);
                    Duration remaining = remaining();
                    long untilStop = remaining.minus(grace).toNanos();
                    if (untilStop <= 0) {
                        Long pid = requestStop();
                        if (pid != null) {
                            lost.set(true);
                            say("lock '" + name + "' could not be renewed and its lease " + (remaining.isNegative()
                                    ? "ran out " + DurationConverter.format(remaining.negated()) + " ago; stopping"
                                            + " the command (pid " + pid + ")"
                                    : "runs out in " + DurationConverter.format(remaining) + "; stopping the command"
                                            + " (pid " + pid + ") before it does"));
                        }
                        return;
                    }
                    long sleep = Math.max(TimeUnit.MILLISECONDS.toNanos(1), Math.min(untilStop, checkNanos));
                    if (process.waitFor(sleep, TimeUnit.NANOSECONDS)) {
                        return;
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /**
         * The lease is lost: on a library thread (quick), stops the command and says why ({@link
         * LockHandle#lostReason()}). The lost handle is released here (no backend call) and the line printed
         * under the monitor, so that the thread finishing the run, whose release then gets nothing, waits
         * for the line.
         */
        private synchronized void onLost() {
            lost.set(true);
            Long pid = requestStop();
            String reason = null;
            try {
                handle.release();
            } catch (LockLostException e) {
                reason = handle.lostReason().orElse(null);
            } catch (LockException e) {
                // not a loss: the release at the end reports it
            }
            reportLoss(reason, pid);
        }

        /** Says the lock was lost, once, and that the command is being stopped if {@code pid} is given. */
        private synchronized void reportLoss(@Nullable String reason, @Nullable Long pid) {
            String stopping = pid == null ? "" : "stopping the command (pid " + pid + ")";
            if (!lossReported) {
                lossReported = true;
                say("lost lock '" + name + "'" + (reason != null ? " (" + reason + ")" : "")
                        + (stopping.isEmpty() ? "" : "; " + stopping));
            } else if (!stopping.isEmpty()) {
                say(stopping);
            }
        }

        /** distkit is being stopped (Ctrl-C, kill): the command must not run on without the lock. */
        private void onShutdown() {
            Long pid = requestStop();
            if (pid != null) {
                say("distkit is stopping; stopping the command (pid " + pid + ")");
            }
            boolean began;
            synchronized (this) {
                began = stopping;
            }
            try {
                if (began) {
                    stopped.await(stopBound(), TimeUnit.NANOSECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            releaseOnce(); // the lock need not wait out its lease
            // before the JVM halts: an embedded database writes the release to its file as it closes
            backend.close();
        }

        /** SIGTERM to the whole tree, SIGKILL at {@code killAt} to all that is left of it, then make sure. */
        private void stopTree(Process process, long killAt) {
            Set<ProcessHandle> members = snapshot(process);
            members.forEach(ProcessHandle::destroy);
            awaitGone(members, killAt);
            // a member may have started others since the first look, or ignored the SIGTERM
            for (int round = 0; round < KILL_ROUNDS; round++) {
                Set<ProcessHandle> alive = snapshot(process);
                if (alive.isEmpty()) {
                    return;
                }
                alive.forEach(ProcessHandle::destroyForcibly);
                awaitGone(alive, System.nanoTime() + KILL_WAIT.toNanos());
            }
            Set<ProcessHandle> left = snapshot(process);
            if (!left.isEmpty()) {
                say(left.size() + " process(es) of the command still alive after SIGKILL: "
                        + left.stream().map(p -> Long.toString(p.pid())).toList());
            }
        }

        /** The command and every descendant of it or of a member seen before, still running now. */
        private Set<ProcessHandle> snapshot(Process process) {
            tree.add(process.toHandle());
            Set<ProcessHandle> found = new HashSet<>();
            for (ProcessHandle member : List.copyOf(tree)) {
                if (member.isAlive()) {
                    found.add(member);
                    member.descendants().forEach(found::add); // those of a zombie too: they are not
                }
            }
            tree.addAll(found);
            found.removeIf(p -> !running(p));
            return found;
        }

        /** Waits until none of {@code members} runs, or until {@code deadline}; whether none runs. */
        private boolean awaitGone(Set<ProcessHandle> members, long deadline) {
            Set<ProcessHandle> left = new HashSet<>(members);
            for (;;) {
                left.removeIf(p -> !running(p));
                long wait = deadline - System.nanoTime();
                if (left.isEmpty() || wait <= 0) {
                    return left.isEmpty();
                }
                try {
                    TimeUnit.NANOSECONDS.sleep(Math.min(wait, EXIT_POLL.toNanos()));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
        }

        /**
         * Releases the lock once, whoever calls (this thread, the shutdown hook); a second caller waits
         * for the first. Returns what the release threw, to its first caller only.
         */
        private @Nullable LockException releaseOnce() {
            if (!releasing.compareAndSet(false, true)) {
                try {
                    released.get(KILL_WAIT.toMillis() * 5, TimeUnit.MILLISECONDS);
                } catch (ExecutionException | TimeoutException e) {
                    // the first caller deals with it
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return null;
            }
            try {
                handle.release();
                return null;
            } catch (LockException e) {
                return e;
            } finally {
                released.complete(null);
            }
        }

        /** Releases the lock and says what went wrong with it, if anything. */
        private void finishRelease() {
            LockException failure = releaseOnce();
            synchronized (this) { // a listener that released first has printed its line once this is entered
                if (failure instanceof LockLostException) {
                    lost.set(true);
                    reportLoss(handle.lostReason().orElse(null), null);
                } else if (failure != null) {
                    // the command ran under the lock all the same: its code stands
                    say("could not release '" + name + "' (its lease runs out by itself): "
                            + DistkitCommand.describe(failure));
                }
            }
        }

        private void say(String line) {
            synchronized (err) {
                err.println("distkit lock: " + line);
                err.flush();
            }
        }
    }
}
