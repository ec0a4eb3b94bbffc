package io.distkit.testkit.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A wall-clock offset for one server process, changeable while it runs: the process is started
 * with a small preload library of ours ({@code clockshift.c}, compiled with the machine's C
 * compiler on first use) that adds the offset to CLOCK_REALTIME, {@code gettimeofday} and
 * {@code time}, and leaves the monotonic clocks alone. Works for C servers (redis-server,
 * postgres); does nothing to Go binaries such as etcd, which read the clock without libc.
 *
 * <p>Why not libfaketime: Debian's 0.9.10 re-enters {@code clock_gettime} during jemalloc's
 * start-up in redis-server and the server never starts.
 */
public final class FakeTime {

    private static Path library;

    private final Path offsetFile;

    private FakeTime(Path offsetFile) {
        this.offsetFile = offsetFile;
    }

    /** A clock offset kept in {@code dir}, starting at zero; fails or skips if no C compiler is found. */
    public static FakeTime in(Path dir) {
        FakeTime fakeTime = new FakeTime(dir.resolve("clock-offset"));
        fakeTime.shift(Duration.ZERO);
        compiledLibrary();
        return fakeTime;
    }

    /** The environment that puts a child process on this clock. */
    public Map<String, String> environment() {
        return Map.of("LD_PRELOAD", compiledLibrary().toString(), "DISTKIT_CLOCK_OFFSET_FILE", offsetFile.toString());
    }

    /** Sets the offset from the real wall clock (positive: the process's clock runs ahead). */
    public void shift(Duration offset) {
        ByteBuffer bytes = ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN).putLong(0, offset.toNanos());
        try {
            // rewrite in place: the running process has these bytes mapped
            try (var channel = java.nio.channels.FileChannel.open(offsetFile,
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE)) {
                channel.write(bytes, 0);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static synchronized Path compiledLibrary() {
        if (library != null) {
            return library;
        }
        Path cc = Servers.findBinary("cc", "DISTKIT_CC_BIN").or(() -> Servers.findBinary("gcc", "DISTKIT_CC_BIN"))
                .orElse(null);
        if (cc == null) {
            Servers.unavailable("no C compiler (cc/gcc) to build the clock-shift preload library;"
                    + " install it with 'apt-get install gcc'");
        }
        try {
            Path dir = Files.createTempDirectory("distkit-clockshift-");
            // createTempDirectory makes it 0700: a server started under another OS user (postgres,
            // which refuses to run as root) could not load the library, and ld.so only warns
            Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            Path source = dir.resolve("clockshift.c");
            try (InputStream in = FakeTime.class.getResourceAsStream("clockshift.c")) {
                Files.copy(in, source, StandardCopyOption.REPLACE_EXISTING);
            }
            Path out = dir.resolve("libdistkit-clockshift.so");
            Process compile = new ProcessBuilder(cc.toString(), "-shared", "-fPIC", "-O2", "-o", out.toString(),
                    source.toString()).redirectErrorStream(true).start();
            String output = new String(compile.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!compile.waitFor(60, TimeUnit.SECONDS) || compile.exitValue() != 0) {
                throw new IllegalStateException("compiling " + source + " failed:\n" + output);
            }
            dir.toFile().deleteOnExit();
            source.toFile().deleteOnExit();
            out.toFile().deleteOnExit();
            library = out;
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while compiling the clock-shift library", e);
        }
    }
}
