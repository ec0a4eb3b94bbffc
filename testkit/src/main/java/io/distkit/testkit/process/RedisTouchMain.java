package io.distkit.testkit.process;

import io.distkit.testkit.server.Resp;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;

/**
 * A child-JVM main that shows a process is running: every {@value #PERIOD_MILLIS} ms it sets a Redis
 * key to the next value of a counter (1, 2, 3, ...) and prints {@code touched <n>}. Paused, the key
 * stops changing; killed, it stops for good. Used by {@link ChildJvm}'s own test, and by any backend
 * test that needs a live process to pause.
 *
 * <p>Arguments: {@code <host> <port> <key>}. A failed {@code SET} (server down or paused) is logged
 * to stderr and retried on the next tick. Exits when its stdin reaches EOF, i.e. when the parent
 * dies.
 */
public final class RedisTouchMain {

    /** Time between two touches. */
    public static final long PERIOD_MILLIS = 100;

    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(1);

    private RedisTouchMain() {}

    public static void main(String[] args) throws InterruptedException {
        if (args.length != 3) {
            System.err.println("usage: RedisTouchMain <host> <port> <key>");
            System.exit(2);
        }
        exitWhenStdinEnds();
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        for (long n = 1; ; n++) {
            try {
                Resp.call(host, port, CALL_TIMEOUT, "SET", args[2], Long.toString(n));
                System.out.println("touched " + n);
            } catch (RuntimeException e) {
                System.err.println("touch " + n + " failed: " + e);
            }
            Thread.sleep(PERIOD_MILLIS); // the touch rate, not a synchronisation
        }
    }

    /** A child must not outlive its parent: the parent's death closes the stdin pipe. */
    static void exitWhenStdinEnds() {
        Thread watcher = new Thread(() -> {
            try (InputStream in = System.in) {
                while (in.read() != -1) {
                    // commands are not expected; drain them
                }
            } catch (IOException ignored) {
                // a broken pipe means the same as EOF
            }
            System.exit(0);
        }, "distkit-stdin-watcher");
        watcher.setDaemon(true);
        watcher.start();
    }
}
