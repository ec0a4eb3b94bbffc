package io.distkit.id.backends.jdbc;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.Segment;
import io.distkit.id.SegmentAllocator;
import io.distkit.testkit.server.Pools;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * A process of {@link SegmentAllocationDisjointnessTest}: one {@link JdbcSegmentAllocator} (on a pool of
 * its own) shared by several threads that allocate from one tag, every range they get written to a file.
 *
 * <p><b>Arguments:</b> {@code <jdbcUrl> <user> <password> <table>}. <b>Protocol:</b> one command per stdin
 * line, one reply per command, every protocol line starting with {@value #PREFIX}:
 * <pre>
 * (at start)                                         ready &lt;pid&gt;
 * arm &lt;tag&gt; &lt;step&gt; &lt;threads&gt; &lt;allocations&gt; &lt;outFile&gt; [unsafe]
 *                                                    armed    (the allocator is built, the threads wait)
 * go                                                 ran &lt;ranges&gt;   (every thread done, the file written)
 * exit                                               bye
 * a command that fails                               error &lt;class&gt;: &lt;message&gt;
 * </pre>
 * {@code unsafe} builds the negative control ({@link ReadThenWriteAllocator}).
 * The file has one line per range, {@code <thread> <start> <endExclusive>}, each thread's in the order it
 * got them. Exits when stdin ends (the test JVM died).
 */
public final class SegmentAllocationMain {

    /** Every protocol line starts with this. */
    static final String PREFIX = "distkit-segment ";

    private final HikariDataSource pool;
    private final String table;
    private @Nullable Armed armed;

    private record Armed(SegmentAllocator allocator, String tag, long step, int threads, int allocations,
            Path outFile) {}

    private SegmentAllocationMain(HikariDataSource pool, String table) {
        this.pool = pool;
        this.table = table;
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 4) {
            System.err.println("usage: SegmentAllocationMain <jdbcUrl> <user> <password> <table>");
            System.exit(2);
        }
        try (HikariDataSource pool = Pools.hikari(args[0], args[1], args[2])) {
            new SegmentAllocationMain(pool, args[3]).run();
        }
        System.exit(0);
    }

    private void run() throws IOException {
        emit("ready " + ProcessHandle.current().pid());
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null && !line.equals("exit")) {
            String reply;
            try {
                reply = execute(line.trim().split("\\s+"));
            } catch (RuntimeException e) {
                reply = "error " + e.getClass().getSimpleName() + ": "
                        + String.valueOf(e.getMessage()).replace('\n', ' ');
            }
            emit(reply);
        }
        emit("bye");
    }

    private String execute(String[] words) {
        switch (words[0]) {
            case "arm": {
                SegmentAllocator allocator = words.length > 6 && words[6].equals("unsafe")
                        ? new ReadThenWriteAllocator(pool, table)
                        : JdbcSegmentAllocator.builder(pool).tableName(table).build();
                armed = new Armed(allocator, words[1], Long.parseLong(words[2]), Integer.parseInt(words[3]),
                        Integer.parseInt(words[4]), Path.of(words[5]));
                return "armed";
            }
            case "go":
                if (armed == null) {
                    throw new IllegalStateException("send arm first");
                }
                Armed run = armed;
                armed = null;
                return "ran " + allocate(run);
            default:
                throw new IllegalArgumentException("unknown command '" + String.join(" ", words) + "'");
        }
    }

    /** Runs the threads, then writes every range; the number of ranges. */
    private static int allocate(Armed run) {
        List<List<Segment>> byThread = new ArrayList<>();
        AtomicReference<@Nullable RuntimeException> failure = new AtomicReference<>();
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < run.threads(); t++) {
            List<Segment> mine = new ArrayList<>();
            byThread.add(mine);
            Thread thread = new Thread(() -> {
                try {
                    start.await();
                    for (int i = 0; i < run.allocations(); i++) {
                        mine.add(run.allocator().allocate(run.tag(), run.step()));
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                } catch (RuntimeException e) {
                    failure.compareAndSet(null, e);
                }
            }, "allocator-" + t);
            threads.add(thread);
            thread.start();
        }
        start.countDown();
        for (Thread thread : threads) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }
        int count = 0;
        try (Writer out = Files.newBufferedWriter(run.outFile(), StandardCharsets.UTF_8)) {
            for (int t = 0; t < byThread.size(); t++) {
                for (Segment s : byThread.get(t)) {
                    out.write(t + " " + s.start() + " " + s.endExclusive() + "\n");
                    count++;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        RuntimeException failed = failure.get();
        if (failed != null) {
            throw failed; // after writing what was allocated: the test sees both
        }
        return count;
    }

    private static void emit(String line) {
        synchronized (System.out) {
            System.out.println(PREFIX + line);
            System.out.flush();
        }
    }
}
