package io.distkit.cli;

import io.distkit.common.DaemonThreads;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.IdStore;
import io.distkit.id.SegmentAllocator;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.segment.InMemorySegmentAllocator;
import io.distkit.id.segment.SegmentIdGenerator;
import io.distkit.id.snowflake.SnowflakeIdGenerator;
import io.distkit.id.snowflake.SnowflakeLayout;
import io.distkit.id.snowflake.StaticWorkerIdAssigner;
import io.distkit.lock.DistributedLock;
import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockLostException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code distkit demo}: what distkit does, in ten seconds, on nothing but the JVM.
 *
 * <p>Workers in two lock clients take one lock in turn; each holder reads a {@link FencedRegister},
 * waits a moment (its "work") and writes the value back plus one with its fencing token.
 * Meanwhile a snowflake and a segment generator make ids on threads of their own. At the end the
 * run is checked: tokens strictly increased (the register saw no equal or lower token), no update
 * was lost (the register holds exactly one increment per acquisition, less the writes it refused as
 * stale), the ids are all distinct, and no thread is still busy {@link #STUCK_AFTER} after the end.
 * The exit code is 1 if any check failed.
 *
 * <p>The backend is an H2 database in a new directory under the temp dir, deleted afterwards, or
 * any lock backend through {@code --backend}. Worker ids and segments come from the database's
 * tables where the backend is one, otherwise from a fixed worker id and an in-memory allocator.
 * A shutdown hook closes the backend if the demo is interrupted (Ctrl-C): the lock clients release,
 * the embedded database's directory is deleted.
 */
@Command(name = "demo",
        sortOptions = false,
        usageHelpAutoWidth = true,
        description = {
            "Shows distkit at work on an embedded database: no server needed.",
            "",
            "8 workers in 2 lock clients take one lock in turn and increment a shared register under it,"
                    + " passing their fencing tokens, while a snowflake and a segment generator make ids. The"
                    + " summary's checks (tokens strictly increasing, no lost update, no duplicate id) set the"
                    + " exit code: 0 when all pass, 1 otherwise.",
            "",
            "The default backend is an H2 database in a new directory under the temp dir, deleted afterwards."},
        footerHeading = "%nExamples:%n",
        footer = {
            "  distkit demo",
            "  distkit demo --duration 3s",
            "  distkit demo --backend redis://localhost:6379",
            "  distkit demo --backend 'jdbc:postgresql://localhost/app?user=app'"})
final class DemoCommand implements Callable<Integer> {

    /** Lock clients the workers are spread over. */
    static final int CLIENTS = 2;
    /** Threads per id generator: two, so that the duplicate check covers concurrent callers. */
    static final int ID_THREADS = 2;
    /** How long a holder "works" between reading and writing the register: long enough for a broken lock to show. */
    static final long WORK_NANOS = TimeUnit.MICROSECONDS.toNanos(100);
    /**
     * At most this long, at random, a worker does other things between a release and its next acquire.
     * Without it the worker that just released takes the lock again at once, before any waiter polling
     * a database notices it was free.
     */
    static final long THINK_NANOS = TimeUnit.MILLISECONDS.toNanos(2);
    static final Duration MIN_DURATION = Duration.ofMillis(100);
    static final Duration MAX_DURATION = Duration.ofMinutes(10);
    static final long MAX_IDS = 50_000_000;
    static final String SEGMENT_TAG = "distkit-demo";
    /**
     * How long after the end of the run the threads get to return: longer than any one operation may
     * take (the lock engine gives a JDBC operation 2 × 5 s + 1 s). A thread still busy then is reported
     * as a failed check, and left behind (it is a daemon thread).
     */
    static final Duration STUCK_AFTER = Duration.ofSeconds(12);

    private final boolean terminal;

    @Spec
    CommandSpec spec;

    @Mixin
    HelpOption help;

    @Option(names = "--backend", paramLabel = "URI",
            description = "Lock backend: redis://host:port, redlock://h1:port,h2:port,h3:port, etcd://host:2379, zookeeper://host:2181[/chroot],"
                    + " jdbc:postgresql://..., any jdbc: URL (distkit's tables are created if missing). Default: an"
                    + " embedded H2 database.")
    @Nullable String backendUri;

    @Option(names = "--duration", paramLabel = "DURATION", defaultValue = "10s", converter = DurationConverter.class,
            description = "How long the workers run (default: ${DEFAULT-VALUE}; e.g. 500ms, 3s, 1m).")
    Duration duration = Duration.ofSeconds(10);

    @Option(names = "--workers", paramLabel = "N", defaultValue = "8",
            description = "Workers contending for the lock, spread over 2 lock clients (default: ${DEFAULT-VALUE}).")
    int workers = 8;

    @Option(names = "--ids", paramLabel = "N", defaultValue = "2000000",
            description = "Ids each generator makes at most (default: ${DEFAULT-VALUE}); all are kept in memory,"
                    + " 8 bytes each, for the duplicate check.")
    long ids = 2_000_000;

    @Option(names = "--lock", paramLabel = "NAME", defaultValue = "distkit-demo",
            description = "Name of the lock (default: ${DEFAULT-VALUE}).")
    String lockName = "distkit-demo";

    DemoCommand(boolean terminal) {
        this.terminal = terminal;
    }

    @Override
    public Integer call() throws InterruptedException {
        if (duration.compareTo(MIN_DURATION) < 0 || duration.compareTo(MAX_DURATION) > 0) {
            throw new ParameterException(spec.commandLine(), "--duration must be between "
                    + DurationConverter.format(MIN_DURATION) + " and 10 min, was " + DurationConverter.format(duration));
        }
        if (workers < CLIENTS || workers > 64) {
            throw new ParameterException(spec.commandLine(), "--workers must be between 2 and 64, was " + workers);
        }
        if (ids < 1 || ids > MAX_IDS) {
            throw new ParameterException(spec.commandLine(), "--ids must be between 1 and " + MAX_IDS + ", was " + ids);
        }
        PrintWriter out = spec.commandLine().getOut();
        int poolSize = Backend.poolSize(workers, CLIENTS);
        Backend backend = backendUri == null ? Backend.embeddedH2(poolSize)
                : DistkitCommand.openBackend(spec, backendUri, poolSize);
        // Ctrl-C, kill: the lock clients release and the embedded database's directory goes, as at the end
        Thread cleanup = new Thread(backend::close, "distkit-demo-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        try {
            return run(backend, out);
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException shuttingDown) {
                // the hook is closing the backend; close() below waits for it
            }
            backend.close();
        }
    }

    private int run(Backend backend, PrintWriter out) throws InterruptedException {
        List<DistributedLock> locks = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
            LockClient client = backend.newLockClient();
            locks.add(client.lock(lockName));
        }
        IdStore store = null;
        String noStore = null;
        try {
            store = backend.openIdStore();
        } catch (IllegalArgumentException | IdSourceUnavailableException e) {
            noStore = DistkitCommand.describe(e);
        }
        WorkerIdAssigner workerIds = store != null ? store.workerIdAssigner() : backend.register(StaticWorkerIdAssigner.of(1));
        SnowflakeIdGenerator snowflake = backend.register(SnowflakeIdGenerator.builder(SnowflakeLayout.TWITTER)
                .workerIdAssigner(workerIds)
                .build());
        SegmentAllocator allocator = store != null ? store.segmentAllocator() : new InMemorySegmentAllocator();
        SegmentIdGenerator segment = backend.register(SegmentIdGenerator.builder(allocator, SEGMENT_TAG).build());

        out.printf("distkit demo on %s%n", backend.description());
        out.printf("  locks: %d workers in %d lock clients take lock '%s' in turn for %s.%n",
                workers, CLIENTS, lockName, DurationConverter.format(duration));
        out.printf("         Each holder reads a shared register, works 0.1 ms and writes back%n");
        out.printf("         value + 1 with its fencing token; the register refuses lower tokens.%n");
        out.printf("  ids:   snowflake (TWITTER layout, worker id %d, %s)%n", snowflake.workerId(),
                store != null ? "leased from the backend" : "fixed: no id store here (" + noStore + ")");
        out.printf("         and segment (tag '%s', ranges from %s),%n", SEGMENT_TAG,
                store != null ? "the backend" : "memory");
        out.printf("         %s ids each on %d threads, all checked for duplicates.%n%n", grouped(ids), ID_THREADS);
        out.flush();

        FencedRegister register = new FencedRegister();
        LongAdder[] acquisitions = {new LongAdder(), new LongAdder()};
        LongAdder lostLeases = new LongAdder();
        List<Histogram> waits = new ArrayList<>();
        AtomicReference<@Nullable Throwable> workerFailure = new AtomicReference<>();
        List<IdRun> idRuns = List.of(new IdRun("snowflake", snowflake, ids), new IdRun("segment", segment, ids));

        long start = System.nanoTime();
        long deadline = start + duration.toNanos();
        CountDownLatch done = new CountDownLatch(workers + idRuns.size() * ID_THREADS);
        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < workers; w++) {
            int client = w % CLIENTS;
            Histogram histogram = new Histogram(3);
            waits.add(histogram);
            threads.add(thread("demo-worker", done, () -> work(locks.get(client), register,
                    histogram, acquisitions[client], lostLeases, workerFailure, deadline)));
        }
        for (IdRun run : idRuns) {
            run.start();
            for (int t = 0; t < ID_THREADS; t++) {
                threads.add(thread("demo-" + run.name(), done, () -> run.work(deadline)));
            }
        }
        threads.forEach(Thread::start);

        Progress progress = new Progress(out, terminal, start, acquisitions, idRuns);
        long giveUpAt = deadline + STUCK_AFTER.toNanos();
        long tick = TimeUnit.MILLISECONDS.toNanos(terminal ? 200 : 1000);
        while (!done.await(Math.max(0, Math.min(tick, giveUpAt - System.nanoTime())), TimeUnit.NANOSECONDS)) {
            if (System.nanoTime() - giveUpAt >= 0) {
                break;
            }
            progress.show();
        }
        progress.clear();
        List<String> stuck = new ArrayList<>();
        for (Thread t : threads) {
            t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(giveUpAt - System.nanoTime()))); // join(0) never returns
            if (t.isAlive()) {
                stuck.add(t.getName()); // a daemon thread: left behind, reported below
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;

        Histogram allWaits = new Histogram(3);
        waits.forEach(allWaits::add);
        return summary(out, seconds, register.snapshot(), acquisitions, lostLeases.sum(), allWaits,
                workerFailure.get(), idRuns.stream().map(IdRun::result).toList(), stuck);
    }

    /** A daemon thread {@code distkit-<purpose>-<n>} that counts {@code done} down when {@code body} ends. */
    private static Thread thread(String purpose, CountDownLatch done, Runnable body) {
        return DaemonThreads.factory(purpose).newThread(() -> {
            try {
                body.run();
            } finally {
                done.countDown();
            }
        });
    }

    /** One worker: acquire, read, work, write with the token, release; until the deadline. */
    private static void work(DistributedLock lock, FencedRegister register, Histogram waits, LongAdder acquisitions,
            LongAdder lostLeases, AtomicReference<@Nullable Throwable> failure, long deadline) {
        try {
            for (;;) {
                long before = System.nanoTime();
                long left = deadline - before;
                if (left <= 0) {
                    return;
                }
                Optional<LockHandle> acquired = lock.tryAcquire(Duration.ofNanos(left));
                if (acquired.isEmpty()) {
                    return;
                }
                waits.recordValue(System.nanoTime() - before);
                try (LockHandle handle = acquired.get()) {
                    acquisitions.increment();
                    long value = register.read();
                    LockSupport.parkNanos(WORK_NANOS);
                    register.write(handle.fencingToken(), value + 1);
                } catch (LockLostException e) {
                    lostLeases.increment();
                }
                LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(THINK_NANOS + 1));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException | Error e) {
            failure.compareAndSet(null, e);
        }
    }

    private int summary(PrintWriter out, double seconds, FencedRegister.Snapshot reg, LongAdder[] acquisitions,
            long lostLeases, Histogram waits, @Nullable Throwable workerFailure, List<IdRun.Result> idResults,
            List<String> stuck) {
        Table table = new Table();
        long total = acquisitions[0].sum() + acquisitions[1].sum();
        table.row("lock acquisitions", String.format(Locale.ROOT, "%s in %.1f s (client 1: %s, client 2: %s)",
                grouped(total), seconds, grouped(acquisitions[0].sum()), grouped(acquisitions[1].sum())),
                total > 0);
        table.row("lock wait p50 / p99", total == 0 ? "-" : millis(waits.getValueAtPercentile(50)) + " / "
                + millis(waits.getValueAtPercentile(99)), null);
        table.row("fencing tokens", reg.accepted() == 0 ? "none"
                : reg.tokensStrictlyIncreasing()
                        ? grouped(reg.accepted()) + " strictly increasing, " + reg.firstToken() + " .. " + reg.lastToken()
                        : "NOT strictly increasing: " + reg.repeated() + " repeated, " + reg.refused() + " refused as stale",
                reg.accepted() > 0 && reg.tokensStrictlyIncreasing());
        // counted against the workers' own tally, not the register's: every acquisition makes one increment,
        // and only the writes the register refused as stale may be missing from it
        long lost = total - reg.refused() - reg.value();
        table.row("lost updates", grouped(lost) + " (register " + grouped(reg.value()) + "; acquisitions "
                + grouped(total) + " - refused " + grouped(reg.refused()) + ")", lost == 0);
        if (lostLeases > 0) {
            table.row("leases lost", grouped(lostLeases), false);
        }
        if (workerFailure != null) {
            table.row("lock errors", DistkitCommand.describe(workerFailure), false);
        }
        if (!stuck.isEmpty()) {
            table.row("stuck threads", stuck.size() + " still busy " + DurationConverter.format(STUCK_AFTER)
                    + " after the end: " + String.join(", ", stuck), false);
        }
        for (IdRun.Result r : idResults) {
            table.row(r.name() + " ids", String.format(Locale.ROOT, "%s in %.2f s: %s ids/s", grouped(r.count()),
                    r.nanos() / 1e9, grouped(Math.round(r.idsPerSecond()))), r.count() > 0 && r.failure() == null);
            table.row(r.name() + " duplicates", grouped(r.duplicates()) + (r.count() == 0 ? ""
                    : " (ids " + r.min() + " .. " + r.max() + ")"), r.duplicates() == 0);
            if (r.failure() != null) {
                table.row(r.name() + " error", DistkitCommand.describe(r.failure()), false);
            }
        }
        table.print(out);
        out.println();
        List<String> failed = table.failed();
        if (failed.isEmpty()) {
            out.printf("All %d checks passed.%n", table.checks());
            out.flush();
            return 0;
        }
        out.printf("FAILED: %d of %d checks: %s.%n", failed.size(), table.checks(), String.join(", ", failed));
        out.flush();
        return DistkitCommand.EXIT_FAILURE;
    }

    static String grouped(long n) {
        return String.format(Locale.ROOT, "%,d", n);
    }

    /** {@code 950}, {@code 9,500}, {@code 95.0 k}, {@code 2.0 M}. */
    static String compact(long n) {
        if (n < 10_000) {
            return grouped(n);
        }
        return n < 1_000_000 ? String.format(Locale.ROOT, "%.1f k", n / 1e3) : String.format(Locale.ROOT, "%.1f M", n / 1e6);
    }

    private static String millis(long nanos) {
        return nanos < 10_000_000 ? String.format(Locale.ROOT, "%.2f ms", nanos / 1e6)
                : String.format(Locale.ROOT, "%.0f ms", nanos / 1e6);
    }

    /** The live line: redrawn in place on a terminal, a plain line a second otherwise. */
    private static final class Progress {
        private final PrintWriter out;
        private final boolean terminal;
        private final long start;
        private final LongAdder[] acquisitions;
        private final List<IdRun> idRuns;
        private boolean printed;

        Progress(PrintWriter out, boolean terminal, long start, LongAdder[] acquisitions, List<IdRun> idRuns) {
            this.out = out;
            this.terminal = terminal;
            this.start = start;
            this.acquisitions = acquisitions;
            this.idRuns = idRuns;
        }

        void show() {
            // under 80 columns, so that redrawing in place never wraps
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "  %5.1f s | lock: %s acquisitions",
                    (System.nanoTime() - start) / 1e9, grouped(acquisitions[0].sum() + acquisitions[1].sum())));
            for (IdRun run : idRuns) {
                line.append(" | ").append(run.name()).append(": ").append(compact(run.generated()));
            }
            if (terminal) {
                out.print("\r" + line + "\033[K");
            } else {
                out.println(line);
            }
            printed = true;
            out.flush();
        }

        /** Makes room for the summary: the status line goes, plain lines get a blank line after them. */
        void clear() {
            if (terminal) {
                out.print("\r\033[K");
            } else if (printed) {
                out.println();
            }
            out.flush();
        }
    }

    /** The summary: aligned rows of what was measured, and "ok" or "FAILED" where it is a check. */
    private static final class Table {
        private final List<String[]> rows = new ArrayList<>();
        private final List<String> failed = new ArrayList<>();
        private int checks;

        void row(String what, String value, @Nullable Boolean passed) {
            rows.add(new String[] {what, value, passed == null ? "" : passed ? "ok" : "FAILED"});
            if (passed != null) {
                checks++;
                if (!passed) {
                    failed.add(what);
                }
            }
        }

        int checks() {
            return checks;
        }

        List<String> failed() {
            return failed;
        }

        void print(PrintWriter out) {
            int w0 = 0;
            int w1 = 0;
            for (String[] r : rows) {
                w0 = Math.max(w0, r[0].length());
                w1 = Math.max(w1, r[1].length());
            }
            String format = "  %-" + w0 + "s  %-" + w1 + "s  %s";
            for (String[] r : rows) {
                out.println(String.format(Locale.ROOT, format, r[0], r[1], r[2]).stripTrailing());
            }
        }
    }
}
