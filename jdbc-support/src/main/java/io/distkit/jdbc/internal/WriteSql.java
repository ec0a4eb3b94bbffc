package io.distkit.jdbc.internal;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A write whose commit matters, built so that its commit setting cannot be left out. Start from {@link
 * DialectSql#update} or {@link DialectSql#insert}, finish with {@link #durable()} or {@link #unhurried()}.
 *
 * <p>On PostgreSQL the statement gets, as its first common table expression, {@code commit_mode}, which sets
 * {@code synchronous_commit} for the statement's own transaction whatever the server or role default. PostgreSQL
 * evaluates a common table expression only if the statement reads it, so the builder makes the statement read it,
 * exactly once: an {@code UPDATE}'s WHERE tests it, an {@code INSERT} selects its values {@code FROM commit_mode}.
 * No caller has to remember it. On the other databases the statement is the plain one ({@code VALUES (...)} for an
 * insert): they cannot choose the commit of one statement.
 *
 * <p>Immutable: every step returns a new builder, so one builder can be finished in two ways (say, with and
 * without {@code RETURNING}). Steps check their arguments; a statement that is incomplete, or uses PostgreSQL
 * syntax on another database, fails when it is built, with a message that says what is missing.
 */
public abstract sealed class WriteSql permits WriteSql.Update, WriteSql.Insert, WriteSql.WithQuery {

    /** What a statement tests or selects from so that PostgreSQL evaluates {@code commit_mode}. */
    private static final String COMMIT_MODE = "commit_mode";

    final DialectSql dialect;

    private WriteSql(DialectSql dialect) {
        this.dialect = dialect;
    }

    /**
     * The statement, made durable on commit where the database lets a statement ask for that (PostgreSQL):
     * for the writes a lease or a high-water mark depends on (acquires, claims, renewals, reservations).
     *
     * @throws IllegalStateException if the statement is incomplete (e.g. an {@code UPDATE} without WHERE)
     */
    public final String durable() {
        return build("on");
    }

    /**
     * The statement, committed without waiting for the disk where the database allows it: for releases only.
     * A release lost in a crash leaves the row held until its expiry, which is what a crashed holder does anyway;
     * it can never let two holders in. (The next durable commit on the server flushes it too: the log is written
     * in order.) Acquires, claims and renewals stay {@link #durable()}: losing one of those would let a second
     * holder in while the first still trusts its lease.
     *
     * @throws IllegalStateException if the statement is incomplete
     */
    public final String unhurried() {
        return build("off");
    }

    private String build(String synchronousCommit) {
        if (!dialect.choosesCommitPerStatement()) {
            return render(false);
        }
        String statement = render(true);
        // local to the statement's own transaction; evaluated before the write commits, as the statement reads it
        String commitMode = "WITH " + COMMIT_MODE + " AS (SELECT set_config('synchronous_commit', '"
                + synchronousCommit + "', true) AS setting)";
        return statement.startsWith("WITH ")
                ? commitMode + ", " + statement.substring("WITH ".length())
                : commitMode + " " + statement;
    }

    /**
     * The statement without the {@code commit_mode} definition; if {@code readCommitMode}, reading it exactly once.
     *
     * @throws IllegalStateException if the statement is incomplete
     */
    abstract String render(boolean readCommitMode);

    /**
     * An {@code UPDATE}: {@link #set} and {@link #where} are required (a write whose commit matters touches the
     * rows it names, never the whole table).
     */
    public static final class Update extends WriteSql {

        private final String table;
        private final List<String> set;
        private final @Nullable String where;
        private final @Nullable String returning;

        Update(DialectSql dialect, String table) {
            this(dialect, text(table, "table"), List.of(), null, null);
        }

        private Update(DialectSql dialect, String table, List<String> set, @Nullable String where,
                @Nullable String returning) {
            super(dialect);
            this.table = table;
            this.set = set;
            this.where = where;
            this.returning = returning;
        }

        /**
         * The assignments, e.g. {@code "owner = NULL"}, in the order of their parameters.
         *
         * @throws IllegalArgumentException if there are none, or one is blank
         */
        public Update set(String... assignments) {
            return new Update(dialect, table, texts(assignments, "assignments"), where, returning);
        }

        /**
         * The condition that picks the rows, e.g. {@code "lock_name = ? AND owner = ?"}. On PostgreSQL the test of
         * {@code commit_mode} is added with AND, the condition in parentheses, after its parameters.
         *
         * @throws IllegalArgumentException if {@code condition} is blank
         */
        public Update where(String condition) {
            return new Update(dialect, table, set, text(condition, "condition"), returning);
        }

        /**
         * What the statement returns, e.g. {@code "max_id"}.
         *
         * @throws IllegalArgumentException if {@code expressions} is blank
         * @throws UnsupportedOperationException on a database other than PostgreSQL
         */
        public Update returning(String expressions) {
            postgresOnly("RETURNING");
            return new Update(dialect, table, set, where, text(expressions, "expressions"));
        }

        @Override
        String render(boolean readCommitMode) {
            if (set.isEmpty()) {
                throw new IllegalStateException("UPDATE " + table + " has no SET: call set(...)");
            }
            if (where == null) {
                throw new IllegalStateException("UPDATE " + table + " has no WHERE: it would change every row;"
                        + " call where(...)");
            }
            StringBuilder sql = new StringBuilder("UPDATE ").append(table)
                    .append(" SET ").append(String.join(", ", set))
                    .append(" WHERE ");
            if (readCommitMode) {
                sql.append('(').append(where).append(") AND (SELECT setting FROM ").append(COMMIT_MODE)
                        .append(") IS NOT NULL");
            } else {
                sql.append(where);
            }
            if (returning != null) {
                sql.append(" RETURNING ").append(returning);
            }
            return sql.toString();
        }
    }

    /**
     * An {@code INSERT} of one row: {@link #columns} and as many {@link #values} are required. On PostgreSQL
     * the row is selected {@code FROM commit_mode} (one row), elsewhere it is {@code VALUES (...)}.
     */
    public static final class Insert extends WriteSql {

        private final String table;
        private final @Nullable String alias;
        private final List<String> columns;
        private final List<String> values;
        private final @Nullable String conflictKey;
        private final List<String> conflictSet; // empty: DO NOTHING
        private final @Nullable String conflictWhere;
        private final @Nullable String returning;

        Insert(DialectSql dialect, String table) {
            this(dialect, text(table, "table"), null, List.of(), List.of(), null, List.of(), null, null);
        }

        private Insert(DialectSql dialect, String table, @Nullable String alias, List<String> columns,
                List<String> values, @Nullable String conflictKey, List<String> conflictSet,
                @Nullable String conflictWhere, @Nullable String returning) {
            super(dialect);
            this.table = table;
            this.alias = alias;
            this.columns = columns;
            this.values = values;
            this.conflictKey = conflictKey;
            this.conflictSet = conflictSet;
            this.conflictWhere = conflictWhere;
            this.returning = returning;
        }

        /**
         * The table's alias in the statement ({@code INSERT INTO table AS alias}), for the conflict clauses.
         *
         * @throws IllegalArgumentException if {@code alias} is blank
         * @throws UnsupportedOperationException on a database other than PostgreSQL
         */
        public Insert as(String alias) {
            postgresOnly("INSERT INTO ... AS");
            return new Insert(dialect, table, text(alias, "alias"), columns, values, conflictKey, conflictSet,
                    conflictWhere, returning);
        }

        /**
         * The columns, in the order of {@link #values}.
         *
         * @throws IllegalArgumentException if there are none, or one is blank
         */
        public Insert columns(String... columns) {
            return new Insert(dialect, table, alias, texts(columns, "columns"), values, conflictKey, conflictSet,
                    conflictWhere, returning);
        }

        /**
         * The values, one per column, e.g. {@code "?"}, {@code "0"}, {@code sql.now()}.
         *
         * @throws IllegalArgumentException if there are none, or one is blank
         */
        public Insert values(String... values) {
            return new Insert(dialect, table, alias, columns, texts(values, "values"), conflictKey, conflictSet,
                    conflictWhere, returning);
        }

        /**
         * {@code ON CONFLICT (key) DO NOTHING}: a row that exists is no error, and is left as it is.
         *
         * @throws IllegalArgumentException if {@code key} is blank
         * @throws UnsupportedOperationException on a database other than PostgreSQL
         */
        public Insert onConflictDoNothing(String key) {
            postgresOnly("ON CONFLICT");
            return new Insert(dialect, table, alias, columns, values, text(key, "key"), List.of(), null, returning);
        }

        /**
         * {@code ON CONFLICT (key) DO UPDATE SET assignments}; {@link #onConflictWhere} narrows it.
         *
         * @throws IllegalArgumentException if {@code key} is blank, or there are no assignments, or one is blank
         * @throws UnsupportedOperationException on a database other than PostgreSQL
         */
        public Insert onConflictDoUpdate(String key, String... assignments) {
            postgresOnly("ON CONFLICT");
            return new Insert(dialect, table, alias, columns, values, text(key, "key"),
                    texts(assignments, "assignments"), null, returning);
        }

        /**
         * The condition of {@link #onConflictDoUpdate}'s update: a row it does not hold for is left as it is.
         *
         * @throws IllegalArgumentException if {@code condition} is blank
         * @throws IllegalStateException if {@link #onConflictDoUpdate} was not called
         */
        public Insert onConflictWhere(String condition) {
            if (conflictSet.isEmpty()) {
                throw new IllegalStateException("INSERT INTO " + table
                        + ": onConflictWhere needs onConflictDoUpdate first");
            }
            return new Insert(dialect, table, alias, columns, values, conflictKey, conflictSet,
                    text(condition, "condition"), returning);
        }

        /**
         * What the statement returns, e.g. {@code "l.fencing_token"}.
         *
         * @throws IllegalArgumentException if {@code expressions} is blank
         * @throws UnsupportedOperationException on a database other than PostgreSQL
         */
        public Insert returning(String expressions) {
            postgresOnly("RETURNING");
            return new Insert(dialect, table, alias, columns, values, conflictKey, conflictSet, conflictWhere,
                    text(expressions, "expressions"));
        }

        /**
         * This insert as the common table expression {@code name} of {@code query}: {@code WITH name AS (insert)
         * query}, e.g. a query that reads what the insert {@linkplain #returning returned}. The insert still
         * reads {@code commit_mode}; the query need not.
         *
         * @throws IllegalArgumentException if {@code name} or {@code query} is blank
         * @throws UnsupportedOperationException on a database other than PostgreSQL
         */
        public WriteSql inQuery(String name, String query) {
            postgresOnly("WITH ... AS (INSERT ...)");
            return new WithQuery(this, text(name, "name"), text(query, "query"));
        }

        @Override
        String render(boolean readCommitMode) {
            if (columns.isEmpty() || values.size() != columns.size()) {
                throw new IllegalStateException("INSERT INTO " + table + " names " + columns.size() + " column(s) and "
                        + values.size() + " value(s): call columns(...) and values(...) with one value per column");
            }
            StringBuilder sql = new StringBuilder("INSERT INTO ").append(table);
            if (alias != null) {
                sql.append(" AS ").append(alias);
            }
            sql.append(" (").append(String.join(", ", columns)).append(')');
            if (readCommitMode) {
                sql.append(" SELECT ").append(String.join(", ", values)).append(" FROM ").append(COMMIT_MODE);
            } else {
                sql.append(" VALUES (").append(String.join(", ", values)).append(')');
            }
            if (conflictKey != null) {
                sql.append(" ON CONFLICT (").append(conflictKey).append(')');
                if (conflictSet.isEmpty()) {
                    sql.append(" DO NOTHING");
                } else {
                    sql.append(" DO UPDATE SET ").append(String.join(", ", conflictSet));
                    if (conflictWhere != null) {
                        sql.append(" WHERE ").append(conflictWhere);
                    }
                }
            }
            if (returning != null) {
                sql.append(" RETURNING ").append(returning);
            }
            return sql.toString();
        }
    }

    /** {@code WITH name AS (write) query}: see {@link Insert#inQuery}. */
    static final class WithQuery extends WriteSql {

        private final WriteSql write;
        private final String name;
        private final String query;

        WithQuery(WriteSql write, String name, String query) {
            super(write.dialect);
            this.write = write;
            this.name = name;
            this.query = query;
        }

        @Override
        String render(boolean readCommitMode) {
            return "WITH " + name + " AS (" + write.render(readCommitMode) + ") " + query;
        }
    }

    /** @throws UnsupportedOperationException unless the dialect is PostgreSQL */
    final void postgresOnly(String syntax) {
        if (dialect != DialectSql.POSTGRESQL) {
            throw new UnsupportedOperationException(syntax + " is PostgreSQL syntax; distkit's " + dialect
                    + " statements cannot use it");
        }
    }

    private static String text(String value, String name) {
        Objects.requireNonNull(value, name);
        if (value.isBlank()) {
            throw new IllegalArgumentException(name + " must not be blank, got '" + value + "'");
        }
        return value;
    }

    private static List<String> texts(String[] values, String name) {
        Objects.requireNonNull(values, name);
        if (values.length == 0) {
            throw new IllegalArgumentException(name + " must name at least one, got none");
        }
        for (int i = 0; i < values.length; i++) {
            text(values[i], name + "[" + i + "]");
        }
        return List.of(values);
    }
}
