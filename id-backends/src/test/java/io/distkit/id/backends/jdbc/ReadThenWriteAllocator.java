package io.distkit.id.backends.jdbc;

import io.distkit.id.IdGenerationException;
import io.distkit.id.Segment;
import io.distkit.id.SegmentAllocator;
import java.util.List;
import javax.sql.DataSource;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * The negative control of the allocator tests, on the same table as {@link JdbcSegmentAllocator}: it reads
 * a tag's {@code max_id} and writes {@code max_id + step} back blindly, in two statements, so that two
 * callers between the read and the write get one range. The checkers must flag what it hands out; a
 * checker that never sees a broken allocator proves nothing.
 */
final class ReadThenWriteAllocator implements SegmentAllocator {

    private final JdbcTemplate jdbc;
    private final String table;

    ReadThenWriteAllocator(DataSource dataSource, String table) {
        this.jdbc = new JdbcTemplate(dataSource);
        this.table = table;
    }

    @Override
    public Segment allocate(String tag, long step) {
        List<Long> max = jdbc.queryForList("SELECT max_id FROM " + table + " WHERE biz_tag = ?", Long.class, tag);
        if (max.isEmpty()) {
            throw new IdGenerationException("unknown tag '" + tag + "'");
        }
        long start = max.get(0);
        jdbc.update("UPDATE " + table + " SET max_id = ?, step = ? WHERE biz_tag = ?", start + step, step, tag);
        return new Segment(tag, start, start + step);
    }
}
