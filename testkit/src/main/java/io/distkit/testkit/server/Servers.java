package io.distkit.testkit.server;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Comparator;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * The rules every server fixture follows: where binaries come from, what happens when one is
 * missing, free ports, temp dirs.
 *
 * <p>A binary is taken from {@code DISTKIT_<SERVER>_BIN} if set, else from {@code PATH} (and a few
 * well-known directories). When it is missing the test fails with a message naming the package to
 * install, or, only when {@code DISTKIT_REQUIRE_SERVERS} is not {@code true}, is skipped with that
 * message. CI sets it to {@code true}, so nothing is silently skipped there.
 */
public final class Servers {

    /** Environment variable that turns a missing server from a skip into a failure. */
    public static final String REQUIRE_SERVERS = "DISTKIT_REQUIRE_SERVERS";

    private Servers() {}

    /** Whether a missing server must fail the test rather than skip it. */
    public static boolean required() {
        return "true".equalsIgnoreCase(System.getenv(REQUIRE_SERVERS))
                || Boolean.getBoolean("distkit.requireServers");
    }

    /**
     * Finds a server binary.
     *
     * @param name the executable's name, e.g. {@code redis-server}
     * @param envVar the variable that may hold its path, e.g. {@code DISTKIT_REDIS_BIN}
     * @param extraDirs further directories to look in (globs are not expanded)
     */
    public static Optional<Path> findBinary(String name, String envVar, Path... extraDirs) {
        String configured = System.getenv(envVar);
        if (configured != null && !configured.isBlank()) {
            Path path = Paths.get(configured);
            return Files.isRegularFile(path) && Files.isExecutable(path) ? Optional.of(path) : Optional.empty();
        }
        String pathVar = Optional.ofNullable(System.getenv("PATH")).orElse("");
        Stream<Path> dirs = Stream.concat(
                Stream.of(pathVar.split(java.io.File.pathSeparator)).filter(s -> !s.isEmpty()).map(Paths::get),
                Stream.concat(Stream.of(extraDirs), Stream.of(Paths.get("/usr/sbin"), Paths.get("/usr/local/bin"))));
        return dirs.map(dir -> dir.resolve(name)).filter(p -> Files.isRegularFile(p) && Files.isExecutable(p)).findFirst();
    }

    /**
     * Finds a binary or ends the test: a failure when servers are required, a skip otherwise. The
     * message names the binary, the variable, and the package that provides it.
     */
    public static Path requireBinary(String name, String envVar, String aptPackage, Path... extraDirs) {
        return findBinary(name, envVar, extraDirs).orElseGet(() -> {
            unavailable(name + " not found on PATH or in " + envVar + "; install it with"
                    + " 'apt-get install " + aptPackage + "' (or run scripts/install-test-servers.sh)");
            throw new AssertionError("unreachable");
        });
    }

    /** Ends the test because a server cannot be had: fails if servers are required, skips otherwise. */
    public static void unavailable(String message) {
        if (required()) {
            throw new IllegalStateException(message + " [" + REQUIRE_SERVERS + "=true, so this fails instead of skipping]");
        }
        Assumptions.abort(message + " [skipped; set " + REQUIRE_SERVERS + "=true to fail instead]");
    }

    /** Whether this JVM runs as root, which some servers refuse or need to be told. */
    static boolean runningAsRoot() {
        try {
            return Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "root".equals(System.getProperty("user.name"));
        }
    }

    /** A TCP port free on the loopback interface at the time of the call. */
    public static int freePort() {
        // below the kernel's ephemeral range: a port the kernel hands out (ServerSocket(0)) comes from the range
        // it also uses for outgoing connections, and a client connecting meanwhile may take it before the server
        // we start binds it ("address already in use"); never the same port twice from this JVM
        int ephemeralLow = ephemeralRangeStart();
        int low = 10_000;
        int high = Math.max(low + 1_000, ephemeralLow);
        java.util.concurrent.ThreadLocalRandom random = java.util.concurrent.ThreadLocalRandom.current();
        for (int attempt = 0; attempt < 500; attempt++) {
            int port = random.nextInt(low, high);
            if (!HANDED_OUT.add(port)) {
                continue;
            }
            try (ServerSocket socket = new ServerSocket()) {
                socket.setReuseAddress(true);
                socket.bind(new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
                return port;
            } catch (IOException taken) {
                // someone else's: try another
            }
        }
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free loopback port", e);
        }
    }

    private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** The first port of the kernel's ephemeral range (Linux), or 32768 where it cannot be read. */
    private static int ephemeralRangeStart() {
        try {
            String range = Files.readString(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).trim();
            return Integer.parseInt(range.split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return 32_768;
        }
    }

    /** A new temp directory, to be removed with {@link #deleteRecursively(Path)}. */
    public static Path tempDir(String prefix) {
        try {
            return Files.createTempDirectory("distkit-" + prefix + "-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A new directory {@code distkit-<prefix>-<random>} under {@code parent}. */
    public static Path tempDir(Path parent, String prefix) {
        try {
            return Files.createTempDirectory(parent, "distkit-" + prefix + "-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Removes a directory tree; missing paths and files that vanish meanwhile are fine. */
    public static void deleteRecursively(Path root) {
        if (root == null || !Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> {
                try {
                    Files.deleteIfExists(path);
                } catch (IOException ignored) {
                    // a server may still be removing its own files; the rest goes
                }
            });
        } catch (IOException | UncheckedIOException ignored) {
            // best effort: temp dirs are cleaned by the OS eventually
        }
    }

    /** A database fixture's password: not null, not empty. */
    static String checkPassword(String password) {
        Objects.requireNonNull(password, "password");
        if (password.isEmpty()) {
            throw new IllegalArgumentException("password must not be empty");
        }
        return password;
    }
}
