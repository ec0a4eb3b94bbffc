package io.distkit.testkit.process;

import io.distkit.lock.LockLostException;
import io.distkit.testkit.history.FencedRegister;
import io.distkit.testkit.history.History;
import io.distkit.testkit.history.Op;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * A lock holder in a child JVM ({@link LockHolderMain}), seen from the test: acquire, status,
 * release and lease-loss events over its line protocol, plus the process faults of {@link ChildJvm}.
 * This is what the paused-holder scenarios (docs/failures.md, F1 and F20) are built on:
 *
 * <pre>{@code
 * try (LockHolderProcess holder = LockHolderProcess.builder(redis.uri()).leaseTime(Duration.ofSeconds(1)).start()) {
 *     long token = holder.acquire("job", Duration.ZERO).orElseThrow();
 *     holder.pause();                                 // past the lease: a contender takes the lock
 *     ... contender acquires, writes register with its higher token ...
 *     holder.resume();
 *     assertThat(holder.write(register, 42)).isFalse();   // the stale token is refused
 *     holder.awaitLost(Duration.ofSeconds(5));
 *     assertThatThrownBy(holder::release).isInstanceOf(LockLostException.class);
 * }
 * }</pre>
 *
 * <p><b>Fenced writes are made by the test on the holder's behalf.</b> The resource
 * ({@link FencedRegister}) lives in the test JVM, so {@link #write} asks the holder for the token of
 * its last acquisition and presents that token to the register. A resumed process would send its
 * write with the token it had, without re-checking its lease first, so the write goes ahead whether
 * or not the holder still believes it holds the lock; the register's check is what is judged.
 *
 * <p>Each command waits at most the {@link Builder#replyTimeout reply timeout}; a paused holder does
 * not answer until resumed (use {@link #statusAsync()} to send a command across a pause). A holder
 * that exits fails every wait at once with its exit code and log tail. Commands from several threads
 * are answered in the order sent. Not meant for more than one lock per holder.
 *
 * <p>Cross-process exclusion (a contender in another JVM waiting for this holder's lease) needs a
 * backend reachable from two JVMs; those scenarios arrive with the first real backend module.
 */
public final class LockHolderProcess implements AutoCloseable {

    /** How long the child may take to start and connect. */
    public static final Duration DEFAULT_START_TIMEOUT = Duration.ofSeconds(60);
    /** How long a command may take to be answered by a running holder. */
    public static final Duration DEFAULT_REPLY_TIMEOUT = Duration.ofSeconds(30);

    private static final String PREFIX = LockHolderMain.PREFIX;
    private static final String EVENT = PREFIX + "event ";

    /**
     * What the holder reported about its last acquisition.
     *
     * @param token its fencing token, or {@link Op#NONE} if it never acquired a lock
     * @param held whether its handle still reports {@code isHeld()}
     */
    public record Status(long token, boolean held) {
        /** Whether the holder has acquired a lock at some point. */
        public boolean hasToken() {
            return token != Op.NONE;
        }
    }

    private final ChildJvm jvm;
    private final String processName;
    private final Duration replyTimeout;
    private @Nullable String lockName;

    private LockHolderProcess(ChildJvm jvm, String processName, Duration replyTimeout) {
        this.jvm = jvm;
        this.processName = processName;
        this.replyTimeout = replyTimeout;
    }

    /** A holder that will connect to {@code backend} with {@link io.distkit.lock.LockClients#connect(URI)}. */
    public static Builder builder(URI backend) {
        return new Builder(Objects.requireNonNull(backend, "backend"));
    }

    /** {@link #builder(URI)} for a string. */
    public static Builder builder(String backend) {
        return builder(URI.create(Objects.requireNonNull(backend, "backend")));
    }

    /**
     * Tries for at most {@code wait} to acquire {@code name}.
     *
     * @return the fencing token, or empty if the lock stayed busy
     * @throws IllegalArgumentException if {@code name} holds a line break or {@code wait} is negative
     * @throws IllegalStateException if the holder already holds a lock, reports an error (the
     *     message is its exception), exits, or does not answer in time
     */
    public OptionalLong acquire(String name, Duration wait) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(wait, "wait");
        if (wait.isNegative()) {
            throw new IllegalArgumentException("wait must not be negative, was " + wait);
        }
        String reply = call("acquire " + name + " " + wait.toMillis(), r -> r);
        if (reply.equals("busy")) {
            return OptionalLong.empty();
        }
        long token = Long.parseLong(expect(reply, "acquired "));
        lockName = name;
        return OptionalLong.of(token);
    }

    /** The token of the holder's last acquisition and whether it still holds it. */
    public Status status() {
        return await(statusAsync());
    }

    /**
     * Sends {@code status} and returns at once. The future completes when the holder answers (a
     * paused holder answers only after {@link #resume()}), or exceptionally if it exits first. Later
     * commands are answered after this one.
     */
    public CompletableFuture<Status> statusAsync() {
        return send("status", reply -> {
            String[] parts = expect(reply, "status ").split(" ");
            return new Status(parts[0].equals("-") ? Op.NONE : Long.parseLong(parts[0]), Boolean.parseBoolean(parts[1]));
        });
    }

    /**
     * Releases the holder's lock, like {@link io.distkit.lock.LockHandle#release()} in the child.
     *
     * @throws LockLostException if the holder's handle reports that its lease was lost first
     * @throws IllegalStateException if nothing was acquired, the release failed (the message is the
     *     child's exception), or the holder does not answer
     */
    public void release() {
        String reply = call("release", r -> r);
        if (reply.startsWith("lost ")) {
            String message = reply.substring("lost ".length());
            String name = lockName == null ? "?" : lockName;
            String ownPrefix = "lock '" + name + "': ";
            throw new LockLostException(name, "(in " + processName + ") "
                    + (message.startsWith(ownPrefix) ? message.substring(ownPrefix.length()) : message));
        }
        expect(reply, "released");
    }

    /**
     * Waits at most {@code timeout} for the holder to report that its lease was lost (its handle's
     * {@code onLost} fired). Each loss is reported once.
     *
     * @return the token of the lost lease
     * @throws IllegalStateException if no loss is reported in time or the holder exits first
     */
    public long awaitLost(Duration timeout) {
        String line = jvm.awaitLine(l -> l.startsWith(EVENT + "lost "), timeout);
        String rest = line.substring((EVENT + "lost ").length());
        return Long.parseLong(rest.substring(0, rest.indexOf(' ')));
    }

    /**
     * The protected write, made on the holder's behalf: presents the token the holder reports for
     * its last acquisition (held or not: see the class comment) to {@code register} under this
     * holder's {@link #processName()}.
     *
     * @return whether the register accepted the write
     * @throws IllegalStateException if the holder never acquired a lock or does not answer
     */
    public boolean write(FencedRegister register, long value) {
        Objects.requireNonNull(register, "register");
        Status status = status();
        if (!status.hasToken()) {
            throw new IllegalStateException(processName + " has no token to write with: it never acquired a lock");
        }
        return register.write(processName, status.token(), value);
    }

    /**
     * The ops the holder has printed so far (acquires, releases, losses) as a history to
     * {@link History#merge merge} with the test's own. Ops of a killed holder are kept up to its death.
     */
    public History history() {
        return History.parse(jvm.lines().stream());
    }

    /** The name of the holder's ops in {@link #history()} and of its writes. */
    public String processName() {
        return processName;
    }

    /** SIGSTOP; see {@link ChildJvm#pause()}. */
    public void pause() {
        jvm.pause();
    }

    /** SIGCONT; see {@link ChildJvm#resume()}. */
    public void resume() {
        jvm.resume();
    }

    /** SIGKILL, returning once the process is gone; see {@link ChildJvm#kill()}. */
    public void kill() {
        jvm.kill();
    }

    public boolean isAlive() {
        return jvm.isAlive();
    }

    public long pid() {
        return jvm.pid();
    }

    /** The child JVM itself, for its raw lines, log and exit code. */
    public ChildJvm jvm() {
        return jvm;
    }

    /**
     * Asks the holder to close its client (which releases what it holds) and exit, and waits for it.
     *
     * @return the exit code: 0 unless something went wrong on the way out
     * @throws IllegalStateException if it does not say goodbye, or does not exit, within the reply
     *     timeout (it is then killed)
     */
    public int exit() {
        await(send("exit", r -> expect(r, "bye")));
        OptionalInt code = jvm.awaitExit(replyTimeout);
        if (code.isEmpty()) {
            jvm.kill();
            throw new IllegalStateException(processName + " said goodbye but was still alive after " + replyTimeout
                    + "; killed it. stderr:\n" + jvm.logTail(30));
        }
        return code.getAsInt();
    }

    /** Kills the holder if it is still alive (no release: use {@link #exit()} for that). Idempotent. */
    @Override
    public void close() {
        jvm.close();
    }

    @Override
    public String toString() {
        return "lock holder " + processName + " (" + jvm + ")";
    }

    private <T> T call(String command, Function<String, T> parse) {
        return await(send(command, parse));
    }

    /** Registers for the next reply before sending, under one lock, so replies pair with commands in order. */
    private synchronized <T> CompletableFuture<T> send(String command, Function<String, T> parse) {
        CompletableFuture<String> reply = jvm.nextLine(l -> l.startsWith(PREFIX) && !l.startsWith(EVENT));
        try {
            jvm.send(command);
        } catch (RuntimeException e) {
            reply.cancel(false);
            throw e;
        }
        return reply.thenApply(line -> {
            String body = line.substring(PREFIX.length());
            if (body.startsWith("error ")) {
                throw new IllegalStateException(processName + " failed '" + command + "': " + body.substring(6));
            }
            return parse.apply(body);
        });
    }

    private <T> T await(CompletableFuture<T> future) {
        try {
            return future.orTimeout(replyTimeout.toNanos(), TimeUnit.NANOSECONDS).join();
        } catch (CompletionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof TimeoutException) {
                throw new IllegalStateException(processName + " did not answer within " + replyTimeout
                        + (jvm.isPaused() ? " (it is paused)" : "") + "; stderr:\n" + jvm.logTail(30), cause);
            }
            if (cause instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw e;
        }
    }

    private String expect(String reply, String keyword) {
        if (!reply.startsWith(keyword)) {
            throw new IllegalStateException(processName + ": expected '" + keyword.strip() + "...', got '" + reply + "'");
        }
        return reply.substring(keyword.length());
    }

    /** Configures and starts a {@link LockHolderProcess}. */
    public static final class Builder {
        private final URI backend;
        private @Nullable Duration leaseTime;
        private @Nullable Boolean autoRenew;
        private @Nullable String processName;
        private final List<String> jvmArgs = new ArrayList<>();
        private final Map<String, String> environment = new LinkedHashMap<>();
        private Duration startTimeout = DEFAULT_START_TIMEOUT;
        private Duration replyTimeout = DEFAULT_REPLY_TIMEOUT;

        private Builder(URI backend) {
            this.backend = backend;
        }

        /**
         * The lease of the holder's locks; default: the client's default options.
         *
         * @throws IllegalArgumentException if under one millisecond
         */
        public Builder leaseTime(Duration leaseTime) {
            Objects.requireNonNull(leaseTime, "leaseTime");
            if (leaseTime.toMillis() < 1) {
                throw new IllegalArgumentException("leaseTime must be at least 1 ms, was " + leaseTime);
            }
            this.leaseTime = leaseTime;
            return this;
        }

        /** Whether the holder renews in the background; default: the client's default options. */
        public Builder autoRenew(boolean autoRenew) {
            this.autoRenew = autoRenew;
            return this;
        }

        /**
         * The process name of the holder's ops and writes; must be unique among merged histories.
         * Default: {@code holder-<pid>}.
         */
        public Builder processName(String processName) {
            Objects.requireNonNull(processName, "processName");
            if (processName.isBlank() || processName.chars().anyMatch(Character::isWhitespace)) {
                throw new IllegalArgumentException("processName must be non-blank without whitespace, was '"
                        + processName + "'");
            }
            this.processName = processName;
            return this;
        }

        /** Extra JVM options for the child (a system property the backend reads, say). */
        public Builder jvmArgs(String... jvmArgs) {
            for (String arg : jvmArgs) {
                this.jvmArgs.add(Objects.requireNonNull(arg, "jvm arg"));
            }
            return this;
        }

        /**
         * Environment variables for the child JVM on top of this JVM's, e.g.
         * {@link io.distkit.testkit.server.FakeTime#environment()} for a holder whose wall clock is
         * wrong (F18). See {@link ChildJvm.Builder#environment(Map)}; calls add up, later values win.
         *
         * @throws NullPointerException if the map, a name or a value is null
         * @throws IllegalArgumentException if a name or value cannot be in an environment
         */
        public Builder environment(Map<String, String> environment) {
            Map<String, String> copy = new LinkedHashMap<>(Objects.requireNonNull(environment, "environment"));
            ChildJvm.builder(LockHolderMain.class).environment(copy); // checks now rather than at start()
            this.environment.putAll(copy);
            return this;
        }

        /** How long {@link #start()} waits for the holder to be connected; default 60 s. */
        public Builder startTimeout(Duration startTimeout) {
            this.startTimeout = positive(startTimeout, "startTimeout");
            return this;
        }

        /** How long each command waits for its reply; default 30 s. */
        public Builder replyTimeout(Duration replyTimeout) {
            this.replyTimeout = positive(replyTimeout, "replyTimeout");
            return this;
        }

        /**
         * Starts the child and waits until it has connected to the backend.
         *
         * @throws IllegalStateException if it exits first (a bad URI, an unreachable backend: the
         *     message quotes its stderr) or is not ready within the start timeout
         */
        public LockHolderProcess start() {
            List<String> args = new ArrayList<>(List.of(backend.toString()));
            if (leaseTime != null) {
                args.add(LockHolderMain.LEASE_MS + leaseTime.toMillis());
            }
            if (autoRenew != null) {
                args.add(LockHolderMain.AUTO_RENEW + autoRenew);
            }
            if (processName != null) {
                args.add(LockHolderMain.PROCESS + processName);
            }
            ChildJvm jvm = ChildJvm.builder(LockHolderMain.class)
                    .name(processName != null ? processName : "holder")
                    .jvmArgs(jvmArgs.toArray(String[]::new))
                    .environment(environment)
                    .args(args.toArray(String[]::new))
                    .start();
            try {
                jvm.awaitLine(l -> l.startsWith(PREFIX + "ready "), startTimeout);
            } catch (RuntimeException e) {
                jvm.close();
                throw e;
            }
            return new LockHolderProcess(jvm, processName != null ? processName : "holder-" + jvm.pid(), replyTimeout);
        }

        private static Duration positive(Duration d, String what) {
            Objects.requireNonNull(d, what);
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(what + " must be positive, was " + d);
            }
            return d;
        }
    }
}
