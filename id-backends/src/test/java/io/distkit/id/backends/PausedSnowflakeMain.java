package io.distkit.id.backends;

import io.distkit.id.IdGenerationException;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.WorkerLease;
import io.distkit.id.snowflake.SnowflakeIdGenerator;
import io.distkit.id.snowflake.SnowflakeLayout;
import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A snowflake generator in a child JVM for {@link PausedSnowflakeContract}: the test pauses it past its worker
 * lease (F20) while a second one takes the same worker id. Every generator of this class can only ever lease
 * worker id 0 (its assigner is asked for one id of {@code [0, 1)}), so the second one gets exactly the id of the
 * paused one, once the store let its lease expire.
 *
 * <p><b>Arguments:</b> {@code <factory class> <store address> <lease ms> <out file> [lossBlind]}. The factory
 * ({@link Factory}, with a public no-argument constructor) opens the store's assigner with that lease. Ids are
 * written as big-endian longs, flushed every batch of 100. {@code lossBlind} is the negative control: the lease
 * reports itself valid for ever, and a save the store refuses is ignored, as a generator that never learns of
 * the loss would.
 *
 * <p><b>Lines</b> (stdout, each starting with {@value #PREFIX}): {@code leased} once the generator is built,
 * {@code issued <n>} after each 10,000 ids, {@code failed <message>} when {@code nextIds} throws (then it exits
 * with status 3). It stops, flushes and exits 0 when stdin says {@code stop} or ends.
 */
public final class PausedSnowflakeMain {

    public static final String PREFIX = "distkit-paused ";

    /** Opens a worker-id assigner on a store with the given lease. */
    public interface Factory {
        WorkerIdAssigner open(String address, Duration leaseTime);
    }

    private static volatile boolean stop;

    private PausedSnowflakeMain() {}

    public static void main(String[] args) throws Exception {
        Factory factory = (Factory) Class.forName(args[0]).getDeclaredConstructor().newInstance();
        Duration lease = Duration.ofMillis(Long.parseLong(args[2]));
        boolean blind = args.length > 4 && args[4].equals("lossBlind");
        WorkerIdAssigner store = factory.open(args[1], lease);
        WorkerIdAssigner oneId = new WorkerIdAssigner() {
            @Override
            public WorkerLease acquire(int maxWorkerIds) {
                WorkerLease lease = store.acquire(1);
                return blind ? new LossBlind(lease) : lease;
            }

            @Override
            public void close() {
                store.close();
            }
        };
        Thread stdin = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null && !line.equals("stop")) {
                    // only stop matters
                }
            } catch (IOException e) {
                // the parent is gone: stop
            }
            stop = true;
        }, "stdin");
        stdin.setDaemon(true);
        stdin.start();

        SnowflakeIdGenerator ids = build(oneId);
        emit("leased");
        int status = 0;
        try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(Path.of(args[3]))))) {
            long issued = 0;
            while (!stop) {
                long[] batch;
                try {
                    batch = ids.nextIds(100);
                } catch (RuntimeException e) {
                    emit("failed " + e.getClass().getSimpleName() + ": " + String.valueOf(e.getMessage()).replace('\n', ' '));
                    status = 3;
                    break;
                }
                for (long id : batch) {
                    out.writeLong(id);
                }
                out.flush();
                issued += batch.length;
                if (issued % 10_000 == 0) {
                    emit("issued " + issued);
                }
            }
        }
        System.exit(status);
    }

    /** Builds the generator, trying again while the store has no free worker id (the paused one's lease runs). */
    private static SnowflakeIdGenerator build(WorkerIdAssigner assigner) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        for (;;) {
            try {
                return SnowflakeIdGenerator.builder(SnowflakeLayout.TWITTER).workerIdAssigner(assigner).build();
            } catch (IdGenerationException taken) {
                if (System.nanoTime() > deadline || stop) {
                    throw taken;
                }
                Thread.sleep(50); // polls the store for a free worker id, as a restarting service would
            }
        }
    }

    private static void emit(String line) {
        System.out.println(PREFIX + line);
        System.out.flush();
    }

    /** The negative control's lease: never lost, and a refused save is ignored. */
    private record LossBlind(WorkerLease lease) implements WorkerLease {
        @Override
        public int workerId() {
            return lease.workerId();
        }

        @Override
        public boolean isValid() {
            return true;
        }

        @Override
        public long lastTimestamp() {
            return lease.lastTimestamp();
        }

        @Override
        public void saveLastTimestamp(long timestamp) {
            try {
                lease.saveLastTimestamp(timestamp);
            } catch (RuntimeException refused) {
                // blind: goes on as if saved
            }
        }

        @Override
        public void onLost(Runnable listener) {
            // blind: never told
        }

        @Override
        public void close() {
            lease.close();
        }
    }
}
