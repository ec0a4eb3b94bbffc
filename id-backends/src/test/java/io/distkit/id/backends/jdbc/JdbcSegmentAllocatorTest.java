package io.distkit.id.backends.jdbc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.Segment;
import io.distkit.id.SegmentAllocator;
import io.distkit.jdbc.SqlDialect;
import io.distkit.jdbc.internal.DialectSql;
import io.distkit.testkit.Closer;
import io.distkit.testkit.id.IdChecks;
import io.distkit.testkit.server.H2Database;
import io.distkit.testkit.server.MariaDbServer;
import io.distkit.testkit.server.Pools;
import io.distkit.testkit.server.PostgresServer;
import io.distkit.testkit.server.TestServer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.dao.DataAccessException;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * {@link JdbcSegmentAllocator} on H2 in memory and on real PostgreSQL and MariaDB servers: the same
 * cases on each ({@link Cases}, one {@code @Nested} class per database), plus what only PostgreSQL
 * checks. Each test has a table of its own, each allocator a pool of its own (as a separate process
 * would). A server is started when the first of its tests runs and stopped after the class.
 */
@Timeout(120)
class JdbcSegmentAllocatorTest {

    private static final H2Database H2 = H2Database.builder().build();
    // the WAL writer flushes asynchronous commits only every 10 s: a commit that does not ask for durability
    // itself is lost by a crash soon after it (see acknowledgedRangesSurviveACrash)
    private static final PostgresServer POSTGRES = PostgresServer.builder().setting("wal_writer_delay", "10s").build();
    private static final MariaDbServer MARIADB = MariaDbServer.builder().build();

    @AfterAll
    static void stopServers() {
        H2.close();
        POSTGRES.close();
        MARIADB.close();
    }

    private static synchronized <S extends TestServer> S started(S server) {
        if (!server.isStarted()) {
            server.start();
        }
        return server;
    }

    @Nested
    @DisplayName("on H2")
    class OnH2 extends Cases {
        @Override
        HikariDataSource newPool() {
            return Pools.hikari(started(H2));
        }

        @Override
        SqlDialect dialect() {
            return SqlDialect.H2;
        }
    }

    @Nested
    @DisplayName("on MariaDB")
    class OnMariaDb extends Cases {
        @Override
        HikariDataSource newPool() {
            return Pools.hikari(started(MARIADB));
        }

        @Override
        SqlDialect dialect() {
            return SqlDialect.MYSQL;
        }
    }

    @Nested
    @DisplayName("on PostgreSQL")
    class OnPostgres extends Cases {
        @Override
        HikariDataSource newPool() {
            return Pools.hikari(started(POSTGRES));
        }

        @Override
        SqlDialect dialect() {
            return SqlDialect.POSTGRESQL;
        }

        @Test
        @DisplayName("an UNLOGGED table is refused, saying how to make it logged; once logged it is used")
        void unloggedTableIsRefused() {
            admin().execute(JdbcSegmentAllocator.createTableSql(SqlDialect.POSTGRESQL, table)
                    .replace("CREATE TABLE", "CREATE UNLOGGED TABLE"));
            HikariDataSource pool = toClose.add(newPool());
            assertThatThrownBy(() -> JdbcSegmentAllocator.builder(pool).tableName(table).build())
                    .isExactlyInstanceOf(IdGenerationException.class)
                    .hasMessageContaining(table)
                    .hasMessageContaining("UNLOGGED")
                    .hasMessageContaining("ALTER TABLE " + table + " SET LOGGED");
            admin().execute("ALTER TABLE " + table + " SET LOGGED");
            JdbcSegmentAllocator allocator = JdbcSegmentAllocator.builder(pool).tableName(table).build();
            allocator.createTag("t", 0);
            assertThat(allocator.allocate("t", 4)).isEqualTo(new Segment("t", 0, 4));
        }

