package io.distkit.cli;

import io.distkit.id.IdGenerator;
import io.distkit.id.IdStore;
import io.distkit.id.IdStores;
import io.distkit.id.Segment;
import io.distkit.id.SegmentAllocator;
import io.distkit.id.WorkerIdAssigner;
import io.distkit.id.backends.jdbc.JdbcIdStore;
import io.distkit.id.snowflake.IdFormat;
import io.distkit.id.snowflake.SnowflakeIdGenerator;
import io.distkit.id.snowflake.SnowflakeLayout;
import io.distkit.id.snowflake.StaticWorkerIdAssigner;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/**
 * {@code distkit id}: prints ids, one a line. Snowflake ids lease their worker id from a database
 * (or take a fixed one); segment ids are one range reserved in a database, exactly as large as
 * the count, so nothing is wasted between runs. {@code distkit id decode} takes snowflake ids apart.
 */
@Command(name = "id",
        sortOptions = false,
        usageHelpAutoWidth = true,
        subcommands = IdCommand.Decode.class,
        description = {
            "Prints unique ids, one a line.",
            "",
            "snowflake: time-ordered 64-bit ids. The worker id is leased from the --backend (a jdbc: database,"
                    + " redis://, etcd:// or zookeeper://), or fixed with --worker-id.",
            "segment: consecutive numbers per --tag, reserved as one range in the --backend (tags start at 1),"
                    + " exactly --count long.",
            "counter: the --backend's own sequence per --tag (Redis INCRBY, etcd revision, ZooKeeper version,"
                    + " a database row), one request per id: what a service asking the store for each id gets."},
        footerHeading = "%nExamples:%n",
        footer = {
            "  distkit id --backend 'jdbc:postgresql://db/app?user=app' --kind snowflake",
            "  distkit id --backend jdbc:h2:/tmp/ids --kind segment --tag order --count 10",
            "  distkit id --backend redis://localhost:6379 --kind counter --tag invoice --count 3",
            "  distkit id --backend etcd://localhost:2379 --kind snowflake",
            "  distkit id --kind snowflake --worker-id 7 --format base32",
            "  distkit id decode 1798306468462575616",
            "  distkit id decode 1JXJ4B1N00000 --layout twitter"})
final class IdCommand implements Callable<Integer> {

    /** Most ids one call prints. */
    static final int MAX_COUNT = 10_000_000;
    /**
     * The snowflake generator's high-water mark rhythm here: the next run of this command is likely to
     * lease the same worker id, and waits up to two of these for its clock to pass this run's mark.
     */
    static final Duration PERSIST_INTERVAL = Duration.ofMillis(100);

    enum Kind { snowflake, segment, counter }

    enum Format { decimal, base32 }

    @Spec
    CommandSpec spec;

    @Mixin
    HelpOption help;

    @Option(names = "--backend", paramLabel = "URI", defaultValue = "${env:DISTKIT_BACKEND}",
            description = "Id store: a jdbc: URL (PostgreSQL, MySQL/MariaDB, H2), redis://, etcd:// or zookeeper://."
                    + " Default: $DISTKIT_BACKEND.")
    @Nullable String backendUri;

    // not required = true: picocli would then ask for it before 'decode' too
    @Option(names = "--kind", paramLabel = "KIND", description = "snowflake, segment or counter (required).")
    @Nullable Kind kind;

    @Option(names = "--tag", paramLabel = "TAG", defaultValue = "default",
            description = "segment, counter: the id sequence (default: ${DEFAULT-VALUE}).")
    String tag = "default";

