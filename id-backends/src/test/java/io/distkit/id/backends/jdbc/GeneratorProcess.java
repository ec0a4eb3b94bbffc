package io.distkit.id.backends.jdbc;

import io.distkit.testkit.process.ChildJvm;
import io.distkit.testkit.server.FakeTime;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;

/**
 * The test's side of a {@link GeneratorMain} child JVM: commands and their replies, paired in order,
 * the child's status parsed, and the ids it wrote read back. Every wait is bounded.
 */
final class GeneratorProcess implements AutoCloseable {

    static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    static final Duration REPLY_TIMEOUT = Duration.ofSeconds(60);
    private static final String PREFIX = GeneratorMain.PREFIX;
    private static final String EVENT = PREFIX + "event ";

    /** What {@code start} reports: the worker id, the mark its lease read, how long the build took, the child's wall clock then. */
    record Started(int workerId, long mark, long waitedMillis, long wallMillis) {}

    /** What {@code status} and {@code stop} report; timestamps in ms of the layout, -1 before the first id. */
    record Status(long count, long first, long last, long lastOkInvoke, long clockErrors, long unavailable, int gens,
            int lost, int cuts, int buildFailures, String workers, String phase, long left,
            String state, String error) {}

    /**
     * One worker lease the child acquired: its worker id, the number of the generator that took it (1, 2, ...
     * in the order the child built them), and in {@link System#nanoTime()} (system-wide on Linux) when its
     * acquire returned, when it began to close, when its loss listener ran; -1 for what has not happened.
     */
    record Lease(int workerId, int generator, long acquiredAt, long closedAt, long lostAt) {

        /** Acquired before {@code from} and not closed before {@code to}: held all the time between. */
        boolean heldThroughout(long from, long to) {
            return acquiredAt - from < 0 && (closedAt == -1 || closedAt - to > 0);
        }

        boolean lost() {
            return lostAt != -1;
        }
    }

    private final String name;
    private final ChildJvm jvm;
    private final Path outDir;

    private GeneratorProcess(String name, ChildJvm jvm, Path outDir) {
        this.name = name;
        this.jvm = jvm;
        this.outDir = outDir;
    }

    /** Starts the child; call {@link #awaitReady()} before the first command (so that several can start at once). */
    static GeneratorProcess launch(String name, String jdbcUrl, String user, String password, String table, Path outDir,
            @Nullable FakeTime clock) {
        ChildJvm.Builder builder = ChildJvm.builder(GeneratorMain.class).name(name)
                .args(jdbcUrl, user, password, table, outDir.toString());
        if (clock != null) {
            builder.environment(clock.environment());
        }
        return new GeneratorProcess(name, builder.start(), outDir);
    }

    GeneratorProcess awaitReady() {
        jvm.awaitLine(l -> l.startsWith(PREFIX + "ready "), START_TIMEOUT);
        return this;
    }

    String name() {
        return name;
    }

    /** Sends {@code command}; the future completes with the reply, without the prefix ("error ..." included). */
    synchronized CompletableFuture<String> send(String command) {
        CompletableFuture<String> reply = jvm.nextLine(l -> l.startsWith(PREFIX) && !l.startsWith(EVENT)
                && !l.startsWith(PREFIX + "ready "));
        try {
            jvm.send(command);
        } catch (RuntimeException e) {
            reply.cancel(false);
            throw e;
        }
        return reply.thenApply(line -> line.substring(PREFIX.length()));
    }

    /** Sends {@code command} and returns its reply, failing on an {@code error} reply. */
    String call(String command) {
        String reply = await(send(command), REPLY_TIMEOUT);
        if (reply.startsWith("error ")) {
            throw new IllegalStateException(name + " failed '" + command + "': " + reply.substring(6));
        }
        return reply;
    }