        @Test
        @DisplayName("acknowledged ranges survive a crash of the server, also on sessions whose synchronous_commit is off")
        void acknowledgedRangesSurviveACrash() {
            allocator(b -> b).createTag("t", 0); // the table and the tag, committed synchronously
            Properties asynchronous = new Properties();
            asynchronous.setProperty("options", "-c synchronous_commit=off");
            HikariDataSource pool = toClose.add(Pools.hikari(POSTGRES.jdbcUrl(), POSTGRES.user(), POSTGRES.password(),
                    asynchronous));
            assertThat(new JdbcTemplate(pool).queryForObject("SHOW synchronous_commit", String.class)).isEqualTo("off");
            JdbcSegmentAllocator allocator = JdbcSegmentAllocator.builder(pool).tableName(table).build();
            Segment last = null;
            for (int i = 0; i < 5; i++) {
                last = allocator.allocate("t", 10);
            }
            assertThat(last).isEqualTo(new Segment("t", 40, 50));

            POSTGRES.kill(); // no shutdown checkpoint: what was not flushed to the WAL is gone
            POSTGRES.restart();

            assertThat(row("t")).as("every acknowledged range is still reserved").isEqualTo(new Row(50, 10));
            assertThat(allocator(b -> b).allocate("t", 1)).isEqualTo(new Segment("t", 50, 51));
        }
    }

    /** What every database must do. */
    abstract static class Cases {

        /** A new pool on the database under test. */
        abstract HikariDataSource newPool();

        /** The dialect of the database under test. */
        abstract SqlDialect dialect();

        final String table = "s_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        final Closer toClose = new Closer();
        private @Nullable JdbcTemplate admin;

        @AfterEach
        void closeAll() throws Exception {
            toClose.close();
        }

        // ---- allocation --------------------------------------------------------------------------------

        @Test
        @DisplayName("ranges of a tag follow each other from its first id, also for a new allocator; the row holds max_id, the last step and the DB time")
        void rangesFollowEachOther() {
            JdbcSegmentAllocator allocator = allocator(b -> b);
            assertThat(allocator.createTag("order", 100)).isTrue();
            assertThat(row("order")).isEqualTo(new Row(100, 0));
            admin().update("UPDATE " + table + " SET updated_at = NULL");

            assertThat(allocator.allocate("order", 10)).isEqualTo(new Segment("order", 100, 110));
            assertThat(allocator.allocate("order", 3)).isEqualTo(new Segment("order", 110, 113));
            assertThat(row("order")).as("max_id one past the last id, step the last step").isEqualTo(new Row(113, 3));
            assertThat(millisSinceUpdate("order")).as("updated_at set just now by the DB clock").isBetween(-1L, 10_000L);

            JdbcSegmentAllocator restarted = allocator(b -> b);
            assertThat(restarted.allocate("order", 5)).as("a new allocator (a restart) goes on above")
                    .isEqualTo(new Segment("order", 113, 118));
            assertThat(allocator.createTag("invoice", 0)).isTrue();
            assertThat(allocator.allocate("invoice", 7)).as("each tag is its own sequence")
                    .isEqualTo(new Segment("invoice", 0, 7));
            assertThat(row("order")).isEqualTo(new Row(118, 5));
        }

        @Test
        @DisplayName("4 allocators x 4 threads get disjoint ranges of the requested sizes, ascending per thread, that tile [first id, max_id) exactly")
        void concurrentRangesAreDisjointAndTileTheSequence() throws Exception {
            allocator(b -> b).createTag("hot", 1_000);
            Map<String, List<Segment>> ranges = allocateConcurrently(() -> allocator(b -> b), "hot", 25);

            SegmentRanges.overlaps(ranges).assertNoViolations();
            assertThat(SegmentRanges.notAscending(ranges)).isEmpty();
            ranges.values().forEach(segments -> {
                for (int i = 0; i < segments.size(); i++) {
                    assertThat(segments.get(i).size()).as("the requested step").isEqualTo(stepOf(i));
                }
            });
            long total = ranges.values().stream().flatMap(List::stream).mapToLong(Segment::size).sum();
            assertThat(row("hot").maxId()).as("max_id moved by exactly the ids handed out").isEqualTo(1_000 + total);
            assertThat(SegmentRanges.tilingProblems(ranges, 1_000, 1_000 + total)).as("no gap, no overlap").isEmpty();
        }

        @Test
        @DisplayName("negative control: a read-then-write allocator hands out overlapping ranges under the same workload, and the same checks flag it")
        void readThenWriteIsCaught() throws Exception {
            allocator(b -> b).createTag("hot", 0);
            IdChecks.Result result = IdChecks.Result.clean();
            for (int round = 0; round < 10 && result.isClean(); round++) { // a race: usually the first round shows it
                result = SegmentRanges.overlaps(allocateConcurrently(
                        () -> new ReadThenWriteAllocator(toClose.add(newPool()), table), "hot", 25));
            }
            assertThat(result.count(IdChecks.Kind.SEGMENT_OVERLAP)).isPositive();
            assertThat(result.count(IdChecks.Kind.DUPLICATE)).isPositive();
        }

