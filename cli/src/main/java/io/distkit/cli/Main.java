package io.distkit.cli;

import java.util.Arrays;

/**
 * {@code java -jar distkit.jar ...}: binds the logger the libraries write to (warnings only, on
 * standard error; everything with {@code --verbose}), runs the command line and exits with its code.
 */
public final class Main {

    private Main() {}

    public static void main(String[] args) {
        boolean verbose = Arrays.asList(args).contains("--verbose");
        // slf4j-simple reads these once, when the first logger is made: before anything logs
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", verbose ? "debug" : "warn");
        System.setProperty("org.slf4j.simpleLogger.showThreadName", Boolean.toString(verbose));
        // quiet: "warning: lock 'x' (token 7) lost: ..."; verbose: time, thread, level and logger
        System.setProperty("org.slf4j.simpleLogger.showShortLogName", Boolean.toString(verbose));
        System.setProperty("org.slf4j.simpleLogger.showLogName", "false");
        if (!verbose) {
            System.setProperty("org.slf4j.simpleLogger.warnLevelString", "warning:");
            System.setProperty("org.slf4j.simpleLogger.errorLevelString", "error:");
        }
        System.setProperty("org.slf4j.simpleLogger.showDateTime", Boolean.toString(verbose));
        System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
        // Netty's and Lettuce's debug lines are per packet and per command: too much even for --verbose
        System.setProperty("org.slf4j.simpleLogger.log.io.netty", "info");
        System.setProperty("org.slf4j.simpleLogger.log.io.lettuce", "info");
        boolean terminal = System.console() != null;
        int code = DistkitCommand.commandLine(terminal).execute(args);
        System.exit(code);
    }
}