    /** The reply, waiting at most {@code timeout}. */
    <T> T await(CompletableFuture<T> future, Duration timeout) {
        try {
            return future.orTimeout(timeout.toNanos(), TimeUnit.NANOSECONDS).join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof TimeoutException) {
                throw new IllegalStateException(name + " did not answer within " + timeout
                        + (jvm.isPaused() ? " (it is paused)" : "") + "; stderr:\n" + jvm.logTail(40), e.getCause());
            }
            throw e;
        }
    }

    Started start(String options) {
        return parseStarted(call("start " + options));
    }

    static Started parseStarted(String reply) {
        Map<String, String> fields = fields(reply, "started ");
        return new Started(Integer.parseInt(fields.get("worker")), Long.parseLong(fields.get("mark")),
                Long.parseLong(fields.get("waitedMs")), Long.parseLong(fields.get("wall")));
    }

    Status status() {
        return parseStatus(call("status"), "status ");
    }

    /** Stops the generator thread (or the churn after its current generator) and flushes the ids. */
    Status stop() {
        return parseStatus(call("stop"), "stopped ");
    }

    /** The child's {@code System.currentTimeMillis()} minus this JVM's, from one round trip. */
    Duration clockOffset() {
        long before = System.currentTimeMillis();
        String reply = call("now");
        long after = System.currentTimeMillis();
        long childMillis = Long.parseLong(reply.split(" ")[1]);
        return Duration.ofMillis(childMillis - (before + after) / 2);
    }

    /** The {@code Instant.now()} of the child minus this JVM's, from one round trip. */
    Duration instantOffset() {
        long before = System.currentTimeMillis();
        String reply = call("now");
        long after = System.currentTimeMillis();
        return Duration.ofMillis(Long.parseLong(reply.split(" ")[2]) - (before + after) / 2);
    }

    /** Every worker lease the child acquired so far, in the order acquired. */
    List<Lease> leases() {
        String reply = call("leases");
        if (!reply.startsWith("leases")) {
            throw new IllegalStateException("expected 'leases ...', got '" + reply + "'");
        }
        return Stream.of(reply.substring("leases".length()).trim().split(" ")).filter(w -> !w.isEmpty()).map(w -> {
            String[] f = w.split(":");
            return new Lease(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3]),
                    Long.parseLong(f[4]));
        }).toList();
    }

    /** Waits for the child to report a lease loss ({@code event lost <workerId>}). */
    int awaitLost(Duration timeout) {
        String line = jvm.awaitLine(l -> l.startsWith(EVENT + "lost "), timeout);
        return Integer.parseInt(line.substring((EVENT + "lost ").length()).trim());
    }

    /** Every lease loss the child reported so far. */
    long lostEvents() {
        return jvm.lines().stream().filter(l -> l.startsWith(EVENT + "lost ")).count();
    }

    void pause() {
        jvm.pause();
    }

    void resume() {
        jvm.resume();
    }

    /**
     * The ids of every generator the child ran, in the order each returned them, by
     * {@code <name>/<file>}; only what was flushed ({@link #stop()}, {@code close}, the end of a churn generator).
     */
    Map<String, long[]> ids() {
        Map<String, long[]> ids = new LinkedHashMap<>();
        try (Stream<Path> files = Files.list(outDir)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".ids")).sorted().toList()) {
                byte[] bytes = Files.readAllBytes(file);
                long[] values = new long[bytes.length / Long.BYTES];
                ByteBuffer.wrap(bytes).asLongBuffer().get(values);
                ids.put(name + "/" + file.getFileName(), values);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return ids;
    }

    /** The worker id in a label of {@link #ids()}. */
    static int workerOf(String label) {
        String file = label.substring(label.lastIndexOf('/') + 1);
        return Integer.parseInt(file.substring(file.indexOf("-worker-") + "-worker-".length(), file.length() - 4));
    }

    List<String> lines() {
        return jvm.lines();
    }

    String logTail(int lines) {
        return jvm.logTail(lines);
    }

    @Override
    public void close() {
        jvm.close();
    }

    @Override
    public String toString() {
        return "generator " + name + " (" + jvm + ")";
    }

    private static Status parseStatus(String reply, String keyword) {
        Map<String, String> f = fields(reply, keyword);
        return new Status(Long.parseLong(f.get("count")), Long.parseLong(f.get("first")), Long.parseLong(f.get("last")),
                Long.parseLong(f.get("lastOkInvoke")), Long.parseLong(f.get("clockErrors")),
                Long.parseLong(f.get("unavailable")), Integer.parseInt(f.get("gens")), Integer.parseInt(f.get("lost")),
                Integer.parseInt(f.get("cuts")), Integer.parseInt(f.get("buildFailures")), f.get("workers"),
                f.get("phase"), Long.parseLong(f.get("left")), f.get("state"), Objects.requireNonNullElse(f.get("error"), ""));
    }

    /** {@code key=value} words after {@code keyword}; {@code error=} takes the rest of the line. */
    private static Map<String, String> fields(String reply, String keyword) {
        if (!reply.startsWith(keyword)) {
            throw new IllegalStateException("expected '" + keyword.strip() + " ...', got '" + reply + "'");
        }
        String rest = reply.substring(keyword.length());
        Map<String, String> fields = new LinkedHashMap<>();
        int errorAt = rest.indexOf(" error=");
        if (errorAt >= 0) {
            fields.put("error", rest.substring(errorAt + " error=".length()));
            rest = rest.substring(0, errorAt);
        }
        for (String word : rest.trim().split(" ")) {
            int eq = word.indexOf('=');
            if (eq > 0) {
                fields.put(word.substring(0, eq), word.substring(eq + 1));
            }
        }
        return fields;
    }
}