        @Test
        @DisplayName("a step that would pass Long.MAX_VALUE is refused and changes nothing; the largest step that fits is served")
        void overflowIsRefused() {
            JdbcSegmentAllocator allocator = allocator(b -> b);
            allocator.createTag("big", Long.MAX_VALUE - 10);
            admin().update("UPDATE " + table + " SET updated_at = NULL");
            assertThatThrownBy(() -> allocator.allocate("big", 11)).isExactlyInstanceOf(IdGenerationException.class)
                    .hasMessageContaining("'big'").hasMessageContaining("would overflow")
                    .hasMessageContaining("starts at " + (Long.MAX_VALUE - 10)).hasMessageContaining("step of 11")
                    .hasMessageContaining("nothing was reserved");
            assertThat(row("big")).as("unchanged").isEqualTo(new Row(Long.MAX_VALUE - 10, 0));
            assertThat(millisSinceUpdate("big")).as("not touched").isNull();

            assertThat(allocator.allocate("big", 10)).isEqualTo(new Segment("big", Long.MAX_VALUE - 10, Long.MAX_VALUE));
            assertThatThrownBy(() -> allocator.allocate("big", 1)).isExactlyInstanceOf(IdGenerationException.class)
                    .hasMessageContaining("would overflow");
            assertThat(row("big")).isEqualTo(new Row(Long.MAX_VALUE, 10));

            allocator.createTag("huge", 0);
            assertThat(allocator.allocate("huge", Long.MAX_VALUE)).isEqualTo(new Segment("huge", 0, Long.MAX_VALUE));
        }

        @Test
        @DisplayName("a max_id set below 0 by hand is refused rather than turned into negative ids")
        void negativeMaxIdIsRefused() {
            JdbcSegmentAllocator allocator = allocator(b -> b);
            allocator.createTag("neg", 0);
            admin().update("UPDATE " + table + " SET max_id = -5");
            assertThatThrownBy(() -> allocator.allocate("neg", 10)).isExactlyInstanceOf(IdGenerationException.class)
                    .hasMessageContaining("'neg'").hasMessageContaining("max_id -5");
            assertThat(row("neg")).isEqualTo(new Row(-5, 0));
        }

        // ---- tags --------------------------------------------------------------------------------------

        @Test
        @DisplayName("an unknown tag is an IdGenerationException saying how to create it; nothing is created; the INSERT it gives works")
        void unknownTagSaysHowToCreateIt() {
            JdbcSegmentAllocator allocator = allocator(b -> b);
            String tag = "o'brien\\x"; // a quote and a backslash: the INSERT must quote both right in every dialect
            assertThatThrownBy(() -> allocator.allocate(tag, 10)).isExactlyInstanceOf(IdGenerationException.class)
                    .hasMessageContaining("unknown tag '" + tag + "'")
                    .hasMessageContaining(table)
                    .hasMessageContaining("createTag(")
                    .hasMessageContaining("createMissingTags(")
                    .hasMessageContaining("INSERT INTO " + table);
            assertThat(rowCount()).as("nothing created").isZero();

            String message = catchMessage(() -> allocator.allocate(tag, 10));
            String insert = message.substring(message.indexOf("INSERT INTO"), message.indexOf(';', message.indexOf("INSERT INTO")));
            admin().execute(insert);
            assertThat(allocator.allocate(tag, 10)).isEqualTo(new Segment(tag, 1, 11));
            assertThat(rowCount()).isEqualTo(1);
        }

        @Test
        @DisplayName("createMissingTags(firstId) creates an unknown tag on first use, also when 16 callers race to create it")
        void createMissingTagsCreatesOnFirstUse() throws Exception {
            JdbcSegmentAllocator allocator = allocator(b -> b.createMissingTags(42));
            assertThat(allocator.allocate("fresh", 10)).isEqualTo(new Segment("fresh", 42, 52));
            assertThat(allocator.allocate("fresh", 10)).isEqualTo(new Segment("fresh", 52, 62));
            assertThat(row("fresh")).isEqualTo(new Row(62, 10));
            assertThat(allocator(b -> b.createMissingTags(0)).allocate("zero", 3)).isEqualTo(new Segment("zero", 0, 3));

            Map<String, List<Segment>> raced = allocateConcurrently(() -> allocator(b -> b.createMissingTags(7)), "raced", 1);
            SegmentRanges.overlaps(raced).assertNoViolations();
            assertThat(SegmentRanges.tilingProblems(raced, 7, 7 + 16 * stepOf(0))).as("all from 7 on, no gap").isEmpty();
            assertThat(rowCount()).isEqualTo(3);

            assertThatThrownBy(() -> JdbcSegmentAllocator.builder(newPool()).createMissingTags(-1))
                    .isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessage("firstId must not be negative, was -1");
        }

