package io.distkit.id.backends.jdbc;

import io.distkit.id.IdGenerationException;
import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.Segment;
import io.distkit.id.SegmentAllocator;
import io.distkit.jdbc.JdbcTableBuilder;
import io.distkit.jdbc.SqlDialect;
import io.distkit.jdbc.internal.Database;
import io.distkit.jdbc.internal.DialectSql;
import io.distkit.jdbc.internal.TableSpec;
import io.distkit.jdbc.internal.WriteSql;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.springframework.dao.ConcurrencyFailureException;
import org.springframework.dao.DataAccessException;
import org.springframework.dao.DataIntegrityViolationException;

/**
 * Ranges of ids reserved in one table of a database you already have (PostgreSQL, MySQL/MariaDB, H2):
 * the allocator of Meituan's Leaf, for the segment generator of {@code id-segment}
 * ({@code io.distkit.id.segment.SegmentIdGenerator}).
 *
 * <pre>{@code
 * JdbcSegmentAllocator allocator = JdbcSegmentAllocator.builder(dataSource).build(); // table distkit_id_segment must exist
 * allocator.createTag("order", 1);                      // once (or in your migrations); false if it exists
 * Segment first = allocator.allocate("order", 1000);    // [1, 1001), then [1001, 2001), ...
 * }</pre>
 *
 * <p>One row per tag: {@code (biz_tag, max_id, step, updated_at)}. {@code max_id} is one past the last id
 * handed out, where the next range starts; {@code step} is the size of the last range; {@code updated_at}
 * the time of the last change by the database's clock. Rows are never deleted.
 *
 * <p><b>Allocation</b> is {@code UPDATE ... SET max_id = max_id + step WHERE biz_tag = ? AND max_id <=
 * Long.MAX_VALUE - step} and the read of the new {@code max_id}, in one transaction (on PostgreSQL one
 * statement, {@code RETURNING max_id}); the range is {@code [new max_id - step, new max_id)}. The row
 * lock orders the allocations of a tag across every process, and {@code max_id} only grows, so the
 * invariant holds that every range lies below the {@code max_id} committed with it and every later range
 * starts at or above it: ranges never overlap, across processes and restarts, and the ranges of one
 * allocator ascend. A step that would take {@code max_id} past {@link Long#MAX_VALUE} changes nothing and
 * is refused. An allocation whose commit took effect but whose reply was lost leaves its range unused: a
 * gap. On PostgreSQL the table must be logged (an {@code UNLOGGED} one is refused: a crash empties it) and
 * every allocation commits with {@code synchronous_commit = on}, so that an acknowledged range survives a
 * crash of the server and is never handed out again.
 *
 * <p><b>Tags</b> are not created by {@link #allocate}: a missing one is an error naming the ways to create
 * it ({@link #createTag}, {@link Builder#createMissingTags}, an {@code INSERT}), so that a misspelt tag
 * does not silently start a second sequence from scratch.
 *
 * <p>Safe for any number of threads; each call borrows one connection of the data source for its
 * duration.
 */
public final class JdbcSegmentAllocator implements SegmentAllocator {

    /** The table used unless {@link Builder#tableName} names another. */
    public static final String DEFAULT_TABLE = "distkit_id_segment";

    /**
     * Updates per allocation: one more follows only a rolled-back lock conflict or a tag created by someone
     * else between this allocator's statements, each of which means another allocator made progress.
     */
    static final int MAX_ATTEMPTS = 8;

