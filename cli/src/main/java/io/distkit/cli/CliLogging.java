package io.distkit.cli;

import java.io.PrintStream;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutionException;
import org.jspecify.annotations.Nullable;
import org.slf4j.ILoggerFactory;
import org.slf4j.IMarkerFactory;
import org.slf4j.Logger;
import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.BasicMarkerFactory;
import org.slf4j.helpers.FormattingTuple;
import org.slf4j.helpers.LegacyAbstractLogger;
import org.slf4j.helpers.MessageFormatter;
import org.slf4j.helpers.NOPMDCAdapter;
import org.slf4j.spi.MDCAdapter;
import org.slf4j.spi.SLF4JServiceProvider;

/**
 * The SLF4J binding of the command (found through {@code META-INF/services}), where the libraries'
 * log lines go; {@code System.Logger} lines (lock-api) reach it through slf4j-jdk-platform-logging.
 *
 * <p>Its own because the promise "an error is one line, no stack trace unless {@code --verbose}"
 * covers the libraries' warnings too, and slf4j-simple always prints the stack trace of a logged
 * exception. Quiet (the default): warnings and errors only, as {@code warning: message: cause}, one
 * line each, and none from the ZooKeeper client and Curator: they warn at every reconnect attempt
 * (about one a second while an ensemble is unreachable), and the ZooKeeper backend reports what
 * came of it (no connection, a lost lock) in its own words. Verbose: everything down to debug (Netty
 * and Lettuce down to info: their debug lines are per packet), with time, thread, level, logger and
 * stack traces. Set once per run by
 * {@link #configure}; lines logged before that are quiet.
 */
public final class CliLogging implements SLF4JServiceProvider, ILoggerFactory {

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss.SSS", Locale.ROOT);
    private static volatile boolean verbose;

    private final ConcurrentMap<String, Logger> loggers = new ConcurrentHashMap<>();
    private final IMarkerFactory markers = new BasicMarkerFactory();
    private final MDCAdapter mdc = new NOPMDCAdapter();

    /** For {@link java.util.ServiceLoader}. */
    public CliLogging() {}

    /** Quiet one-line warnings, or verbose lines with stack traces. */
    static void configure(boolean verbose) {
        CliLogging.verbose = verbose;
    }

    static boolean verbose() {
        return verbose;
    }

    @Override
    public ILoggerFactory getLoggerFactory() {
        return this;
    }

    @Override
    public IMarkerFactory getMarkerFactory() {
        return markers;
    }

    @Override
    public MDCAdapter getMDCAdapter() {
        return mdc;
    }

    @Override
    public String getRequestedApiVersion() {
        return "2.0.99";
    }

    @Override
    public void initialize() {}

    @Override
    public Logger getLogger(String name) {
        return loggers.computeIfAbsent(name, Line::new);
    }

    /** The failure a future's wrapper stands for: its message is only the cause's class and message. */
    static Throwable unwrap(Throwable t) {
        Throwable cause = t.getCause();
        return (t instanceof CompletionException || t instanceof ExecutionException) && cause != null ? cause : t;
    }

    /** Writes whole lines to standard error (the stream of the moment, so a test may redirect it). */
    private static final class Line extends LegacyAbstractLogger {

        private static final long serialVersionUID = 1L;

        /** Loggers whose debug lines are too many even for {@code --verbose}. */
        private final boolean chatty;
        /** Loggers whose warnings and errors repeat per reconnect attempt: shown only with {@code --verbose}. */
        private final boolean retrying;

        Line(String name) {
            this.name = name;
            this.chatty = name.startsWith("io.netty") || name.startsWith("io.lettuce");
            this.retrying = name.startsWith("org.apache.zookeeper") || name.startsWith("org.apache.curator");
        }

        private boolean enabled(Level level) {
            if (level.toInt() >= Level.WARN.toInt()) {
                return verbose || !retrying;
            }
            return verbose && level.toInt() >= (chatty ? Level.INFO : Level.DEBUG).toInt();
        }

        @Override
        public boolean isTraceEnabled() {
            return enabled(Level.TRACE);
        }

        @Override
        public boolean isDebugEnabled() {
            return enabled(Level.DEBUG);
        }

        @Override
        public boolean isInfoEnabled() {
            return enabled(Level.INFO);
        }

        @Override
        public boolean isWarnEnabled() {
            return enabled(Level.WARN);
        }

        @Override
        public boolean isErrorEnabled() {
            return enabled(Level.ERROR);
        }

        @Override
        protected @Nullable String getFullyQualifiedCallerName() {
            return null;
        }

        @Override
        protected void handleNormalizedLoggingCall(Level level, @Nullable Marker marker, @Nullable String pattern,
                Object @Nullable [] arguments, @Nullable Throwable throwable) {
            if (!enabled(level)) {
                return;
            }
            String message;
            Throwable t = throwable;
            if (arguments == null || arguments.length == 0) {
                message = String.valueOf(pattern);
            } else {
                // a last argument that is a Throwable is the cause, if none was given apart
                FormattingTuple formatted = MessageFormatter.arrayFormat(pattern, arguments);
                message = String.valueOf(formatted.getMessage());
                if (t == null) {
                    t = formatted.getThrowable();
                }
            }
            PrintStream err = System.err;
            if (!verbose) {
                // "warning: lock 'x' (token 7) lost: ..."; the exception as distkit's one-line error text
                String label = level == Level.WARN ? "warning: " : level == Level.ERROR ? "error: " : "";
                err.println(label + message + (t == null ? "" : ": " + DistkitCommand.describe(unwrap(t))));
                err.flush();
                return;
            }
            String line = LocalTime.now().format(TIME) + " [" + Thread.currentThread().getName() + "] " + level + " "
                    + name.substring(name.lastIndexOf('.') + 1) + " - " + message;
            synchronized (err) { // the line and its stack trace together
                err.println(line);
                if (t != null) {
                    t.printStackTrace(err);
                }
                err.flush();
            }
        }
    }
}
