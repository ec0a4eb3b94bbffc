package io.distkit.jdbc.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The builder of the writes whose commit matters: on PostgreSQL every statement defines {@code commit_mode} and
 * reads it exactly once, whatever the caller wrote; elsewhere the statement is the plain one.
 */
class WriteSqlTest {

    private static final String DURABLE = "WITH commit_mode AS (SELECT set_config('synchronous_commit', 'on', true)"
            + " AS setting) ";
    private static final String UNHURRIED = "WITH commit_mode AS (SELECT set_config('synchronous_commit', 'off', true)"
            + " AS setting) ";
    private static final List<DialectSql> OTHERS = List.of(DialectSql.MYSQL, DialectSql.H2);

    /** Every kind of write distkit builds, for one dialect. */
    private static final List<Function<DialectSql, WriteSql>> WRITES = List.of(
            sql -> sql.update("t").set("x = ?").where("y = ? OR z = ?"),
            sql -> sql.insert("t").columns("a", "b").values("?", "0"),
            sql -> sql.update("t").set("x = ?", "w = 1").where("y = ?").returning("x"),
            sql -> sql.insert("t").columns("a").values("?").onConflictDoNothing("a"),
            sql -> sql.insert("t").as("l").columns("a", "b").values("?", "?")
                    .onConflictDoUpdate("a", "b = EXCLUDED.b").onConflictWhere("l.b < ?")
                    .returning("l.b").inQuery("done", "SELECT (SELECT b FROM done), (SELECT b FROM t WHERE a = ?)"));

    @Test
    void aPostgresUpdateTestsCommitModeAfterItsOwnConditionKeptWhole() {
        WriteSql.Update update = DialectSql.POSTGRESQL.update("t").set("x = ?", "w = 1").where("y = ? OR z = ?");
        assertThat(update.durable()).isEqualTo(DURABLE
                + "UPDATE t SET x = ?, w = 1 WHERE (y = ? OR z = ?) AND (SELECT setting FROM commit_mode) IS NOT NULL");
        assertThat(update.unhurried()).isEqualTo(UNHURRIED
                + "UPDATE t SET x = ?, w = 1 WHERE (y = ? OR z = ?) AND (SELECT setting FROM commit_mode) IS NOT NULL");
        assertThat(update.returning("x").durable()).isEqualTo(DURABLE
                + "UPDATE t SET x = ?, w = 1 WHERE (y = ? OR z = ?) AND (SELECT setting FROM commit_mode) IS NOT NULL"
                + " RETURNING x");
        assertThat(update.durable()).as("a builder is immutable: returning(...) made a new one").doesNotContain("RETURNING");
    }

    @Test
    void aPostgresInsertSelectsItsRowFromCommitMode() {
        WriteSql.Insert insert = DialectSql.POSTGRESQL.insert("t").columns("a", "b", "c").values("?", "?", "now()");
        assertThat(insert.durable()).isEqualTo(DURABLE + "INSERT INTO t (a, b, c) SELECT ?, ?, now() FROM commit_mode");
        assertThat(insert.onConflictDoNothing("a").durable())
                .isEqualTo(DURABLE + "INSERT INTO t (a, b, c) SELECT ?, ?, now() FROM commit_mode ON CONFLICT (a) DO NOTHING");
    }

    @Test
    void aPostgresInsertInAQueryStillReadsCommitModeAndTheSettingComesFirst() {
        String sql = DialectSql.POSTGRESQL.insert("t").as("l").columns("a", "b").values("?", "?")
                .onConflictDoUpdate("a", "b = EXCLUDED.b", "c = l.c + 1").onConflictWhere("l.b IS NULL OR l.b < ?")
                .returning("l.c")
                .inQuery("taken", "SELECT (SELECT c FROM taken), (SELECT b FROM t WHERE a = ?)")
                .durable();
        assertThat(sql).isEqualTo("WITH commit_mode AS (SELECT set_config('synchronous_commit', 'on', true) AS setting),"
                + " taken AS (INSERT INTO t AS l (a, b) SELECT ?, ? FROM commit_mode"
                + " ON CONFLICT (a) DO UPDATE SET b = EXCLUDED.b, c = l.c + 1 WHERE l.b IS NULL OR l.b < ?"
                + " RETURNING l.c) SELECT (SELECT c FROM taken), (SELECT b FROM t WHERE a = ?)");
    }