    /**
     * The segment table for the shared checks: its columns, its DDL ({@code src/main/resources}), an
     * unreachable database an {@link IdSourceUnavailableException}, any other problem an {@link IdGenerationException}.
     */
    private static final TableSpec SEGMENT_TABLE = TableSpec.builder("segment")
            .builtBy("allocator")
            .columns("biz_tag", "max_id", "step", "updated_at")
            .ddl(JdbcSegmentAllocator.class, Map.of(SqlDialect.POSTGRESQL, "segment-postgresql.sql",
                    SqlDialect.MYSQL, "segment-mysql.sql", SqlDialect.H2, "segment-h2.sql"))
            .lostInCrash("every tag with it, so that the ids handed out before the crash would be handed out again")
            .rows("the ranges reserved")
            .connectHint("check the URL and the credentials")
            .failures((problem, table, message, cause) -> problem == TableSpec.Problem.UNREACHABLE
                    ? new IdSourceUnavailableException(table, message, cause)
                    : new IdGenerationException(message, cause))
            .build();

    private final Database database;
    private final long commandTimeoutNanos;
    private final SqlDialect dialect;
    private final String table;
    private final String description;
    private final long missingTagFirstId; // negative: missing tags are an error

    private final @Nullable String reserveReturningSql;
    private final String reserveSql;
    private final String readSql;
    private final String insertSql;

    private JdbcSegmentAllocator(Database database, long missingTagFirstId) {
        this.database = database;
        this.commandTimeoutNanos = database.commandTimeout().toNanos();
        this.dialect = database.dialect();
        this.table = database.table();
        this.description = "table " + table + " of " + database.where();
        this.missingTagFirstId = missingTagFirstId;

        DialectSql sql = database.sql();
        // max_id >= 0: a row an operator set negative would give a range below 0, which no Segment may hold
        WriteSql.Update reserve = sql.update(table).set("max_id = max_id + ?", "step = ?", "updated_at = " + sql.now())
                .where("biz_tag = ? AND max_id >= 0 AND max_id <= ?");
        this.reserveReturningSql = dialect == SqlDialect.POSTGRESQL ? reserve.returning("max_id").durable() : null;
        this.reserveSql = reserve.durable(); // where there is no RETURNING: readSql follows in its transaction
        this.readSql = "SELECT max_id FROM " + table + " WHERE biz_tag = ?";
        WriteSql.Insert insert = sql.insert(table).columns("biz_tag", "max_id", "step", "updated_at")
                .values("?", "?", "0", sql.now());
        this.insertSql = dialect == SqlDialect.POSTGRESQL
                // DO NOTHING: a concurrent creation is no error (nor a line in the server log)
                ? insert.onConflictDoNothing("biz_tag").durable()
                : insert.durable();
    }

    /** A builder for an allocator on {@code dataSource}; the data source stays yours (the allocator does not close it). */
    public static Builder builder(DataSource dataSource) {
        return new Builder(Objects.requireNonNull(dataSource, "dataSource"));
    }

    /**
     * The {@code CREATE TABLE} statement of a segment table named {@code table} in {@code dialect}, as this
     * module ships it ({@code io/distkit/id/backends/jdbc/segment-<dialect>.sql}): run it in your migrations, or
     * let {@link Builder#createTableIfMissing()} do it.
     *
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if {@code table} is not an unquoted SQL identifier, optionally
     *     schema-qualified
     */
    public static String createTableSql(SqlDialect dialect, String table) {
        return SEGMENT_TABLE.createTableSql(dialect, table);
    }

    /**
     * Creates {@code tag}, its first range to start at {@code firstId}, unless it exists; an existing tag
     * is left as it is, whatever its {@code max_id}. Of several callers creating one tag at once, exactly
     * one gets {@code true}.
     *
     * @return true if this call created the tag, false if it existed
     * @throws NullPointerException if {@code tag} is null
     * @throws IllegalArgumentException if {@code tag} is blank, longer than 128 characters or holds a control
     *     character, or {@code firstId} is negative
     * @throws IdSourceUnavailableException if the database cannot be reached or the statement fails; whether
     *     the tag was created is then unknown (calling again tells)
     */
    public boolean createTag(String tag, long firstId) {
        SegmentAllocator.checkTag(tag);
        checkFirstId(firstId);
        try {
            return insertIfAbsent(tag, firstId);
        } catch (DataAccessException e) {
            throw unavailable("creating tag '" + tag + "' in " + description + " failed: " + Database.rootMessage(e), e);
        }
    }

