package io.distkit.id.backends;

import io.distkit.id.IdGenerator;
import io.distkit.id.IdStore;
import io.distkit.id.IdStores;
import io.distkit.id.segment.SegmentIdGenerator;
import io.distkit.id.snowflake.SnowflakeIdGenerator;
import io.distkit.id.snowflake.SnowflakeLayout;
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A child JVM for {@link StoreUniquenessContract}: opens the store a URI names ({@link IdStores#connect}) and
 * writes ids of one kind to a file (8 bytes each, big-endian), flushed every 1,000 ids, printing {@code
 * distkit-ids issued <n>} after each flush and {@code distkit-ids done <n>} when it has {@code limit}.
 *
 * <pre>StoreIdsMain &lt;storeUri&gt; &lt;segment|snowflake|counter&gt; &lt;tag&gt; &lt;limit&gt; &lt;outFile&gt;</pre>
 *
 * Kinds: {@code segment} is a {@link SegmentIdGenerator} with its defaults; {@code snowflake} a {@link
 * SnowflakeIdGenerator} leasing its worker id from the store; {@code counter} the store's counter, a batch of
 * 1,000 ({@code nextIds}) at a time.
 */
public final class StoreIdsMain {

    static final String PREFIX = "distkit-ids ";

    private StoreIdsMain() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 5) {
            System.err.println("usage: StoreIdsMain <storeUri> <segment|snowflake|counter> <tag> <limit> <outFile>");
            System.exit(2);
        }
        String kind = args[1];
        long limit = Long.parseLong(args[3]);
        try (IdStore store = IdStores.connect(args[0]);
                DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(Path.of(args[4]))))) {
            IdGenerator ids = switch (kind) {
                case "segment" -> SegmentIdGenerator.builder(store.segmentAllocator(), args[2]).build();
                case "snowflake" -> SnowflakeIdGenerator.builder(SnowflakeLayout.TWITTER)
                        .workerIdAssigner(store.workerIdAssigner()).build();
                case "counter" -> store.counter(args[2]);
                default -> throw new IllegalArgumentException("unknown kind " + kind);
            };
            System.out.println(PREFIX + "ready");
            System.out.flush();
            long n = 0;
            while (n < limit) {
                for (long id : ids.nextIds(1000)) {
                    out.writeLong(id);
                }
                n += 1000;
                out.flush();
                System.out.println(PREFIX + "issued " + n);
                System.out.flush();
            }
            System.out.println(PREFIX + "done " + n);
            System.out.flush();
        }
    }
}
