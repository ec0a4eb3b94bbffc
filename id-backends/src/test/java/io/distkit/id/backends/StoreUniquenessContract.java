package io.distkit.id.backends;

import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.testkit.Closer;
import io.distkit.testkit.id.IdChecks;
import io.distkit.testkit.process.ChildJvm;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Many processes, one store, SIGKILL: 4 JVMs write ids of one kind until each slot wrote {@link #idsPerSlot} of
 * them (a million by default), while a killer ends a random one with SIGKILL every few hundred milliseconds and
 * a new JVM takes its slot. Every id any of them wrote down must be distinct. A subclass names the store.
 */
public abstract class StoreUniquenessContract {

    static final int SLOTS = 4;
    static final long IDS_PER_SLOT = 1_000_000;
    static final int KILLS = 4;

    private final Closer toClose = new Closer();
    private final Map<ChildJvm, Path> slotFiles = new IdentityHashMap<>();

    @TempDir
    Path dir;

    /** The URI {@link io.distkit.id.IdStores#connect} opens in the child JVMs. */
    protected abstract String storeUri();

    /** How many ids each slot writes for {@code kind}; default {@value #IDS_PER_SLOT}. */
    protected long idsPerSlot(String kind) {
        return IDS_PER_SLOT;
    }

    @AfterEach
    void closeAll() throws Exception {
        toClose.close();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"segment", "snowflake", "counter"})
    void fourJvmsKilledAtRandomNeverShareAnId(String kind) throws Exception {
        String tag = "uniq-" + kind + "-" + System.nanoTime();
        long perSlot = idsPerSlot(kind);
        long[] written = new long[SLOTS];
        ChildJvm[] running = new ChildJvm[SLOTS];
        List<Path> files = new ArrayList<>();
        java.util.Set<ChildJvm> killed = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        int kills = 0;
        int started = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(100);
        long nextKill = System.nanoTime() + millis(300, 800);
        while (true) {
            boolean allDone = true;
            for (int slot = 0; slot < SLOTS; slot++) {
                ChildJvm child = running[slot];
                if (child != null && !child.isAlive()) {
                    if (!killed.contains(child)) {
                        assertThat(child.exitCode()).as("%s ended by itself: %s", child, child.logTail(20)).hasValue(0);
                    }
                    written[slot] += count(slotFiles.get(child));
                    running[slot] = null;
                    child = null;
                }
                if (written[slot] < perSlot) {
                    allDone = false;
                    if (child == null) {
                        Path out = dir.resolve(kind + "-" + (started++) + ".ids");
                        files.add(out);
                        running[slot] = toClose.add(ChildJvm.builder(StoreIdsMain.class).name(kind + "-" + slot)
                                .args(storeUri(), kind, tag, Long.toString(perSlot - written[slot]), out.toString())
                                .start());
                        slotFiles.put(running[slot], out);
                    }
                }
            }
            if (allDone) {
                break;
            }
            assertThat(System.nanoTime()).as("all slots done within 100 s").isLessThan(deadline);
            if (kills < KILLS && System.nanoTime() > nextKill) {
                int slot = ThreadLocalRandom.current().nextInt(SLOTS);
                ChildJvm victim = running[slot];
                if (victim != null && victim.isAlive()) {
                    killed.add(victim);
                    victim.kill(); // SIGKILL
                    kills++;
                }
                nextKill = System.nanoTime() + millis(300, 800);
            }
            Thread.sleep(20); // a supervisor's beat: it watches 4 processes and a kill schedule, no single event
        }
        Map<String, long[]> ids = new LinkedHashMap<>();
        long total = 0;
        for (Path file : files) {
            long[] some = read(file);
            ids.put(file.getFileName().toString(), some);
            total += some.length;
        }
        System.out.printf("%s on %s: %d JVMs (%d killed with SIGKILL) wrote %,d ids%n", kind, storeUri(), started,
                kills, total);
        assertThat(total).isGreaterThanOrEqualTo(SLOTS * perSlot);
        IdChecks.distinct(ids).assertNoViolations();
    }

    private static long millis(int from, int to) {
        return TimeUnit.MILLISECONDS.toNanos(ThreadLocalRandom.current().nextInt(from, to));
    }

    private static long count(Path file) throws IOException {
        return Files.exists(file) ? Files.size(file) / Long.BYTES : 0; // killed before it opened the file
    }

    /** The ids a child wrote, 8 bytes each; a partial last one (the kill hit mid-write) is dropped. */
    static long[] read(Path file) throws IOException {
        if (!Files.exists(file)) {
            return new long[0];
        }
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer buffer = ByteBuffer.wrap(bytes, 0, bytes.length - bytes.length % Long.BYTES);
        long[] ids = new long[buffer.remaining() / Long.BYTES];
        buffer.asLongBuffer().get(ids);
        return ids;
    }
}