        @Test
        @DisplayName("createTag creates a tag once: later calls return false and change nothing; of 16 racing callers exactly one gets true")
        void createTagIsIdempotent() throws Exception {
            JdbcSegmentAllocator allocator = allocator(b -> b);
            assertThat(allocator.createTag("t", 5)).isTrue();
            assertThat(allocator.createTag("t", 1_000)).isFalse();
            assertThat(row("t")).isEqualTo(new Row(5, 0));
            assertThat(allocator.allocate("t", 10)).isEqualTo(new Segment("t", 5, 15));
            assertThat(allocator(b -> b).createTag("t", 0)).isFalse();
            assertThat(row("t")).isEqualTo(new Row(15, 10));

            List<JdbcSegmentAllocator> allocators = List.of(allocator, allocator(b -> b), allocator(b -> b),
                    allocator(b -> b));
            Queue<Long> winners = new ConcurrentLinkedQueue<>();
            runConcurrently(16, i -> {
                if (allocators.get(i % 4).createTag("raced", 100L * (i + 1))) {
                    winners.add(100L * (i + 1));
                }
            });
            assertThat(winners).as("exactly one creator").hasSize(1);
            assertThat(row("raced")).as("with its first id").isEqualTo(new Row(winners.peek(), 0));
        }

        @Test
        @DisplayName("tags compare exactly: case, a trailing space and accents make other tags; 128 characters fit, non-ASCII too")
        void tagsCompareExactly() {
            JdbcSegmentAllocator allocator = allocator(b -> b);
            List<String> tags = List.of("order", "Order", "order ", "ordér", "€".repeat(128), "\uD83D\uDE00".repeat(64));
            for (int i = 0; i < tags.size(); i++) {
                assertThat(allocator.createTag(tags.get(i), 1_000L * i)).as("tag #%d is new", i).isTrue();
            }
            for (int i = 0; i < tags.size(); i++) {
                assertThat(allocator.allocate(tags.get(i), 2)).isEqualTo(new Segment(tags.get(i), 1_000L * i, 1_000L * i + 2));
            }
            assertThat(rowCount()).isEqualTo(tags.size());
        }

        // ---- the table ---------------------------------------------------------------------------------

        @Test
        @DisplayName("a missing table is an IdGenerationException carrying its DDL and naming createTableIfMissing(); nothing is created")
        void missingTableCarriesItsDdl() {
            HikariDataSource pool = toClose.add(newPool());
            assertThatThrownBy(() -> JdbcSegmentAllocator.builder(pool).tableName(table).build())
                    .isExactlyInstanceOf(IdGenerationException.class)
                    .hasMessageContaining("the segment table " + table + " does not exist")
                    .hasMessageContaining(JdbcSegmentAllocator.createTableSql(dialect(), table))
                    .hasMessageContaining("createTableIfMissing()");
            assertThatThrownBy(() -> admin().queryForObject("SELECT COUNT(*) FROM " + table, Long.class))
                    .as("the table was not created").isInstanceOf(DataAccessException.class);

            JdbcSegmentAllocator allocator = JdbcSegmentAllocator.builder(pool).tableName(table).createTableIfMissing()
                    .build();
            assertThat(rowCount()).as("created").isZero();
            allocator.createTag("t", 3);
            assertThat(allocator.allocate("t", 2)).isEqualTo(new Segment("t", 3, 5));
            assertThat(JdbcSegmentAllocator.builder(pool).tableName(table).build().allocate("t", 1))
                    .as("an existing table needs no createTableIfMissing()").isEqualTo(new Segment("t", 5, 6));
        }