    /**
     * Reserves the next {@code step} ids of {@code tag}: {@code [max_id, max_id + step)}, exactly
     * {@code step} ids.
     *
     * @throws NullPointerException if {@code tag} is null
     * @throws IllegalArgumentException if {@code tag} is blank, longer than 128 characters or holds a control
     *     character, or {@code step} is not positive
     * @throws IdGenerationException if the tag does not exist (unless {@link Builder#createMissingTags} is
     *     set; the message says how to create it), or its ids would pass {@link Long#MAX_VALUE}; nothing was
     *     reserved
     * @throws IdSourceUnavailableException if the database cannot be reached or the statement fails; if the
     *     reservation took effect all the same, its ids are never used (a gap)
     */
    @Override
    public Segment allocate(String tag, long step) {
        SegmentAllocator.checkTag(tag);
        SegmentAllocator.checkStep(step);
        long bound = Long.MAX_VALUE - step;
        try {
            long giveUpAt = System.nanoTime() + commandTimeoutNanos;
            int lostRaces = 0;
            for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
                Long newMax;
                try {
                    newMax = reserve(tag, step, bound);
                } catch (ConcurrencyFailureException rolledBack) {
                    // a serialization failure (a server whose default isolation is repeatable read or
                    // serializable), a deadlock or a lock timeout: rolled back, nothing reserved; another
                    // allocator's reservation went first. Not an attempt of the MAX_ATTEMPTS: tried again after a
                    // random pause, for up to the command timeout
                    if (System.nanoTime() - giveUpAt >= 0) {
                        throw rolledBack;
                    }
                    Database.pauseAfterLostRace(++lostRaces);
                    attempt--;
                    continue;
                }
                if (newMax != null) {
                    return new Segment(tag, newMax - step, newMax);
                }
                // no row matched: the tag is missing, or its max_id is out of bounds
                Long current = currentMax(tag);
                if (current == null) {
                    if (missingTagFirstId < 0) {
                        throw unknownTag(tag);
                    }
                    insertIfAbsent(tag, missingTagFirstId); // created by someone else meanwhile is as good
                } else if (current < 0) {
                    throw new IdGenerationException("tag '" + tag + "' in " + description + " has max_id " + current
                            + ", below 0: ids are never negative; nothing was reserved. Set its max_id to at least"
                            + " the highest id ever handed out for it, plus one");
                } else if (current > bound) {
                    throw new IdGenerationException("the ids of tag '" + tag + "' in " + description
                            + " would overflow: the next range starts at " + current + " and a step of " + step
                            + " would pass Long.MAX_VALUE; nothing was reserved");
                }
                // else the tag was created between the update and the read: update again
            }
        } catch (DataAccessException e) {
            throw unavailable("reserving " + step + " ids of tag '" + tag + "' from " + description + " failed: "
                    + Database.rootMessage(e) + " (if the reservation took effect all the same, its ids are skipped)",
                    e);
        }
        throw new IdSourceUnavailableException(table, "no range of tag '" + tag + "' could be reserved in " + description
                + " in " + MAX_ATTEMPTS + " attempts: each time the tag was created, or its row locked, by someone else"
                + " at the same moment; retry", null);
    }

    /** The new max_id, or null if no row matched (the tag is missing, or its max_id out of bounds). */
    private @Nullable Long reserve(String tag, long step, long bound) {
        if (reserveReturningSql != null) {
            List<Long> max = database.call("reserve", statements -> statements.longs(reserveReturningSql, step, step, tag,
                    bound));
            return max.isEmpty() ? null : max.get(0);
        }
        return database.inTransaction("reserve", statements -> {
            if (statements.update(reserveSql, step, step, tag, bound) == 0) {
                return null;
            }
            // the row lock taken by the update is held until the commit: this reads this transaction's value
            return statements.longs(readSql, tag).get(0);
        });
    }

    private @Nullable Long currentMax(String tag) {
        List<Long> max = database.call("read tag", statements -> statements.longs(readSql, tag));
        return max.isEmpty() ? null : max.get(0);
    }

    /** Inserts the row of {@code tag} unless it exists; whether this call inserted it. */
    private boolean insertIfAbsent(String tag, long firstId) {
        for (int attempt = 1; ; attempt++) {
            try {
                return database.call("create tag", statements -> statements.update(insertSql, tag, firstId)) > 0;
            } catch (DataIntegrityViolationException | ConcurrencyFailureException e) {
                // the primary key, or a lock conflict with a concurrent insert of the tag: created by someone else?
                if (currentMax(tag) != null) {
                    return false;
                }
                if (e instanceof DataIntegrityViolationException || attempt == MAX_ATTEMPTS) {
                    throw e;
                }
            }
        }
    }

    private IdGenerationException unknownTag(String tag) {
        String literal = tag.replace("'", "''");
        if (dialect == SqlDialect.MYSQL) {
            literal = literal.replace("\\", "\\\\"); // a backslash escapes in MySQL's string literals
        }
        return new IdGenerationException("unknown tag '" + tag + "': " + description + " has no row for it, and"
                + " distkit does not create tags on first use unless told to. Create it with createTag(\"" + tag
                + "\", firstId) of the allocator, build the allocator with createMissingTags(firstId) to create tags"
                + " on first use, or run (here starting at 1):\n\nINSERT INTO " + table
                + " (biz_tag, max_id, step, updated_at) VALUES ('" + literal + "', 1, 0, " + DialectSql.of(dialect).now()
                + ");");
    }

    private IdSourceUnavailableException unavailable(String detail, Throwable cause) {
        return new IdSourceUnavailableException(table, detail, cause);
    }

    private static long checkFirstId(long firstId) {
        if (firstId < 0) {
            throw new IllegalArgumentException("firstId must not be negative, was " + firstId);
        }
        return firstId;
    }

    @Override
    public String toString() {
        return "JdbcSegmentAllocator[" + description + ", " + dialect + "]";
    }

    /**
     * Configures an allocator. Only the data source is required; every setter checks its argument at once.
     * Besides the options of every JDBC builder ({@link JdbcTableBuilder}: table, dialect, table creation,
     * command timeout): whether unknown tags are created on first use.
     */
    public static final class Builder extends JdbcTableBuilder<Builder> {
        private long missingTagFirstId = -1;

        private Builder(DataSource dataSource) {
            super(dataSource, DEFAULT_TABLE);
        }

        /**
         * Creates a tag that {@link JdbcSegmentAllocator#allocate} does not find, its first range starting at
         * {@code firstId}; off by default (an unknown tag is an error, so that a misspelt one does not start a
         * sequence of its own). Allocators creating one tag at once are fine: one creates it, all use it.
         *
         * @throws IllegalArgumentException if {@code firstId} is negative
         */
        public Builder createMissingTags(long firstId) {
            this.missingTagFirstId = checkFirstId(firstId);
            return this;
        }

        /**
         * Checks the database and the table, then returns the allocator.
         *
         * @throws IllegalArgumentException if the database is not one distkit has SQL for
         * @throws IdSourceUnavailableException if the database cannot be reached
         * @throws IdGenerationException if the table is missing (the message carries the DDL to run), lacks
         *     distkit's columns, or is UNLOGGED or temporary
         */
        public JdbcSegmentAllocator build() {
            // the network bound on every borrowed connection, the probe, the dialect, the query timeout, the table
            Database database = openDatabase(SEGMENT_TABLE);
            return new JdbcSegmentAllocator(database, missingTagFirstId);
        }
    }
}
