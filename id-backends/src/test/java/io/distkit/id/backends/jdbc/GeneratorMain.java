package io.distkit.id.backends.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.ClockMovedBackwardsException;
import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import io.distkit.id.snowflake.SnowflakeIdGenerator;
import io.distkit.id.snowflake.SnowflakeLayout;
import io.distkit.testkit.server.Pools;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.springframework.jdbc.datasource.DelegatingDataSource;

/**
 * A snowflake generator in a child JVM, driven line by line by {@link GeneratorProcess}: the process
 * {@link SnowflakeFailureTest} pauses past its lease (F20), restarts with its clock behind (F21),
 * steps the clock of (F8), and runs four of to churn through worker ids. Each generator is
 * {@code SnowflakeIdGenerator.builder(SnowflakeLayout.TWITTER)} on a {@link JdbcWorkerIdAssigner} of
 * its own, whose dialect is detected.
 *
 * <p><b>Arguments:</b> {@code <jdbcUrl> <user> <password> <table> <outDir>}. Every id a generator
 * returns is written, in order, to a file of its own in {@code outDir} ({@code gen-<n>-worker-<id>.ids},
 * big-endian longs), flushed by {@code stop}, {@code close} and {@code exit}.
 *
 * <p><b>Protocol.</b> One command per stdin line, one reply per command, in order; every protocol line
 * starts with {@value #PREFIX}. Options are {@code key=value} words.
 * <pre>
 * (at start)                     ready &lt;pid&gt;
 * now                            now &lt;currentTimeMillis&gt; &lt;Instant.now() in ms&gt;
 * start [leaseMs= persistMs= startupWaitMs= noPersist]
 *                                started worker=&lt;id&gt; mark=&lt;lease's lastTimestamp&gt; waitedMs=&lt;build&gt; wall=&lt;ms&gt;
 * run [parkMicros= perRound=]    running      (ids on a thread of their own until stop, lost or closed)
 * generate &lt;n&gt;                   generated count=&lt;n&gt; last=&lt;timestamp&gt;
 * churn total= seed= leaseMs= persistMs=
 *                                churning     (the churn workload on a thread of its own, see below)
 * status                         status count= first= last= lastOkInvoke= clockErrors= unavailable= gens= lost=
 *                                       cuts= buildFailures= workers= phase= left= state= error=&lt;rest of the line&gt;
 * leases                         leases &lt;workerId&gt;:&lt;generator&gt;:&lt;acquired&gt;:&lt;closed&gt;:&lt;lost&gt; ...   (see below)
 * stop                           stopped ... (as status, after the thread ended and the ids were flushed)
 * close                          closed       (the generator and its assigner)
 * exit                           bye
 * (any time, unasked)            event lost &lt;workerId&gt;   (a lease's onLost fired)
 * any command that throws        error &lt;exception class&gt;: &lt;message&gt;
 * </pre>
 * {@code first}/{@code last} are timestamps (ms of the layout), {@code lastOkInvoke} the
 * {@link System#nanoTime()} at which the last call that returned an id was made (system-wide on
 * Linux). {@code noPersist} is the negative control: the lease's {@code saveLastTimestamp} does
 * nothing, so the generator believes it reserved what no successor will ever read.
 *
 * <p><b>Leases.</b> Every worker lease any generator of the process acquired, in order, with the number
 * of the generator (1, 2, ... in the order built) and three {@link System#nanoTime()} readings (-1 for
 * none yet): when its {@code acquire} returned, when it began to close (the generator closed it, or its
 * assigner was closed), and when its {@code onLost} listener ran. This, not what the calls of the generator threw, is what tells which lease was lost:
 * a generator leases again by itself after a loss, perhaps the same worker id, so its caller may never
 * see an exception.
 *
 * <p><b>Churn.</b> Until {@code total} ids: a new assigner (on a data source of its own that can be
 * cut) and generator, a random quota of ids from {@code nextId} and {@code nextIds}, then either a
 * close, or (one in four) a cut of the data source halfway, after which the generator goes on until
 * it reports its lease lost; then the next. A {@link WorkerLeaseLostException} (the test pausing the
 * process past its lease) also ends a generator. Exits when stdin ends.
 */
