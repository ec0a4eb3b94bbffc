package io.distkit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class CliLoggingTest {

    @AfterEach
    void quietAgain() {
        CliLogging.configure(false);
    }

    @Test
    void theLibrariesLogThroughTheCommandsOwnBinding() {
        assertThat(LoggerFactory.getILoggerFactory()).isInstanceOf(CliLogging.class);
    }

    @Test
    void quietWarningsAreOneLineWithTheCauseAndNoStackTrace() {
        String err = stderrOf(() -> {
            LoggerFactory.getLogger("io.distkit.test").warn("renewal of {} lock(s) failed", 1,
                    new IllegalStateException("statement timed out", new ConnectException("Connection refused")));
            // lock-api logs through System.Logger: the same binding, the same one line
            System.getLogger("io.distkit.test.platform").log(System.Logger.Level.WARNING, "lock 'x' lost",
                    new RuntimeException("boom"));
            // a future's wrapper says nothing of its own: the cause speaks
            LoggerFactory.getLogger("io.distkit.test").warn("renewal failed",
                    new CompletionException(new IllegalStateException("lock timeout")));
            LoggerFactory.getLogger("io.distkit.test").info("not shown");
            LoggerFactory.getLogger("io.distkit.test").debug("not shown");
        });

        assertThat(err.lines()).containsExactly(
                "warning: renewal of 1 lock(s) failed: statement timed out (cause: Connection refused)",
                "warning: lock 'x' lost: boom",
                "warning: renewal failed: lock timeout");
    }

    @Test
    void verboseLinesGoDownToDebugWithStackTracesButNotNettysPackets() {
        CliLogging.configure(true);

        String err = stderrOf(() -> {
            LoggerFactory.getLogger("io.distkit.test.Thing").debug("details {}", 7);
            LoggerFactory.getLogger("io.netty.channel.Thing").debug("a packet");
            LoggerFactory.getLogger("io.distkit.test.Thing").warn("failed", new IllegalStateException("boom"));
        });

        assertThat(err).contains("DEBUG Thing - details 7", "WARN Thing - failed",
                "java.lang.IllegalStateException: boom", "\tat ").doesNotContain("a packet");
    }

    @Test
    void zooKeeperAndCuratorRetryWarningsShowOnlyWhenVerbose() {
        Runnable retries = () -> {
            LoggerFactory.getLogger("org.apache.zookeeper.ClientCnxn").warn("Session 0x0 for server x, Closing socket");
            LoggerFactory.getLogger("org.apache.curator.framework.imps.CuratorFrameworkImpl")
                    .error("Background retry gave up");
            LoggerFactory.getLogger("io.distkit.lock.zookeeper.Thing").warn("lock 'x' lost");
        };

        String quiet = stderrOf(retries);
        CliLogging.configure(true);
        String verbose = stderrOf(retries);

        assertThat(quiet.lines()).containsExactly("warning: lock 'x' lost");
        assertThat(verbose).contains("WARN ClientCnxn - Session 0x0", "ERROR CuratorFrameworkImpl - Background retry",
                "WARN Thing - lock 'x' lost");
    }

    private static String stderrOf(Runnable body) {
        PrintStream before = System.err;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        System.setErr(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        try {
            body.run();
        } finally {
            System.setErr(before);
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