        @Test
        @DisplayName("the default table is distkit_id_segment, and each dialect's DDL has its four columns")
        void defaultTableAndDdl() {
            assertThat(JdbcSegmentAllocator.DEFAULT_TABLE).isEqualTo("distkit_id_segment");
            String ddl = JdbcSegmentAllocator.createTableSql(dialect(), "x.my_ids");
            assertThat(ddl).startsWith("-- distkit segment table").contains("CREATE TABLE x.my_ids (")
                    .contains("biz_tag").contains("max_id").contains("step").contains("updated_at")
                    .doesNotContain("${table}");
            if (dialect() == SqlDialect.MYSQL) {
                assertThat(ddl).as("binary: exact comparison").contains("VARBINARY");
            }
        }

        // ---- bad input and failures --------------------------------------------------------------------

        @Test
        @DisplayName("bad arguments are refused with messages naming them, before any statement (the pool is closed)")
        void badArgumentsAreRefused() {
            HikariDataSource pool = toClose.add(newPool());
            JdbcSegmentAllocator allocator = JdbcSegmentAllocator.builder(pool).tableName(table).createTableIfMissing()
                    .build();
            pool.close(); // a statement would be an IdSourceUnavailableException: these must come first

            assertThatThrownBy(() -> allocator.allocate(null, 1)).isExactlyInstanceOf(NullPointerException.class)
                    .hasMessage("tag");
            assertThatThrownBy(() -> allocator.allocate(" ", 1)).isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessage("tag must not be blank, was ' '");
            assertThatThrownBy(() -> allocator.allocate("x".repeat(129), 1))
                    .isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("tag must be at most 128 characters, was 129");
            assertThatThrownBy(() -> allocator.allocate("a\tb", 1)).isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("control characters");
            // pgjdbc and Connector/J send an unpaired surrogate as '?': "a\uD800" and "a\uDC00" would share a row
            assertThatThrownBy(() -> allocator.allocate("a\uD800", 1)).isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessage("tag must be well-formed UTF-16, without unpaired surrogates (databases would store"
                            + " them as '?'): U+D800 at index 1 is unpaired");
            assertThatThrownBy(() -> allocator.createTag("\uDC00a", 1)).isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("U+DC00 at index 0 is unpaired");
            assertThatThrownBy(() -> allocator.allocate("t", 0)).isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessage("step must be positive, was 0");
            assertThatThrownBy(() -> allocator.allocate("t", -7)).isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessage("step must be positive, was -7");
            assertThatThrownBy(() -> allocator.createTag(null, 0)).isExactlyInstanceOf(NullPointerException.class)
                    .hasMessage("tag");
            assertThatThrownBy(() -> allocator.createTag("", 0)).isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessage("tag must not be blank, was ''");
            assertThatThrownBy(() -> allocator.createTag("t", -1)).isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessage("firstId must not be negative, was -1");

            assertThatThrownBy(() -> JdbcSegmentAllocator.builder(null)).isExactlyInstanceOf(NullPointerException.class)
                    .hasMessage("dataSource");
            assertThatThrownBy(() -> JdbcSegmentAllocator.builder(pool).tableName("no-such;table"))
                    .isExactlyInstanceOf(IllegalArgumentException.class).hasMessageContaining("tableName");
            assertThatThrownBy(() -> JdbcSegmentAllocator.createTableSql(null, "t"))
                    .isExactlyInstanceOf(NullPointerException.class);
            assertThat(rowCount()).isZero();
        }

        @Test
        @DisplayName("an unreachable database is an IdSourceUnavailableException naming the table, at build and at each call")
        void unreachableDatabaseIsUnavailable() {
            HikariDataSource closed = newPool();
            closed.close();
            assertThatThrownBy(() -> JdbcSegmentAllocator.builder(closed).tableName(table).build())
                    .isExactlyInstanceOf(IdSourceUnavailableException.class)
                    .hasMessageContaining("cannot connect")
                    .hasCauseInstanceOf(java.sql.SQLException.class)
                    .satisfies(e -> assertThat(((IdSourceUnavailableException) e).source()).isEqualTo(table));

            HikariDataSource pool = toClose.add(newPool());
            JdbcSegmentAllocator allocator = JdbcSegmentAllocator.builder(pool).tableName(table).createTableIfMissing()
                    .build();
            allocator.createTag("t", 0);
            pool.close(); // the database is gone for this allocator
            for (Runnable call : List.<Runnable>of(() -> allocator.allocate("t", 5), () -> allocator.createTag("u", 0))) {
                assertThatThrownBy(call::run).isExactlyInstanceOf(IdSourceUnavailableException.class)
                        .hasMessageContaining("id source '" + table + "' unavailable")
                        .hasMessageContaining(table)
                        .satisfies(e -> assertThat(e.getCause()).isNotNull())
                        .satisfies(e -> assertThat(((IdSourceUnavailableException) e).source()).isEqualTo(table));
            }
            assertThat(row("t")).as("nothing reserved").isEqualTo(new Row(0, 0));
        }