    @Option(names = "--count", paramLabel = "N", defaultValue = "1",
            description = "How many ids (default: ${DEFAULT-VALUE}, at most 10,000,000).")
    int count = 1;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "decimal",
            description = "decimal or base32 (13 characters of Crockford base32 that sort as the ids do;"
                    + " default: ${DEFAULT-VALUE}).")
    Format format = Format.decimal;

    @Option(names = "--layout", paramLabel = "LAYOUT", defaultValue = "twitter", converter = LayoutConverter.class,
            description = "snowflake: twitter, sonyflake or js-safe (default: ${DEFAULT-VALUE}).")
    SnowflakeLayout layout = SnowflakeLayout.TWITTER;

    @Option(names = "--worker-id", paramLabel = "N",
            description = "snowflake: a fixed worker id instead of one leased from --backend. Two processes with one"
                    + " worker id repeat each other's ids: lease them where that can happen.")
    @Nullable Integer workerId;

    @Override
    public Integer call() {
        if (kind == null) {
            throw new ParameterException(spec.commandLine(), "Missing required option: '--kind=KIND' (snowflake, segment or counter)");
        }
        if (count < 1 || count > MAX_COUNT) {
            throw new ParameterException(spec.commandLine(), "--count must be between 1 and 10,000,000, was " + count);
        }
        if (backendUri != null && backendUri.isBlank()) {
            backendUri = null;
        }
        PrintWriter out = spec.commandLine().getOut();
        return switch (kind) {
            case snowflake -> snowflake(out);
            case segment -> segment(out);
            case counter -> counter(out);
        };
    }

    /**
     * The id store of --backend: a jdbc: URL on the command's own pool (its errors are the lock commands'),
     * any other URI through {@link IdStores}.
     */
    private IdStore openStore(String uri) {
        if (isJdbc(uri)) {
            Backend backend = DistkitCommand.openBackend(spec, uri, Backend.poolSize(1, 0));
            try {
                JdbcIdStore store = JdbcIdStore.of(backend.dataSource().orElseThrow());
                return new ClosingBoth(store, backend);
            } catch (RuntimeException e) {
                backend.close();
                throw e;
            }
        }
        try {
            return IdStores.connect(uri);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--backend: " + DistkitCommand.describe(e), e, null, uri);
        }
    }

    private boolean isJdbc(String uri) {
        try {
            return Backend.scheme(uri).equals("jdbc");
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--backend: " + e.getMessage(), e);
        }
    }

    /** A store whose close also closes the command's backend (the pool under a jdbc: store). */
    private record ClosingBoth(IdStore store, AutoCloseable also) implements IdStore {
        @Override
        public String describe() {
            return store.describe();
        }

        @Override
        public IdGenerator counter(String name) {
            return store.counter(name);
        }

        @Override
        public SegmentAllocator segmentAllocator() {
            return store.segmentAllocator();
        }

        @Override
        public WorkerIdAssigner workerIdAssigner() {
            return store.workerIdAssigner();
        }

        @Override
        public void close() {
            try {
                store.close();
            } finally {
                try {
                    also.close();
                } catch (Exception e) {
                    // the store is closed; nothing else holds the pool
                }
            }
        }
    }

    private int snowflake(PrintWriter out) {
        if (workerId != null && backendUri != null) {
            throw new ParameterException(spec.commandLine(), "give --backend (a leased worker id) or --worker-id, not both");
        }
        if (workerId != null) {
            try {
                layout.checkWorkerId(workerId);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), "--worker-id: " + e.getMessage(), e);
            }
            try (WorkerIdAssigner assigner = StaticWorkerIdAssigner.of(workerId)) {
                print(out, assigner);
            }
            return 0;
        }
        if (backendUri == null) {
            throw new ParameterException(spec.commandLine(), "snowflake ids need a worker id: --backend URI leases"
                    + " one, --worker-id N fixes it");
        }
        try (IdStore store = openStore(backendUri)) {
            print(out, store.workerIdAssigner());
        }
        return 0;
    }

    private void print(PrintWriter out, WorkerIdAssigner assigner) {
        try (SnowflakeIdGenerator ids = SnowflakeIdGenerator.builder(layout)
                .workerIdAssigner(assigner)
                .persistInterval(PERSIST_INTERVAL)
                .build()) {
            int left = count;
            while (left > 0) {
                int n = Math.min(left, 10_000);
                StringBuilder lines = new StringBuilder(n * 20);
                for (long id : ids.nextIds(n)) {
                    append(lines, id);
                }
                out.write(lines.toString());
                left -= n;
            }
            out.flush();
        }
    }

    /** The store of {@code --backend} for ids of {@code kind}, which take no worker id. */
    private IdStore storeFor(String kind) {
        if (workerId != null) {
            throw new ParameterException(spec.commandLine(), "--worker-id is for snowflake ids");
        }
        if (backendUri == null) {
            throw new ParameterException(spec.commandLine(), kind + " ids need a store: --backend URI");
        }
        return openStore(backendUri);
    }

    /** Runs a call that takes {@code --tag}; a tag the store refuses is a usage error. */
    private <T> T withTag(Supplier<T> call) {
        try {
            return call.get();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--tag: " + e.getMessage(), e);
        }
    }

    private int segment(PrintWriter out) {
        try (IdStore store = storeFor("segment")) {
            Segment segment = withTag(() -> store.segmentAllocator().allocate(tag, count));
            StringBuilder lines = new StringBuilder();
            for (long id = segment.start(); id < segment.endExclusive(); id++) {
                append(lines, id);
                if (lines.length() > 1 << 20) {
                    out.write(lines.toString());
                    lines.setLength(0);
                }
            }
            out.write(lines.toString());
            out.flush();
        }
        return 0;
    }

    private int counter(PrintWriter out) {
        try (IdStore store = storeFor("counter")) {
            IdGenerator counter = withTag(() -> store.counter(tag));
            StringBuilder lines = new StringBuilder();
            for (int i = 0; i < count; i++) {
                append(lines, counter.nextId()); // one request each: what the kind is for
                if (lines.length() > 1 << 20) {
                    out.write(lines.toString());
                    lines.setLength(0);
                }
            }
            out.write(lines.toString());
            out.flush();
        }
        return 0;
    }

    private void append(StringBuilder lines, long id) {
        lines.append(format == Format.base32 ? IdFormat.format(id) : Long.toString(id)).append('\n');
    }

    /** {@code twitter}, {@code sonyflake}, {@code js-safe}: the presets of {@link SnowflakeLayout}. */
    static final class LayoutConverter implements ITypeConverter<SnowflakeLayout> {
        @Override
        public SnowflakeLayout convert(String value) {
            return switch (value.strip().toLowerCase(Locale.ROOT).replace('_', '-')) {
                case "twitter" -> SnowflakeLayout.TWITTER;
                case "sonyflake" -> SnowflakeLayout.SONYFLAKE;
                case "js-safe" -> SnowflakeLayout.JS_SAFE;
                default -> throw new TypeConversionException("'" + value + "' is not a layout (twitter, sonyflake, js-safe)");
            };
        }
    }

    /** {@code distkit id decode}: the time, worker and sequence of snowflake ids. */
    @Command(name = "decode",
            sortOptions = false,
            usageHelpAutoWidth = true,
            description = {
                "Takes snowflake ids apart: time, worker id, sequence. An id of digits only is read as decimal,"
                        + " any other as 13 characters of Crockford base32 (--format base32 forces that)."},
            footerHeading = "%nExamples:%n",
            footer = {
                "  distkit id decode 1798306468462575616",
                "  distkit id decode 0000000000001 --format base32",
                "  distkit id decode 123456789012345 --layout js-safe"})
    static final class Decode implements Callable<Integer> {

        enum InputFormat { auto, decimal, base32 }

        @Spec
        CommandSpec spec;

        @Mixin
        HelpOption help;

        @Parameters(paramLabel = "ID", arity = "1..*", description = "Ids, decimal or base32.")
        List<String> ids = new ArrayList<>();

        @Option(names = "--layout", paramLabel = "LAYOUT", defaultValue = "twitter", converter = LayoutConverter.class,
                description = "twitter, sonyflake or js-safe (default: ${DEFAULT-VALUE}).")
        SnowflakeLayout layout = SnowflakeLayout.TWITTER;

        @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "auto",
                description = "How to read the ids: auto, decimal or base32 (default: ${DEFAULT-VALUE}).")
        InputFormat format = InputFormat.auto;

        @Override
        public Integer call() {
            List<SnowflakeLayout.Decoded> decoded = new ArrayList<>();
            List<Long> values = new ArrayList<>();
            for (String text : ids) {
                long id = parse(text.strip());
                try {
                    decoded.add(layout.decode(id));
                } catch (IllegalArgumentException e) {
                    throw new ParameterException(spec.commandLine(), "'" + text + "' is not an id of layout "
                            + layout + ": " + e.getMessage(), e);
                }
                values.add(id);
            }
            PrintWriter out = spec.commandLine().getOut();
            for (int i = 0; i < decoded.size(); i++) {
                SnowflakeLayout.Decoded d = decoded.get(i);
                if (i > 0) {
                    out.println();
                }
                out.printf("id        %d (base32 %s)%n", values.get(i), IdFormat.format(values.get(i)));
                out.printf("time      %s%n", d.time());
                out.printf("worker    %d%n", d.worker());
                out.printf("sequence  %d%n", d.sequence());
            }
            out.flush();
            return 0;
        }

        private long parse(String text) {
            boolean digits = !text.isEmpty() && text.chars().allMatch(c -> c >= '0' && c <= '9');
            boolean decimal = format == InputFormat.decimal || (format == InputFormat.auto && digits);
            try {
                return decimal ? Long.parseLong(text) : IdFormat.parse(text);
            } catch (IllegalArgumentException e) { // NumberFormatException included
                throw new ParameterException(spec.commandLine(), "'" + text + "' is not a " + (decimal
                        ? "decimal id (a number from 0 to " + Long.MAX_VALUE + ")" : "base32 id: " + e.getMessage()), e);
            }
        }
    }
}
