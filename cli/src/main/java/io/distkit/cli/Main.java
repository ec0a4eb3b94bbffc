package io.distkit.cli;

import java.io.Console;
import java.lang.reflect.Method;

/**
 * {@code java -jar distkit.jar ...}: runs the command line and exits with its code. The libraries'
 * log lines go to {@link CliLogging}, which the command sets quiet or verbose once its arguments are
 * parsed.
 */
public final class Main {

    /**
     * System property saying whether standard output is a terminal, {@code true} or {@code false};
     * {@code ./distkit} sets it from {@code [ -t 1 ]}. Without it the JVM's console decides.
     */
    static final String TERMINAL_PROPERTY = "distkit.terminal";

    private Main() {}

    public static void main(String[] args) {
        int code = DistkitCommand.commandLine(stdoutIsTerminal()).execute(args);
        System.exit(code);
    }

    /**
     * Whether standard output is a terminal, so that a status line can be redrawn in place. Up to JDK
     * 21 {@link System#console()} is null unless standard input and output are terminals; from JDK 22
     * on it is a console even when they are pipes, and {@code Console.isTerminal()} (looked up by
     * reflection: this compiles for 17) tells.
     */
    static boolean stdoutIsTerminal() {
        String told = System.getProperty(TERMINAL_PROPERTY);
        if (told != null && !told.isBlank()) {
            return Boolean.parseBoolean(told.strip());
        }
        Console console = System.console();
        if (console == null) {
            return false;
        }
        Method isTerminal;
        try {
            isTerminal = Console.class.getMethod("isTerminal");
        } catch (NoSuchMethodException beforeJdk22) {
            return true;
        }
        try {
            return Boolean.TRUE.equals(isTerminal.invoke(console));
        } catch (ReflectiveOperationException | RuntimeException e) {
            return false; // plain lines are always safe
        }
    }
}
