package io.distkit.testkit.id;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.distkit.id.IdGenerator;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The contract every {@link IdGenerator} backend passes. A backend test extends this class and
 * supplies {@link #newGenerator()}; each call must return a new, independent generator on the
 * <em>same</em> shared source, as a second process would build it (same store, same key or tag,
 * its own worker lease).
 *
 * <p>Threads start together behind a latch, so generators really race; every wait is bounded by
 * {@link #timeout()}. Ids are checked with {@link IdChecks}, whose report names the first
 * duplicates and the generator and thread that returned them.
 *
 * <p>Override the sizes ({@link #threads()}, {@link #generators()}, {@link #idsPerThread()}) for
 * slow backends; the defaults run in well under two seconds in memory. Override
 * {@link #increasingPerGenerator()} for generators that do not promise increasing ids, and
 * {@link #closeGenerator(IdGenerator)} for generators that need more than {@code close()}.
 */
public abstract class IdGeneratorContract {

    private final List<IdGenerator> created = Collections.synchronizedList(new ArrayList<>());
    private final Set<IdGenerator> closed = Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));

    /**
     * A new generator on the shared source, independent of every generator returned before (as if
     * built by another process). The contract closes it after each test through
     * {@link #closeGenerator(IdGenerator)}.
     */
    protected abstract IdGenerator newGenerator();

    /**
     * Whether the ids one generator returns to one thread strictly increase. When false, the
     * ordering tests are skipped and only uniqueness is checked.
     */
    protected boolean increasingPerGenerator() {
        return true;
    }

    /**
     * Whether a generator created after another one was closed starts above every id the closed
     * one returned (docs/failures.md, checker 5, "after a restart"). Defaults to
     * {@link #increasingPerGenerator()}. Snowflake-style backends whose new generator may get a
     * lower worker id within the same tick override this to false and test restarts of the same
     * worker id in their own failure tests.
     */
    protected boolean restartedGeneratorStartsAboveEarlierIds() {
        return increasingPerGenerator();
    }

    /** Threads per generator in the concurrent tests. */
    protected int threads() {
        return 4;
    }

    /** Generators racing in the concurrent tests. */
    protected int generators() {
        return 3;
    }

    /** Ids each thread obtains in the concurrent tests. */
    protected int idsPerThread() {
        return 20_000;
    }

    /** Bound on every wait: threads reaching the start gate, and all producers finishing. */
    protected Duration timeout() {
        return Duration.ofSeconds(30);
    }

    /**
     * Ends a generator: at the end of each test, and to simulate a restart. Closes it when it is
     * {@link AutoCloseable}; override for generators that need more (a worker lease, a client).
     */
    protected void closeGenerator(IdGenerator generator) throws Exception {
        if (generator instanceof AutoCloseable closeable) {
            closeable.close();
        }
    }

    /** Closes every generator the test created, through {@link #closeGenerator(IdGenerator)}. */
    @AfterEach
    protected final void closeGeneratorsCreatedByTheTest() throws Exception {
        List<IdGenerator> toClose;
        synchronized (created) {
            toClose = new ArrayList<>(created);
            created.clear();
        }
        Exception first = null;
        for (IdGenerator g : toClose) {
            try {
                close(g);
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        closed.clear();
        if (first != null) {
            throw first;
        }
    }

    @Nested
    class Uniqueness {

        @Test
        @DisplayName("ids from many threads on many generators at once are all distinct")
        void idsFromManyThreadsOnManyGeneratorsAreAllDistinct() throws Exception {
            Map<String, long[]> ids = produceConcurrently(IdGeneratorContract::singleIds);

            IdChecks.distinct(ids).assertNoViolations();
        }

        @Test
        @DisplayName("batches and single ids mixed from many threads on many generators are all distinct")
        void batchesAndSingleIdsFromManyThreadsOnManyGeneratorsAreAllDistinct() throws Exception {
            Map<String, long[]> ids = produceConcurrently(IdGeneratorContract::mixedIds);

            IdChecks.distinct(ids).assertNoViolations();
        }

        @Test
        @DisplayName("a generator created after another was closed never repeats its ids")
        void replacementGeneratorNeverRepeatsIdsOfTheOneItReplaces() throws Exception {
            IdGenerator first = generator();
            long[] before = singleIds(first, idsPerThread());
            close(first);

            long[] after = singleIds(generator(), idsPerThread());

            IdChecks.distinct(labelled("generator before restart", before, "generator after restart", after))
                    .assertNoViolations();
        }
    }

    @Nested
    class Ordering {

        @Test
        @DisplayName("ids one generator returns to one thread strictly increase, with many threads and generators racing")
        void idsOneGeneratorReturnsToOneThreadStrictlyIncrease() throws Exception {
            assumeTrue(increasingPerGenerator(), "the generator does not promise increasing ids");

            Map<String, long[]> ids = produceConcurrently(IdGeneratorContract::mixedIds);

            IdChecks.strictlyIncreasing(ids).assertNoViolations();
        }

        @Test
        @DisplayName("one thread sees strictly increasing ids over a generator's whole life")
        void oneThreadSeesStrictlyIncreasingIdsOverTheGeneratorsWholeLife() {
            assumeTrue(increasingPerGenerator(), "the generator does not promise increasing ids");
            IdGenerator generator = generator();

            long[] ids = mixedIds(generator, idsPerThread() * 2);

            IdChecks.strictlyIncreasing(Map.of("the only thread of one generator", ids)).assertNoViolations();
        }

        @Test
        @DisplayName("a generator created after another was closed starts above every id it returned")
        void replacementGeneratorStartsAboveEveryIdAcknowledgedBefore() throws Exception {
            assumeTrue(restartedGeneratorStartsAboveEarlierIds(), "the generator does not promise it");
            IdGenerator first = generator();
            long[] before = singleIds(first, idsPerThread());
            close(first);

            long firstAfter = generator().nextId();

            IdChecks.noRewindAfterRestart(Map.of("generator before restart", before), "generator after restart",
                    firstAfter).assertNoViolations();
        }
    }

    @Nested
    class Batches {

        @ParameterizedTest(name = "count = {0}")
        @ValueSource(ints = {1, 2, 17, 1000, 4096})
        @DisplayName("returns exactly count distinct ids")
        void batchHasTheRequestedLengthAndDistinctIds(int count) {
            long[] ids = generator().nextIds(count);

            assertThat(ids).hasSize(count);
            IdChecks.distinct(Map.of("nextIds(" + count + ")", ids)).assertNoViolations();
            if (increasingPerGenerator()) {
                IdChecks.strictlyIncreasing(Map.of("nextIds(" + count + ")", ids)).assertNoViolations();
            }
        }

        @Test
        @DisplayName("ids of a batch are distinct from, and ordered with, single ids before and after it")
        void batchIdsAreConsistentWithSingleIdsBeforeAndAfter() {
            IdGenerator generator = generator();
            long[] before = singleIds(generator, 100);
            long[] batch = generator.nextIds(1000);
            long[] after = singleIds(generator, 100);

            assertThat(batch).hasSize(1000);
            Map<String, long[]> ids = new LinkedHashMap<>();
            ids.put("nextId() before the batch", before);
            ids.put("nextIds(1000)", batch);
            ids.put("nextId() after the batch", after);
            IdChecks.distinct(ids).assertNoViolations();
            if (increasingPerGenerator()) {
                IdChecks.strictlyIncreasing(Map.of("nextId() x100, nextIds(1000), nextId() x100",
                        IdChecks.concat(before, batch, after))).assertNoViolations();
            }
        }

        @ParameterizedTest(name = "count = {0}")
        @ValueSource(ints = {0, -1, Integer.MIN_VALUE, IdGenerator.MAX_BATCH + 1, Integer.MAX_VALUE})
        @DisplayName("refuses a count below 1 or above MAX_BATCH, naming the argument and its value")
        void batchCountOutOfRangeIsRefused(int count) {
            IdGenerator generator = generator();

            assertThatIllegalArgumentException()
                    .isThrownBy(() -> generator.nextIds(count))
                    .withMessageContaining("count")
                    .withMessageContaining(String.valueOf(count));
            assertThat(generator.nextIds(2)).as("the generator still works after a refused batch").hasSize(2);
        }
    }

    // ---------------------------------------------------------------------------------------------

    private IdGenerator generator() {
        IdGenerator g = Objects.requireNonNull(newGenerator(), "newGenerator() returned null");
        created.add(g);
        return g;
    }

    private void close(IdGenerator g) throws Exception {
        // A generator closed to simulate a restart is closed again by the @AfterEach otherwise.
        if (closed.add(g)) {
            closeGenerator(g);
        }
    }

    /** What each producer thread does with its generator. */
    @FunctionalInterface
    private interface Producer {
        long[] produce(IdGenerator generator, int count);
    }

    private static long[] singleIds(IdGenerator generator, int count) {
        long[] ids = new long[count];
        for (int i = 0; i < count; i++) {
            ids[i] = generator.nextId();
        }
        return ids;
    }

    /** Single ids and batches of varying size, in the order obtained. */
    private static long[] mixedIds(IdGenerator generator, int count) {
        long[] ids = new long[count];
        int filled = 0;
        int round = 0;
        while (filled < count) {
            ids[filled++] = generator.nextId();
            // Batch sizes cycle through 1..64 so both tiny and larger batches interleave with singles.
            int size = Math.min(count - filled, 1 + (round++ * 37) % 64);
            if (size > 0) {
                long[] batch = generator.nextIds(size);
                if (batch.length != size) {
                    throw new AssertionError("nextIds(" + size + ") returned " + batch.length + " ids");
                }
                System.arraycopy(batch, 0, ids, filled, size);
                filled += size;
            }
        }
        return ids;
    }

    /**
     * Runs {@link #threads()} threads on each of {@link #generators()} new generators, all released
     * at once by a start gate, and returns each thread's ids labelled "generator g / thread t".
     */
    private Map<String, long[]> produceConcurrently(Producer producer) throws Exception {
        int generatorCount = generators();
        int threadCount = threads();
        int count = idsPerThread();
        assertThat(generatorCount).as("generators()").isPositive();
        assertThat(threadCount).as("threads()").isPositive();
        assertThat(count).as("idsPerThread()").isPositive();
        Duration timeout = timeout();

        List<IdGenerator> gens = new ArrayList<>();
        for (int g = 0; g < generatorCount; g++) {
            gens.add(generator());
        }
        int parties = generatorCount * threadCount;
        CountDownLatch ready = new CountDownLatch(parties);
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(parties, daemonThreads());
        Map<String, Future<long[]>> futures = new LinkedHashMap<>();
        try {
            for (int g = 0; g < generatorCount; g++) {
                IdGenerator generator = gens.get(g);
                for (int t = 0; t < threadCount; t++) {
                    futures.put("generator " + g + " / thread " + t, pool.submit(() -> {
                        ready.countDown();
                        if (!start.await(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
                            throw new TimeoutException("start gate not opened within " + timeout);
                        }
                        return producer.produce(generator, count);
                    }));
                }
            }
            assertThat(ready.await(timeout.toNanos(), TimeUnit.NANOSECONDS))
                    .as("all %d producer threads reached the start gate within %s", parties, timeout)
                    .isTrue();
            start.countDown();

            long deadline = System.nanoTime() + timeout.toNanos();
            Map<String, long[]> ids = new LinkedHashMap<>();
            for (Map.Entry<String, Future<long[]>> f : futures.entrySet()) {
                try {
                    ids.put(f.getKey(), f.getValue().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS));
                } catch (ExecutionException e) {
                    throw new AssertionError(f.getKey() + " failed: " + e.getCause(), e.getCause());
                } catch (TimeoutException e) {
                    throw new AssertionError(f.getKey() + " did not obtain its " + count + " ids within " + timeout, e);
                }
            }
            return ids;
        } finally {
            start.countDown(); // never leave a thread parked at the gate
            // Interrupts producers stuck in a hung backend; they are daemon threads, so one that
            // ignores interrupts cannot keep the JVM alive, and the test has already failed.
            pool.shutdownNow();
            pool.awaitTermination(timeout.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private static ThreadFactory daemonThreads() {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, "distkit-id-contract-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    private static Map<String, long[]> labelled(String a, long[] idsA, String b, long[] idsB) {
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put(a, idsA);
        m.put(b, idsB);
        return m;
    }
}