        @Test
        @DisplayName("a failing statement (the table dropped behind the allocator's back) is an IdSourceUnavailableException with the driver's cause")
        void failingStatementIsUnavailable() {
            JdbcSegmentAllocator allocator = allocator(b -> b);
            allocator.createTag("t", 0);
            admin().execute("DROP TABLE " + table);
            assertThatThrownBy(() -> allocator.allocate("t", 5)).isExactlyInstanceOf(IdSourceUnavailableException.class)
                    .hasMessageContaining("reserving 5 ids of tag 't'")
                    .hasMessageContaining(table)
                    .hasRootCauseInstanceOf(java.sql.SQLException.class);
        }

        // ---- support -----------------------------------------------------------------------------------

        /** The step of the {@code i}-th allocation of a thread in the concurrent workloads: 1 to 7. */
        static long stepOf(int i) {
            return 1 + i % 7;
        }

        /**
         * 4 allocators (each on a pool of its own) x 4 threads x {@code rounds} allocations of {@code tag},
         * released at once by a latch; the ranges by thread, in the order each got them.
         */
        Map<String, List<Segment>> allocateConcurrently(Supplier<SegmentAllocator> newAllocator, String tag, int rounds)
                throws Exception {
            List<SegmentAllocator> allocators = new ArrayList<>();
            for (int a = 0; a < 4; a++) {
                allocators.add(newAllocator.get());
            }
            Map<String, List<Segment>> ranges = new LinkedHashMap<>();
            for (int t = 0; t < 16; t++) {
                ranges.put("allocator " + t % 4 + " thread " + t / 4, new ArrayList<>());
            }
            List<List<Segment>> byThread = List.copyOf(ranges.values());
            runConcurrently(16, t -> {
                for (int i = 0; i < rounds; i++) {
                    byThread.get(t).add(allocators.get(t % 4).allocate(tag, stepOf(i)));
                }
            });
            return ranges;
        }

        interface Task {
            void run(int thread) throws Exception;
        }

        /** {@code threads} threads running {@code task}, started together by a latch; rethrows the first failure. */
        static void runConcurrently(int threads, Task task) throws Exception {
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            CountDownLatch start = new CountDownLatch(1);
            try {
                List<Future<?>> done = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int thread = t;
                    done.add(pool.submit(() -> {
                        start.await();
                        task.run(thread);
                        return null;
                    }));
                }
                start.countDown();
                for (Future<?> f : done) {
                    f.get(60, TimeUnit.SECONDS);
                }
            } finally {
                pool.shutdownNow();
            }
        }

        JdbcSegmentAllocator allocator(UnaryOperator<JdbcSegmentAllocator.Builder> configure) {
            HikariDataSource pool = toClose.add(newPool());
            return configure.apply(JdbcSegmentAllocator.builder(pool).tableName(table).createTableIfMissing()).build();
        }

        /** A tag's row as the database has it. */
        record Row(long maxId, long step) {}

        @Nullable Row row(String tag) {
            List<Row> rows = admin().query("SELECT max_id, step FROM " + table + " WHERE biz_tag = ?",
                    (rs, i) -> new Row(rs.getLong(1), rs.getLong(2)), tag);
            return rows.isEmpty() ? null : rows.get(0);
        }

        /** Milliseconds since the row's updated_at by the DB clock, or null if it is null. */
        @Nullable Long millisSinceUpdate(String tag) {
            Long until = admin().queryForObject("SELECT " + DialectSql.of(dialect()).millisUntil("updated_at") + " FROM "
                    + table + " WHERE biz_tag = ?", Long.class, tag);
            return until == null ? null : -until;
        }

        long rowCount() {
            return admin().queryForObject("SELECT COUNT(*) FROM " + table, Long.class);
        }

        static String catchMessage(Runnable call) {
            try {
                call.run();
            } catch (RuntimeException e) {
                return String.valueOf(e.getMessage());
            }
            throw new AssertionError("expected an exception");
        }

        JdbcTemplate admin() {
            if (admin == null) {
                admin = new JdbcTemplate(toClose.add(newPool()));
            }
            return admin;
        }
    }
}
