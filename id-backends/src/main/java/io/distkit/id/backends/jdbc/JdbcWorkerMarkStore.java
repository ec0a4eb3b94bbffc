package io.distkit.id.backends.jdbc;

import io.distkit.id.IdSourceUnavailableException;
import io.distkit.id.backends.WorkerMarkStore;
import io.distkit.jdbc.SqlDialect;
import io.distkit.jdbc.internal.Database;
import io.distkit.jdbc.internal.DialectSql;
import java.util.HashSet;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import org.springframework.dao.DataAccessException;

/**
 * The high-water marks in the {@code last_timestamp} column of the worker table, beside the lock columns
 * of the same row: reads and saves are conditional on the row's fencing token, which every take of the
 * lock raises, so a holder whose lock was taken over changes nothing. On PostgreSQL a save commits with
 * {@code synchronous_commit = on}: an acknowledged mark survives a crash of the server.
 */
final class JdbcWorkerMarkStore implements WorkerMarkStore {

    private final Database database;
    private final String description;
    private final String readSql;
    private final String saveSql;
    private final String heldSql;

    JdbcWorkerMarkStore(Database database) {
        this.database = database;
        this.description = "table " + database.table() + " of " + database.where() + " (" + database.dialect() + ")";
        String table = database.table();
        DialectSql sql = DialectSql.of(database.dialect());
        this.readSql = "SELECT last_timestamp FROM " + table + " WHERE lock_name = ? AND fencing_token = ?";
        this.heldSql = "SELECT lock_name FROM " + table + " WHERE owner IS NOT NULL AND expires_at > " + sql.now();
        // GREATEST in all three databases; both sides are NOT NULL, so MySQL's NULL-if-any-NULL rule never applies
        this.saveSql = sql.update(table)
                .set("last_timestamp = GREATEST(last_timestamp, " + bigintParameter(database.dialect()) + ")")
                .where("lock_name = ? AND fencing_token = ?").durable();
    }

    /** A BIGINT statement parameter where the database cannot infer its type from the context. */
    private static String bigintParameter(SqlDialect dialect) {
        // MySQL casts to SIGNED, not BIGINT, and needs no cast here
        return dialect == SqlDialect.MYSQL ? "?" : "CAST(? AS BIGINT)";
    }

    @Override
    public String source() {
        return database.table();
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public OptionalLong read(String lockName, long fencingToken) {
        return read("read the last timestamp", lockName, fencingToken);
    }

    private OptionalLong read(String what, String lockName, long fencingToken) {
        try {
            List<Long> mark = database.call(what,
                    statements -> statements.longs(readSql, lockName, fencingToken));
            return mark.isEmpty() ? OptionalLong.empty() : OptionalLong.of(mark.get(0));
        } catch (DataAccessException e) {
            throw new IdSourceUnavailableException(database.table(), "reading the last timestamp of " + lockName
                    + " from " + description + " failed: " + Database.rootMessage(e), e);
        }
    }

    /** Every row of the table whose lock is held by the database clock (the table is the namespace). */
    @Override
    public Set<String> heldLockNames(String namePrefix) {
        try {
            return database.call("read the held worker ids", statements -> statements.query(heldSql, rows -> {
                Set<String> names = new HashSet<>();
                while (rows.next()) {
                    names.add(rows.getString(1));
                }
                return names;
            }));
        } catch (DataAccessException e) {
            throw new IdSourceUnavailableException(database.table(), "reading the held worker ids from " + description
                    + " failed: " + Database.rootMessage(e), e);
        }
    }

    @Override
    public boolean save(String lockName, long fencingToken, long timestamp) {
        try {
            if (database.callRepeatable("save the last timestamp",
                    statements -> statements.update(saveSql, timestamp, lockName, fencingToken)) > 0) {
                return true;
            }
            // none changed: refused, or (MySQL with useAffectedRows=true counts changed rows, not matched
            // ones) matched but already at or above timestamp; only the token tells
            return !read("check the fencing token", lockName, fencingToken).isEmpty();
        } catch (DataAccessException e) {
            throw new IdSourceUnavailableException(database.table(), "saving last timestamp " + timestamp + " of "
                    + lockName + " to " + description + " failed: " + Database.rootMessage(e)
                    + "; whether it was saved is unknown", e);
        }
    }
}
