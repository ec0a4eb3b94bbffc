package io.distkit.jdbc.internal;

import io.distkit.jdbc.SqlDialect;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.springframework.dao.DataAccessException;
import org.springframework.jdbc.CannotGetJdbcConnectionException;

/**
 * One module's table, as the shared checks need it: its name in messages, the columns distkit reads,
 * its {@code CREATE TABLE} statement per dialect (a resource of the module, with {@code ${table}} for
 * the table name), and how a problem becomes the module's own exception. Immutable; a module keeps
 * one in a constant.
 *
 * <p>The check, once when a client is built ({@link Database#open}): select the columns from the
 * table with {@code WHERE 1 = 0}. A missing table is an error that carries the DDL to run, or, when
 * asked, is created; a failed {@code CREATE} is ignored, because another client may have created the
 * table meanwhile, and a second probe decides. On PostgreSQL the table must also be logged and not
 * temporary: a crash empties an {@code UNLOGGED} table, and a temporary one is private to a session,
 * so either would let two holders in.
 */
public final class TableSpec {

    /** What went wrong, so that a module can pick its exception. */
    public enum Problem {
        /** The database could not be reached: no connection. */
        UNREACHABLE,
        /** The table is missing, lacks distkit's columns, or would not survive a crash or outlive a session. */
        UNUSABLE_TABLE
    }