    @Test
    void everyPostgresWriteDefinesCommitModeFirstAndReadsItExactlyOnce() {
        for (Function<DialectSql, WriteSql> write : WRITES) {
            for (String sql : List.of(write.apply(DialectSql.POSTGRESQL).durable(),
                    write.apply(DialectSql.POSTGRESQL).unhurried())) {
                assertThat(sql).as(sql).startsWith("WITH commit_mode AS (SELECT set_config('synchronous_commit', '");
                assertThat(occurrences(sql, "commit_mode")).as(sql).isEqualTo(2);
                assertThat(occurrences(sql, "FROM commit_mode")).as(sql).isEqualTo(1);
            }
        }
    }

    @Test
    void elsewhereTheStatementIsThePlainOne() {
        for (DialectSql other : OTHERS) {
            WriteSql.Update update = other.update("t").set("x = ?").where("y = ? AND z = ?");
            assertThat(update.durable()).isEqualTo("UPDATE t SET x = ? WHERE y = ? AND z = ?");
            assertThat(update.unhurried()).isEqualTo(update.durable());
            WriteSql.Insert insert = other.insert("t").columns("a", "b").values("?", "0");
            assertThat(insert.durable()).isEqualTo("INSERT INTO t (a, b) VALUES (?, 0)");
            assertThat(insert.unhurried()).isEqualTo(insert.durable());
        }
    }

    @Test
    void postgresSyntaxIsRefusedElsewhereWhenItIsWritten() {
        for (DialectSql other : OTHERS) {
            WriteSql.Insert insert = other.insert("t").columns("a").values("?");
            for (Runnable step : List.<Runnable>of(() -> insert.onConflictDoNothing("a"),
                    () -> insert.onConflictDoUpdate("a", "a = 1"), () -> insert.returning("a"), () -> insert.as("l"),
                    () -> insert.inQuery("x", "SELECT 1"), () -> other.update("t").returning("a"))) {
                assertThatThrownBy(step::run).isInstanceOf(UnsupportedOperationException.class)
                        .hasMessageContaining("is PostgreSQL syntax; distkit's " + other + " statements cannot use it");
            }
        }
    }

    @Test
    void anIncompleteStatementFailsWhenItIsBuiltSayingWhatIsMissing() {
        for (DialectSql dialect : DialectSql.values()) {
            assertThatIllegalStateException().isThrownBy(() -> dialect.update("t").set("x = 1").durable())
                    .withMessage("UPDATE t has no WHERE: it would change every row; call where(...)");
            assertThatIllegalStateException().isThrownBy(() -> dialect.update("t").where("y = 1").unhurried())
                    .withMessage("UPDATE t has no SET: call set(...)");
            assertThatIllegalStateException().isThrownBy(() -> dialect.insert("t").columns("a", "b").values("?").durable())
                    .withMessage("INSERT INTO t names 2 column(s) and 1 value(s): call columns(...) and values(...)"
                            + " with one value per column");
            assertThatIllegalStateException().isThrownBy(() -> dialect.insert("t").durable())
                    .withMessageStartingWith("INSERT INTO t names 0 column(s) and 0 value(s)");
        }
        assertThatIllegalStateException().isThrownBy(() -> DialectSql.POSTGRESQL.insert("t").onConflictDoNothing("a")
                .onConflictWhere("a > 0")).withMessage("INSERT INTO t: onConflictWhere needs onConflictDoUpdate first");
    }

    @Test
    void argumentsAreCheckedNamingTheArgumentAndTheBadValue() {
        DialectSql sql = DialectSql.POSTGRESQL;
        assertThatNullPointerException().isThrownBy(() -> sql.update(null)).withMessage("table");
        assertThatIllegalArgumentException().isThrownBy(() -> sql.insert(" ")).withMessage("table must not be blank, got ' '");
        assertThatIllegalArgumentException().isThrownBy(() -> sql.update("t").set())
                .withMessage("assignments must name at least one, got none");
        assertThatIllegalArgumentException().isThrownBy(() -> sql.update("t").set("x = 1", ""))
                .withMessage("assignments[1] must not be blank, got ''");
        assertThatNullPointerException().isThrownBy(() -> sql.update("t").where(null)).withMessage("condition");
        assertThatIllegalArgumentException().isThrownBy(() -> sql.insert("t").values("?", " "))
                .withMessage("values[1] must not be blank, got ' '");
        assertThatIllegalArgumentException().isThrownBy(() -> sql.insert("t").onConflictDoUpdate("a"))
                .withMessage("assignments must name at least one, got none");
        assertThatIllegalArgumentException().isThrownBy(() -> sql.insert("t").columns("a").values("?").inQuery("x", ""))
                .withMessage("query must not be blank, got ''");
    }

    private static int occurrences(String text, String part) {
        int count = 0;
        for (int at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + 1)) {
            count++;
        }
        return count;
    }
}