public final class GeneratorMain {

    /** Every protocol line starts with this. */
    public static final String PREFIX = "distkit-gen ";

    private static final SnowflakeLayout LAYOUT = SnowflakeLayout.TWITTER;

    private final HikariDataSource pool;
    private final String table;
    private final Path outDir;
    private int generation;
    private int generators; // ObservedAssigners made: one per generator
    private @Nullable WorkerIdAssigner assigner;
    private @Nullable SnowflakeIdGenerator generator;
    private @Nullable IdFile file;
    private @Nullable Thread worker;
    private final Progress progress = new Progress();
    private final List<LeaseSpan> leases = new CopyOnWriteArrayList<>();

    private GeneratorMain(HikariDataSource pool, String table, Path outDir) {
        this.pool = pool;
        this.table = table;
        this.outDir = outDir;
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 5) {
            System.err.println("usage: GeneratorMain <jdbcUrl> <user> <password> <table> <outDir>");
            System.exit(2);
        }
        Path out = Files.createDirectories(Path.of(args[4]));
        new GeneratorMain(Pools.hikari(args[0], args[1], args[2]), args[3], out).run();
    }

    private void run() throws IOException {
        emit("ready " + ProcessHandle.current().pid());
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null && !line.equals("exit")) {
            String reply;
            try {
                reply = execute(line);
            } catch (RuntimeException e) {
                reply = "error " + e.getClass().getSimpleName() + ": " + oneLine(String.valueOf(e.getMessage()));
            }
            emit(reply);
        }
        try {
            closeGenerator();
        } finally {
            pool.close();
        }
        emit("bye");
        System.exit(0);
    }

    private String execute(String line) {
        String[] words = line.trim().split("\\s+");
        Map<String, String> options = new HashMap<>();
        for (int i = 1; i < words.length; i++) {
            int eq = words[i].indexOf('=');
            options.put(eq < 0 ? words[i] : words[i].substring(0, eq), eq < 0 ? "true" : words[i].substring(eq + 1));
        }
        switch (words[0]) {
            case "now":
                return "now " + System.currentTimeMillis() + " " + Instant.now().toEpochMilli();
            case "start":
                return start(options);
            case "run":
                return run(Long.parseLong(options.getOrDefault("parkMicros", "100")),
                        Integer.parseInt(options.getOrDefault("perRound", "4")));
            case "generate":
                return generate(Integer.parseInt(words[1]));
            case "churn":
                return churn(Long.parseLong(options.get("total")), Long.parseLong(options.get("seed")),
                        Duration.ofMillis(Long.parseLong(options.get("leaseMs"))),
                        Duration.ofMillis(Long.parseLong(options.get("persistMs"))));
            case "status":
                return "status " + progress.describe();
            case "leases":
                return "leases " + leases.stream().map(LeaseSpan::describe).collect(Collectors.joining(" "));
            case "stop":
                stopWorker();
                return "stopped " + progress.describe();
            case "close":
                closeGenerator();
                return "closed";
            default:
                throw new IllegalArgumentException("unknown command '" + line + "'");
        }
    }

    // ---- one generator, driven by commands ------------------------------------------------------------

    private String start(Map<String, String> options) {
        if (generator != null) {
            throw new IllegalStateException("a generator is running; close it first");
        }
        Duration lease = Duration.ofMillis(Long.parseLong(options.getOrDefault("leaseMs", "1000")));
        ObservedAssigner observed = new ObservedAssigner(assigner(pool, lease), options.containsKey("noPersist"), leases,
                ++generators);
        SnowflakeIdGenerator.Builder builder = SnowflakeIdGenerator.builder(LAYOUT)
                .workerIdAssigner(observed)
                .persistInterval(Duration.ofMillis(Long.parseLong(options.getOrDefault("persistMs", "100"))));
        if (options.containsKey("startupWaitMs")) {
            builder.maxStartupWait(Duration.ofMillis(Long.parseLong(options.get("startupWaitMs"))));
        }
        long begin = System.nanoTime();
        SnowflakeIdGenerator built;
        try {
            built = builder.build();
        } catch (RuntimeException e) {
            observed.close();
            throw e;
        }
        long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begin);
        assigner = observed;
        generator = built;
        file = newFile(built.workerId());
        progress.reset("started");
        return "started worker=" + built.workerId() + " mark=" + Objects.requireNonNull(observed.lastLease).lastTimestamp()
                + " waitedMs=" + waited + " wall=" + System.currentTimeMillis();
    }

    private String run(long parkMicros, int perRound) {
        SnowflakeIdGenerator g = requireGenerator();
        IdFile f = Objects.requireNonNull(file);
        progress.state = "running";
        int leased = g.workerId();
        Thread thread = new Thread(() -> {
            while (!progress.stopRequested) {
                try {
                    for (int i = 0; i < perRound; i++) {
                        long invoked = System.nanoTime();
                        long id = g.nextId();
                        if (movedOn(id, leased)) { // kept for the checkers, not counted as issued under the lease
                            f.write(id);
                            progress.end("lost", new WorkerLeaseLostException(leased, "the generator was told by the"
                                    + " lease's onLost listener and went on with worker id " + LAYOUT.decode(id).worker(),
                                    null));
                            return;
                        }
                        f.write(id);
                        progress.issued(id, invoked);
                    }
                } catch (ClockMovedBackwardsException e) {
                    progress.clockErrors++;
                    progress.error = e.getMessage();
                    LockSupport.parkNanos(1_000_000);
                    continue;
                } catch (IdSourceUnavailableException e) {
                    progress.unavailable++;
                    progress.error = e.getMessage();
                    LockSupport.parkNanos(1_000_000);
                    continue;
                } catch (WorkerLeaseLostException e) {
                    progress.end("lost", e);
                    return;
                } catch (RuntimeException e) {
                    progress.end("failed", e);
                    return;
                }
                LockSupport.parkNanos(parkMicros * 1_000);
            }
            progress.state = "stopped";
        }, "generator-run");
        startWorker(thread);
        return "running";
    }

    private String generate(int count) {
        SnowflakeIdGenerator g = requireGenerator();
        IdFile f = Objects.requireNonNull(file);
        long[] ids = g.nextIds(count);
        f.write(ids);
        f.flush();
        for (long id : ids) {
            progress.issued(id, System.nanoTime());
        }
        return "generated count=" + ids.length + " last=" + LAYOUT.decode(ids[ids.length - 1]).timestampUnits();
    }

    private SnowflakeIdGenerator requireGenerator() {
        if (generator == null) {
            throw new IllegalStateException("no generator: send start first");
        }
        if (worker != null && worker.isAlive()) {
            throw new IllegalStateException("the generator is busy on its thread; send stop first");
        }
        return generator;
    }

    private void closeGenerator() {
        stopWorker();
        if (file != null) {
            file.close();
            file = null;
        }
        if (generator != null) {
            generator.close();
            generator = null;
        }
        if (assigner != null) {
            assigner.close();
            assigner = null;
        }
    }

    private void startWorker(Thread thread) {
        progress.stopRequested = false;
        worker = thread;
        thread.setDaemon(true);
        thread.start();
    }

    private void stopWorker() {
        Thread thread = worker;
        if (thread == null) {
            return;
        }
        progress.stopRequested = true;
        try {
            thread.join(TimeUnit.SECONDS.toMillis(60));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            throw new IllegalStateException("the generator thread did not stop within 60 s");
        }
        worker = null;
        if (file != null) {
            file.flush();
        }
    }

    // ---- churn ----------------------------------------------------------------------------------------

    private String churn(long total, long seed, Duration lease, Duration persist) {
        if (generator != null || worker != null) {
            throw new IllegalStateException("churn runs on its own: close the generator first");
        }
        progress.reset("churning");
        startWorker(new Thread(() -> {
            try {
                churnUntil(total, new Random(seed), lease, persist);
                progress.state = "done";
            } catch (RuntimeException e) {
                progress.end("failed", e);
            }
        }, "generator-churn"));
        return "churning";
    }

    private void churnUntil(long total, Random random, Duration lease, Duration persist) {
        while (progress.count < total && !progress.stopRequested) {
            progress.phase = "building";
            CuttableDataSource source = new CuttableDataSource(pool);
            WorkerIdAssigner workers = assigner(source, lease);
            ObservedAssigner observed = new ObservedAssigner(workers, false, leases, ++generators);
            SnowflakeIdGenerator g;
            try {
                g = SnowflakeIdGenerator.builder(LAYOUT).workerIdAssigner(observed).persistInterval(persist).build();
            } catch (IdGenerationException e) { // e.g. paused between the claim and the first mark: lease lost
                observed.close();
                progress.error = e.toString();
                if (++progress.buildFailures > 50) {
                    throw e;
                }
                continue;
            }
            progress.gens++;
            progress.workers.add(g.workerId());
            long quota = Math.min(total - progress.count, 40_000 + random.nextInt(160_000));
            long cutAt = random.nextInt(4) == 0 ? quota / 2 : -1;
            long made = 0;
            progress.left = quota;
            progress.phase = "issuing";
            int leased = g.workerId();
            try (IdFile f = newFile(leased)) {
                while (made < quota || source.isCut()) { // after a cut: until the lease is lost
                    if (made >= cutAt && cutAt >= 0 && !source.isCut()) {
                        source.cut();
                        progress.cuts++;
                        progress.phase = "cut";
                    }
                    long invoked = System.nanoTime();
                    try {
                        if (random.nextInt(4) == 0) {
                            long[] ids = g.nextIds(1 + random.nextInt(2_000));
                            checkLease(ids, leased);
                            f.write(ids);
                            made += ids.length;
                            progress.issued(ids[ids.length - 1], invoked, ids.length);
                        } else {
                            long id = g.nextId();
                            checkLease(new long[] {id}, leased);
                            f.write(id);
                            made++;
                            progress.issued(id, invoked);
                        }
                        progress.left = quota - made;
                    } catch (IdSourceUnavailableException e) { // cut off: the reserve is used up; wait for the loss
                        progress.unavailable++;
                        LockSupport.parkNanos(1_000_000);
                    }
                }
            } catch (WorkerLeaseLostException e) { // seen by this thread; the leases themselves tell every loss
                progress.lost++;
            } finally {
                progress.phase = "closing";
                g.close();
                observed.close();
            }
        }
        progress.phase = "-";
    }

    // ---- support ----------------------------------------------------------------------------------------

    /**
     * Whether {@code id} is of another worker id than the one leased when the run began. A generator learns
     * of a loss by its lease's onLost listener too, and then leases a new worker id at once, so the call
     * that follows may return an id of the new lease instead of throwing: the old lease was lost all the
     * same. If the new lease has the same worker id (the lost one was free again, and the lowest), no call
     * tells: only the lease log does.
     */
    private static boolean movedOn(long id, int leased) {
        return LAYOUT.decode(id).worker() != leased;
    }

    /**
     * Throws as a generator's call does when the lease is lost, if {@link #movedOn} says it was; the ids of
     * the new worker id go to a file of their own first, so the checkers see every id issued.
     */
    private void checkLease(long[] ids, int leased) {
        if (!movedOn(ids[0], leased) && !movedOn(ids[ids.length - 1], leased)) {
            return;
        }
        int next = LAYOUT.decode(ids[ids.length - 1]).worker();
        try (IdFile moved = newFile(next)) {
            moved.write(ids);
        }
        throw new WorkerLeaseLostException(leased, "the generator was told by the lease's onLost listener and went on"
                + " with worker id " + next, null);
    }

    private WorkerIdAssigner assigner(DataSource source, Duration lease) {
        return JdbcWorkerIdAssigner.builder(source).tableName(table).leaseTime(lease).build();
    }

    private IdFile newFile(int workerId) {
        return new IdFile(outDir.resolve(String.format("gen-%03d-worker-%d.ids", ++generation, workerId)));
    }

    static void emit(String line) {
        synchronized (System.out) {
            System.out.println(PREFIX + line);
            System.out.flush();
        }
    }

    private static String oneLine(String s) {
        return s.replace('\n', ' ').replace('\r', ' ');
    }

    /** What the generator thread did; read by {@code status} on the command thread. */
    static final class Progress {
        volatile boolean stopRequested;
        volatile String state = "idle";
        volatile String phase = "-"; // of the churn: building, issuing, cut, closing
        volatile long left; // of the churn: ids the current generator has yet to issue
        volatile long count;
        volatile long firstId = -1;
        volatile long lastId = -1;
        volatile long lastOkInvoke;
        volatile long clockErrors;
        volatile long unavailable;
        volatile int gens;
        volatile int lost;
        volatile int cuts;
        volatile int buildFailures;
        final Set<Integer> workers = java.util.Collections.synchronizedSet(new TreeSet<>());
        volatile @Nullable String error;

        void reset(String newState) {
            state = newState;
            count = 0;
            firstId = -1;
            lastId = -1;
            lastOkInvoke = 0;
            clockErrors = 0;
            unavailable = 0;
            error = null;
        }

        void issued(long id, long invokedAt) {
            issued(id, invokedAt, 1);
        }

        void issued(long lastOfCall, long invokedAt, int n) {
            if (firstId < 0) {
                firstId = lastOfCall;
            }
            lastId = lastOfCall;
            lastOkInvoke = invokedAt;
            count += n;
        }

        void end(String finalState, RuntimeException e) {
            error = e.getClass().getSimpleName() + ": " + e.getMessage();
            state = finalState;
        }

        String describe() {
            String workerList;
            synchronized (workers) {
                workerList = workers.stream().map(String::valueOf).collect(Collectors.joining(","));
            }
            long first = firstId;
            long last = lastId;
            String err = error;
            return "count=" + count + " first=" + (first < 0 ? -1 : LAYOUT.decode(first).timestampUnits())
                    + " last=" + (last < 0 ? -1 : LAYOUT.decode(last).timestampUnits()) + " lastOkInvoke=" + lastOkInvoke
                    + " clockErrors=" + clockErrors + " unavailable=" + unavailable + " gens=" + gens + " lost=" + lost
                    + " cuts=" + cuts + " buildFailures=" + buildFailures + " workers=" + (workerList.isEmpty() ? "-" : workerList)
                    + " phase=" + phase + " left=" + left + " state=" + state + " error=" + (err == null ? "" : oneLine(err));
        }
    }

    /**
     * Hands out the delegate's leases, each logged as a {@link LeaseSpan} and reporting its loss as an event
     * line; with {@code noPersist}, leases whose save persists nothing.
     */
    static final class ObservedAssigner implements WorkerIdAssigner {
        private final WorkerIdAssigner delegate;
        private final boolean noPersist;
        private final List<LeaseSpan> log;
        private final int generator;
        private final List<LeaseSpan> mine = new CopyOnWriteArrayList<>();
        volatile @Nullable WorkerLease lastLease;

        /** @param generator the number of the one generator that leases through this assigner */
        ObservedAssigner(WorkerIdAssigner delegate, boolean noPersist, List<LeaseSpan> log, int generator) {
            this.delegate = delegate;
            this.noPersist = noPersist;
            this.log = log;
            this.generator = generator;
        }

        @Override
        public WorkerLease acquire(int maxWorkerIds) {
            WorkerLease lease = delegate.acquire(maxWorkerIds);
            LeaseSpan span = new LeaseSpan(lease.workerId(), generator, System.nanoTime());
            mine.add(span);
            log.add(span);
            lease.onLost(() -> {
                span.lost();
                emit("event lost " + lease.workerId());
            });
            lastLease = lease;
            return new ObservedLease(lease, span, !noPersist);
        }

        /** Closing the assigner closes the leases it still has open: they end here. */
        @Override
        public void close() {
            mine.forEach(LeaseSpan::closing);
            delegate.close();
        }
    }

    /**
     * One lease's life in {@link System#nanoTime()} (system-wide on Linux, so the test can compare it with
     * when it paused and resumed the process); -1 for what has not happened.
     */
    static final class LeaseSpan {
        final int workerId;
        final int generator;
        final long acquiredAt;
        private volatile long closedAt = -1;
        private volatile long lostAt = -1;

        LeaseSpan(int workerId, int generator, long acquiredAt) {
            this.workerId = workerId;
            this.generator = generator;
            this.acquiredAt = acquiredAt;
        }

        /** The first close counts: a lease ends when it begins to close. */
        synchronized void closing() {
            if (closedAt < 0) {
                closedAt = System.nanoTime();
            }
        }

        void lost() {
            lostAt = System.nanoTime();
        }

        String describe() {
            return workerId + ":" + generator + ":" + acquiredAt + ":" + closedAt + ":" + lostAt;
        }
    }

    /**
     * The assigner's lease as it is, except that its close is logged and, in the negative control
     * ({@code persist} false), a save does nothing and succeeds: the successor never sees the mark.
     */
    record ObservedLease(WorkerLease delegate, LeaseSpan span, boolean persist) implements WorkerLease {
        @Override
        public int workerId() {
            return delegate.workerId();
        }

        @Override
        public boolean isValid() {
            return delegate.isValid();
        }

        @Override
        public long lastTimestamp() {
            return delegate.lastTimestamp();
        }

        @Override
        public void saveLastTimestamp(long timestamp) {
            if (persist) {
                delegate.saveLastTimestamp(timestamp);
            }
        }

        @Override
        public void onLost(Runnable listener) {
            delegate.onLost(listener);
        }

        @Override
        public void close() {
            span.closing();
            delegate.close();
        }
    }

    /** A data source that can be cut off for good: every connection asked for afterwards is refused. */
    static final class CuttableDataSource extends DelegatingDataSource {
        private volatile boolean cut;

        CuttableDataSource(DataSource target) {
            super(target);
        }

        void cut() {
            cut = true;
        }

        boolean isCut() {
            return cut;
        }

        @Override
        public Connection getConnection() throws SQLException {
            if (cut) {
                throw new SQLTransientConnectionException("cut off from the database by the test", "08001");
            }
            return super.getConnection();
        }
    }

    /** Ids as big-endian longs in a file, buffered. */
    static final class IdFile implements AutoCloseable {
        private final FileChannel channel;
        private final ByteBuffer buffer = ByteBuffer.allocate(1 << 16);

        IdFile(Path path) {
            try {
                channel = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        void write(long id) {
            if (buffer.remaining() < Long.BYTES) {
                drain();
            }
            buffer.putLong(id);
        }

        void write(long[] ids) {
            for (long id : ids) {
                write(id);
            }
        }

        void flush() {
            drain();
        }

        private void drain() {
            buffer.flip();
            try {
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            buffer.clear();
        }

        @Override
        public void close() {
            drain();
            try {
                channel.close();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