    /** Makes the module's exception for a problem; the message is complete. */
    @FunctionalInterface
    public interface Failures {
        /**
         * The exception to throw.
         *
         * @param problem what kind of problem
         * @param table the table concerned
         * @param message the whole message, naming the table and the database and saying what to do
         * @param cause the underlying failure, or null if there is none
         */
        RuntimeException failure(Problem problem, String table, String message, @Nullable Throwable cause);
    }

    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,62}");

    private final String noun;
    private final String builtBy;
    private final List<String> columns;
    private final Class<?> resourceAnchor;
    private final Map<SqlDialect, String> ddlResources;
    private final String lostInCrash;
    private final String rows;
    private final String connectHint;
    private final Failures failures;

    private TableSpec(Builder builder) {
        this.noun = builder.noun;
        this.builtBy = Objects.requireNonNull(builder.builtBy, "builtBy");
        this.columns = Objects.requireNonNull(builder.columns, "columns");
        this.resourceAnchor = Objects.requireNonNull(builder.resourceAnchor, "ddl");
        this.ddlResources = Objects.requireNonNull(builder.ddlResources, "ddl");
        this.lostInCrash = Objects.requireNonNull(builder.lostInCrash, "lostInCrash");
        this.rows = Objects.requireNonNull(builder.rows, "rows");
        this.connectHint = Objects.requireNonNull(builder.connectHint, "connectHint");
        this.failures = Objects.requireNonNull(builder.failures, "failures");
    }

    /**
     * A builder; every setting is required.
     *
     * @param noun what the table holds, as in "the {@code noun} table" and "distkit has no {@code noun}
     *     SQL": {@code "lock"}, {@code "worker-id"}
     */
    public static Builder builder(String noun) {
        return new Builder(Objects.requireNonNull(noun, "noun"));
    }

    /**
     * Checks a table name: an unquoted SQL identifier, optionally schema-qualified ({@code locks.distkit_lock}),
     * each part a letter or underscore followed by up to 62 letters, digits or underscores. Table names
     * are put into SQL as they are, so nothing else may pass.
     *
     * @return {@code table}
     * @throws NullPointerException if null, with the message "tableName"
     * @throws IllegalArgumentException otherwise, quoting the name
     */
    public static String checkTableName(String table) {
        Objects.requireNonNull(table, "tableName");
        String[] parts = table.split("\\.", -1);
        boolean valid = parts.length <= 2;
        for (String part : parts) {
            valid &= IDENTIFIER.matcher(part).matches();
        }
        if (!valid) {
            throw new IllegalArgumentException("tableName must be an unquoted SQL identifier, optionally"
                    + " schema-qualified (letters, digits, '_', not starting with a digit, at most 63 characters a"
                    + " part), was '" + table + "'");
        }
        return table;
    }

    /**
     * The {@code CREATE TABLE} statement of this table, named {@code table}, in {@code dialect}: the
     * module's resource with {@code ${table}} replaced, stripped.
     *
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if {@code table} is not a valid table name ({@link #checkTableName})
     * @throws IllegalStateException if the module's jar lacks the resource
     */
    public String createTableSql(SqlDialect dialect, String table) {
        String resource = ddlResources.get(Objects.requireNonNull(dialect, "dialect"));
        checkTableName(table);
        try (InputStream in = resourceAnchor.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("resource " + resource + " is missing from the distkit jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).replace("${table}", table).strip();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What distkit has no SQL for when the database is not supported: "lock SQL". */
    String sqlFor() {
        return noun + " SQL";
    }

    /** The module's exception for a database that cannot be reached. */
    RuntimeException unreachable(String table, String what, String detail, Throwable cause) {
        return failures.failure(Problem.UNREACHABLE, table, "cannot connect to " + what + ": " + detail
                + " (" + connectHint + ")", cause);
    }

    /** The check of the class comment, on {@code database}'s table. */
    void check(Database database, boolean create) {
        String table = database.table();
        String where = database.where();
        SqlDialect dialect = database.dialect();
        DataAccessException problem = probe(database);
        if (problem != null && DialectSql.of(dialect).isMissingTable(problem)) {
            if (!create) {
                throw unusable(table, "the " + noun + " table " + table + " does not exist in " + where
                        + ". Create it with:\n\n" + createTableSql(dialect, table)
                        + "\n\nor build the " + builtBy + " with createTableIfMissing().", problem);
            }
            DataAccessException createFailed = null;
            try {
                String ddl = createTableSql(dialect, table);
                database.call("create table " + table, statements -> statements.update(ddl));
            } catch (DataAccessException e) {
                createFailed = e; // another client may have created it meanwhile: the second probe decides
            }
            problem = probe(database);
            if (problem != null && createFailed != null && DialectSql.of(dialect).isMissingTable(problem)) {
                // the table is still missing: why the CREATE failed is the root cause (a missing privilege, say)
                throw unusable(table, "the " + noun + " table " + table + " does not exist in " + where
                        + " and creating it failed: " + Database.rootMessage(createFailed)
                        + ". Create it as a user that may, with:\n\n" + createTableSql(dialect, table), createFailed);
            }
        }
        if (problem instanceof CannotGetJdbcConnectionException) {
            throw unreachable(table, where, Database.rootMessage(problem), problem);
        }
        if (problem != null) {
            throw unusable(table, "the " + noun + " table " + table + " in " + where + " cannot be used: "
                    + Database.rootMessage(problem) + ". distkit expects:\n\n" + createTableSql(dialect, table), problem);
        }
        if (dialect == SqlDialect.POSTGRESQL) {
            requireLogged(database);
        }
        String product = database.productName().toLowerCase(Locale.ROOT);
        if (dialect == SqlDialect.MYSQL && (product.contains("mysql") || product.contains("mariadb"))) {
            requireUtf8mb4(database); // a MySQL or MariaDB server, not another database spoken to in MySQL's dialect
        }
    }

    /**
     * MySQL converts what the client sends to the connection's character set before it reaches a binary
     * column: in any other than utf8mb4, characters it lacks become {@code ?}, and two distinct names or tags
     * would share one row.
     */
    private void requireUtf8mb4(Database database) {
        String charsets = database.call("check the connection's character set", statements -> statements.query(
                "SELECT @@character_set_client, @@character_set_connection",
                rows -> rows.next() ? rows.getString(1) + "/" + rows.getString(2) : "?/?"));
        if (!charsets.equals("utf8mb4/utf8mb4")) {
            throw unusable(database.table(), "the connection to " + database.where() + " uses the character set "
                    + charsets.replace("/", " (client) and ") + " (connection): " + rows + " whose names hold"
                    + " characters outside it would be stored as '?' and two of them would share one row. Connect"
                    + " with utf8mb4 (Connector/J: characterEncoding=UTF-8; MariaDB Connector/J uses it unless the"
                    + " pool runs SET NAMES)", null);
        }
    }

    private @Nullable DataAccessException probe(Database database) {
        String sql = "SELECT " + String.join(", ", columns) + " FROM " + database.table() + " WHERE 1 = 0";
        try {
            database.call("check table " + database.table(), statements -> statements.query(sql, rows -> null));
            return null;
        } catch (DataAccessException e) {
            return e;
        }
    }

    /** An UNLOGGED table is emptied by a crash; a temporary table is private to one session. */
    private void requireLogged(Database database) {
        String table = database.table();
        String where = database.where();
        String persistence = database.call("check table " + table, statements -> statements.query(
                "SELECT CAST(relpersistence AS TEXT) FROM pg_class WHERE oid = to_regclass(?)",
                rows -> rows.next() ? rows.getString(1) : "", table));
        if ("u".equals(persistence)) {
            throw unusable(table, "the " + noun + " table " + table + " in " + where + " is UNLOGGED:"
                    + " PostgreSQL empties it after a crash, and " + lostInCrash + "."
                    + " Make it durable: ALTER TABLE " + table + " SET LOGGED", null);
        }
        if ("t".equals(persistence)) {
            throw unusable(table, "the " + noun + " table " + table + " in " + where + " is a temporary"
                    + " table, private to one session: " + rows + " in it exclude nobody. Use a regular table.", null);
        }
    }

    private RuntimeException unusable(String table, String message, @Nullable Throwable cause) {
        return failures.failure(Problem.UNUSABLE_TABLE, table, message, cause);
    }

    /** Configures a {@link TableSpec}; every setting is required. */
    public static final class Builder {
        private final String noun;
        private @Nullable String builtBy;
        private @Nullable List<String> columns;
        private @Nullable Class<?> resourceAnchor;
        private @Nullable Map<SqlDialect, String> ddlResources;
        private @Nullable String lostInCrash;
        private @Nullable String rows;
        private @Nullable String connectHint;
        private @Nullable Failures failures;

        private Builder(String noun) {
            this.noun = noun;
        }

        /** What the user builds, as in "or build the {@code builtBy} with createTableIfMissing()": {@code "client"}. */
        public Builder builtBy(String builtBy) {
            this.builtBy = Objects.requireNonNull(builtBy, "builtBy");
            return this;
        }

        /** The columns distkit reads and writes; the check selects them. */
        public Builder columns(String... columns) {
            this.columns = List.of(columns);
            return this;
        }

        /**
         * The {@code CREATE TABLE} resources, one for every dialect, each a name relative to the package of
         * {@code anchor} (a class of the module that ships them).
         *
         * @throws IllegalArgumentException if a dialect has none
         */
        public Builder ddl(Class<?> anchor, Map<SqlDialect, String> resources) {
            Map<SqlDialect, String> all = new EnumMap<>(SqlDialect.class);
            all.putAll(resources);
            for (SqlDialect dialect : SqlDialect.values()) {
                if (!all.containsKey(dialect)) {
                    throw new IllegalArgumentException("no DDL resource for " + dialect);
                }
            }
            this.resourceAnchor = Objects.requireNonNull(anchor, "anchor");
            this.ddlResources = all;
            return this;
        }

        /**
         * What an UNLOGGED table loses in a crash, completing "PostgreSQL empties it after a crash, and ...":
         * {@code "every lock with it while the holders keep going"}.
         */
        public Builder lostInCrash(String lostInCrash) {
            this.lostInCrash = Objects.requireNonNull(lostInCrash, "lostInCrash");
            return this;
        }

        /** What the rows are, as in "{@code rows} in it exclude nobody" of a temporary table: {@code "locks"}. */
        public Builder rows(String rows) {
            this.rows = Objects.requireNonNull(rows, "rows");
            return this;
        }

        /** What to check when the database cannot be reached, put in parentheses after the driver's words. */
        public Builder connectHint(String connectHint) {
            this.connectHint = Objects.requireNonNull(connectHint, "connectHint");
            return this;
        }

        /** How a problem becomes the module's exception. */
        public Builder failures(Failures failures) {
            this.failures = Objects.requireNonNull(failures, "failures");
            return this;
        }

        /**
         * The spec.
         *
         * @throws NullPointerException naming the first setting that was not made
         */
        public TableSpec build() {
            return new TableSpec(this);
        }
    }
}
