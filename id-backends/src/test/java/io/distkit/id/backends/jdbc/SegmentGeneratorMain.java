package io.distkit.id.backends.jdbc;

import io.distkit.id.segment.SegmentIdGenerator;
import io.distkit.testkit.server.Pools;
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A child JVM for {@link SegmentFailureTest}: a segment generator on {@link JdbcSegmentAllocator} that
 * issues ids until it is killed, writing each to a file (8 bytes, big-endian), flushed every 1,000 ids, and
 * printing {@code distkit-seg issued <n>} after each flush.
 *
 * <pre>SegmentGeneratorMain &lt;jdbcUrl&gt; &lt;user&gt; &lt;password&gt; &lt;table&gt; &lt;tag&gt; &lt;step&gt; &lt;outFile&gt;</pre>
 */
public final class SegmentGeneratorMain {

    static final String PREFIX = "distkit-seg ";

    private SegmentGeneratorMain() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 7) {
            System.err.println("usage: SegmentGeneratorMain <jdbcUrl> <user> <password> <table> <tag> <step> <outFile>");
            System.exit(2);
        }
        long step = Long.parseLong(args[5]);
        var pool = Pools.hikari(args[0], args[1], args[2]);
        JdbcSegmentAllocator allocator = JdbcSegmentAllocator.builder(pool).tableName(args[3]).build();
        SegmentIdGenerator generator = SegmentIdGenerator.builder(allocator, args[4]).minStep(step).maxStep(step).build();
        try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(Path.of(args[6]))))) {
            System.out.println(PREFIX + "ready");
            System.out.flush();
            for (long n = 1; ; n++) {
                out.writeLong(generator.nextId());
                if (n % 1000 == 0) {
                    out.flush();
                    System.out.println(PREFIX + "issued " + n);
                    System.out.flush();
                }
            }
        }
    }
}
