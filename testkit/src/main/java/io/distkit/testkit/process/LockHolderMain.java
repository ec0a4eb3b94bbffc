package io.distkit.testkit.process;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockClients;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockLostException;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.history.History;
import io.distkit.testkit.history.Op;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A lock holder in a child JVM, driven line by line by {@link LockHolderProcess}: the process that
 * the failure scenarios pause past its lease (F1, F20) or kill.
 *
 * <p><b>Arguments:</b> {@code <lock-client-uri> [--lease-ms=N] [--auto-renew=true|false]
 * [--process=NAME]}. The URI is connected with {@link LockClients#connect(URI)}, so any backend on the
 * classpath works; lease and auto-renew override the client's default {@link LockOptions}; the
 * process name (default {@code holder-<pid>}) labels the history ops.
 *
 * <p><b>Protocol.</b> One command per stdin line; one reply line per command, in order. Every line
 * of the protocol starts with {@value #PREFIX}, so log output on stdout is ignored by the reader.
 * <pre>
 * (at start)               ready &lt;pid&gt;
 * acquire &lt;name&gt; &lt;waitMs&gt;   acquired &lt;token&gt; | busy | error &lt;message&gt;
 * status                   status &lt;token|-&gt; &lt;true|false&gt;   (the last handle acquired; "-" before any)
 * release                  released | lost &lt;message&gt; | error &lt;message&gt;
 * exit                     bye   (after closing the client; then the JVM exits with 0)
 * (any time, unasked)      event lost &lt;token&gt; &lt;name&gt;    (the handle's onLost fired)
 * </pre>
 * The lock name is everything between {@code acquire } and the last space, so it may hold spaces.
 * At most one lock is held at a time: acquiring while holding is an error.
 *
 * <p><b>There is no write command.</b> The fenced resource ({@link io.distkit.testkit.history.FencedRegister})
 * lives in the test JVM. The test performs the protected write on this holder's behalf, with the
 * token this holder reports in {@code status}, after resuming it: the resource's check, which is what
 * docs/failures.md judges, happens in the test JVM exactly as it would for a write this process sent.
 *
 * <p>The holder also records its acquires, releases and losses in a {@link History} printed as
 * {@link Op#toLine() op lines} (their own prefix), so the test can {@link History#parse} and
 * {@link History#merge} them even after a SIGKILL. Exits when stdin reaches EOF (the parent died).
 */
public final class LockHolderMain {

    /** Every protocol line printed starts with this. */
    public static final String PREFIX = "distkit-holder ";
    /** Option: lease time in milliseconds. */
    public static final String LEASE_MS = "--lease-ms=";
    /** Option: whether the lease is renewed in the background. */
    public static final String AUTO_RENEW = "--auto-renew=";
    /** Option: the process name in history ops. */
    public static final String PROCESS = "--process=";

    private final LockClient client;
    private final LockOptions options;
    private final String process;
    private final History history;
    private @Nullable LockHandle handle;
    private @Nullable String lockName;

    private LockHolderMain(LockClient client, LockOptions options, String process) {
        this.client = client;
        this.options = options;
        this.process = process;
        this.history = new History(System::nanoTime, op -> System.out.println(op.toLine()));
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 1) {
            System.err.println("usage: LockHolderMain <lock-client-uri> [" + LEASE_MS + "N] [" + AUTO_RENEW
                    + "true|false] [" + PROCESS + "NAME]");
            System.exit(2);
        }
        Long leaseMillis = null;
        Boolean autoRenew = null;
        String process = "holder-" + ProcessHandle.current().pid();
        for (int i = 1; i < args.length; i++) {
            String arg = args[i];
            if (arg.startsWith(LEASE_MS)) {
                leaseMillis = Long.parseLong(arg.substring(LEASE_MS.length()));
            } else if (arg.startsWith(AUTO_RENEW)) {
                autoRenew = Boolean.parseBoolean(arg.substring(AUTO_RENEW.length()));
            } else if (arg.startsWith(PROCESS)) {
                process = arg.substring(PROCESS.length());
            } else {
                throw new IllegalArgumentException("unknown option '" + arg + "'");
            }
        }
        LockClient client = LockClients.connect(URI.create(args[0])); // a failure here exits 1 with the trace
        LockOptions.Builder options = client.defaultOptions().toBuilder();
        if (leaseMillis != null) {
            options.leaseTime(Duration.ofMillis(leaseMillis));
        }
        if (autoRenew != null) {
            options.autoRenew(autoRenew);
        }
        new LockHolderMain(client, options.build(), process).run();
    }

    private void run() throws IOException {
        emit("ready " + ProcessHandle.current().pid());
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.equals("exit")) {
                break;
            }
            String reply;
            try {
                reply = execute(line);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                reply = "error interrupted";
            } catch (RuntimeException e) {
                reply = "error " + oneLine(String.valueOf(e));
            }
            emit(reply);
        }
        client.close();
        emit("bye");
        System.exit(0); // the backend's client may have left non-daemon threads behind
    }

    private String execute(String line) throws InterruptedException {
        int space = line.indexOf(' ');
        String command = space < 0 ? line : line.substring(0, space);
        switch (command) {
            case "acquire": {
                int last = line.lastIndexOf(' ');
                if (space < 0 || last <= space + 1) {
                    throw new IllegalArgumentException("expected 'acquire <name> <waitMillis>', got '" + line + "'");
                }
                return acquire(line.substring(space + 1, last), Duration.ofMillis(Long.parseLong(line.substring(last + 1))));
            }
            case "status": {
                LockHandle h = handle;
                return "status " + (h == null ? "-" : Long.toString(h.fencingToken())) + " " + (h != null && h.isHeld());
            }
            case "release":
                return release();
            default:
                throw new IllegalArgumentException("unknown command '" + line + "'; expected acquire, status, release or exit");
        }
    }

    private String acquire(String name, Duration wait) throws InterruptedException {
        if (handle != null && handle.isHeld()) {
            throw new IllegalStateException("already holding '" + lockName + "'; release it first");
        }
        History.Pending pending = history.invoke(process, Op.Type.ACQUIRE, name);
        Optional<LockHandle> acquired;
        try {
            acquired = client.lock(name, options).tryAcquire(wait);
        } catch (IllegalArgumentException | IllegalStateException e) {
            pending.fail(oneLine(String.valueOf(e))); // refused before reaching the backend
            throw e;
        } catch (RuntimeException | InterruptedException e) {
            pending.info(oneLine(String.valueOf(e))); // may have been applied on the backend
            throw e;
        }
        if (acquired.isEmpty()) {
            pending.fail("busy");
            return "busy";
        }
        LockHandle h = acquired.get();
        long token = h.fencingToken();
        pending.ok(token);
        handle = h;
        lockName = name;
        h.onLost(() -> {
            history.lost(process, name, token);
            emit("event lost " + token + " " + name);
        });
        return "acquired " + token;
    }

    private String release() {
        LockHandle h = handle;
        if (h == null) {
            throw new IllegalStateException("nothing acquired yet");
        }
        History.Pending pending = history.invoke(process, Op.Type.RELEASE, lockName, h.fencingToken(), Op.NONE);
        try {
            h.release();
        } catch (LockLostException e) {
            pending.fail("lost");
            return "lost " + oneLine(String.valueOf(e.getMessage()));
        } catch (RuntimeException e) {
            pending.info(oneLine(String.valueOf(e)));
            throw e;
        }
        pending.ok();
        return "released";
    }

    private static void emit(String line) {
        System.out.println(PREFIX + line); // println is atomic per call and stdout flushes on each line
        System.out.flush();
    }

    private static String oneLine(String s) {
        return s.replace('\n', ' ').replace('\r', ' ');
    }
}
