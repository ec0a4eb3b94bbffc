package io.distkit.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.util.Properties;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;

/**
 * {@code distkit}: the top command. It only holds the subcommands and the options every command
 * shares; {@link #commandLine} wires the parser the same way for {@link Main} and for tests.
 */
@Command(name = "distkit",
        mixinStandardHelpOptions = true,
        versionProvider = DistkitCommand.Version.class,
        sortOptions = false,
        usageHelpAutoWidth = true,
        description = {
            "Distributed locks with fencing tokens and unique ids, from the shell.",
            "Start with 'distkit demo': it needs no server."},
        commandListHeading = "%nCommands:%n",
        footerHeading = "%nExamples:%n",
        footer = {
            "  distkit demo",
            "  distkit lock --backend redis://localhost:6379 --name nightly -- ./backup.sh",
            "  distkit id --backend jdbc:h2:/tmp/ids --kind segment --tag order --count 5",
            "  distkit id decode 1798306468462575616",
            "  distkit help lock",
            "",
            "Exit codes: 0 success, 1 failure, 2 bad arguments. 'lock' returns the command's",
            "code, or 75 when the lock could not be had in time."})
public final class DistkitCommand implements Runnable {

    /** Bad arguments: picocli's own code for invalid input, kept for errors found after parsing too. */
    static final int EXIT_USAGE = CommandLine.ExitCode.USAGE;
    /** A run that failed (a check of the demo, the backend, an id source). */
    static final int EXIT_FAILURE = CommandLine.ExitCode.SOFTWARE;

    @Spec
    CommandSpec spec;

    @Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT,
            description = "Print stack traces with errors, and the libraries' log down to debug (an option of"
                    + " distkit only before '--' and, for 'lock', before the command).")
    boolean verbose;

    private DistkitCommand() {}

    /**
     * The parser of the whole command: subcommands, one-line errors (stack traces with
     * {@code --verbose}), exit code 2 for bad arguments. Once the arguments are parsed, it sets
     * {@link CliLogging} quiet or verbose.
     *
     * @param terminal whether standard output is a terminal: the demo then redraws one status line
     *     instead of printing a line per second
     */
    public static CommandLine commandLine(boolean terminal) {
        CommandLine cl = new CommandLine(new DistkitCommand());
        cl.addSubcommand(new DemoCommand(terminal));
        cl.addSubcommand(new LockCommand());
        cl.addSubcommand(new IdCommand());
        cl.addSubcommand(new CommandLine.HelpCommand());
        // everything after the command's first word is the command's, options included: lock ... ls -l
        cl.getSubcommands().get("lock").setStopAtPositional(true);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        Errors errors = new Errors();
        cl.setParameterExceptionHandler(errors);
        cl.setExecutionExceptionHandler(errors);
        // --verbose as the parser understood it: not a word of the command that 'lock' runs
        cl.setExecutionStrategy(parseResult -> {
            boolean verbose = verbose(parseResult);
            errors.parsedVerbose = verbose;
            CliLogging.configure(verbose);
            return new CommandLine.RunLast().execute(parseResult);
        });
        return cl;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /**
     * Opens the backend of a command's {@code --backend} option; a URI no backend takes is a bad
     * argument (exit code 2), not a failure.
     *
     * @param poolSize connections of the pool of a {@code jdbc:} backend: {@link Backend#poolSize}
     */
    static Backend openBackend(CommandSpec spec, String uri, int poolSize) {
        try {
            return Backend.open(uri, poolSize);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--backend: " + describe(e), e, null, uri);
        }
    }

    /**
     * The one line an error gets: the first line of the message (of the first exception in the cause
     * chain that has one), and the root cause's when it adds something (a pool's "timed out" hides
     * the driver's "Connection refused").
     */
    static String describe(Throwable e) {
        String line = null;
        String root = null;
        int depth = 0;
        for (Throwable t = e; t != null && depth < 20; t = t.getCause(), depth++) {
            String message = firstLine(t);
            if (message == null) {
                continue;
            }
            if (line == null) {
                line = t == e ? message : e.getClass().getSimpleName() + ": " + message;
            }
            root = message;
        }
        if (line == null) {
            return e.getClass().getName();
        }
        return root == null || line.contains(root) ? line : line + " (cause: " + root + ")";
    }

    private static @Nullable String firstLine(Throwable t) {
        String message = t.getMessage();
        if (message == null || message.isBlank()) {
            return null;
        }
        return message.strip().lines().findFirst().orElse("").strip();
    }

    /**
     * Whether {@code --verbose} is among the arguments before {@code --}, for errors found while
     * parsing (no parse result to ask). What follows {@code --} is the command's that 'lock' runs.
     */
    static boolean verboseBeforeDoubleDash(String[] args) {
        for (String arg : args) {
            if (arg.equals("--")) {
                return false;
            }
            if (arg.equals("--verbose")) {
                return true;
            }
        }
        return false;
    }

    private static boolean verbose(ParseResult result) {
        for (ParseResult r = result; r != null; r = r.subcommand()) {
            if (r.hasMatchedOption("--verbose")) {
                return true;
            }
        }
        return false;
    }

    /** Errors as one line on standard error, naming the command and where its help is. */
    private static final class Errors implements IParameterExceptionHandler, IExecutionExceptionHandler {

        /** {@code --verbose} of a command line that parsed; null while parsing failed. */
        volatile @Nullable Boolean parsedVerbose;

        @Override
        public int handleParseException(ParameterException ex, String[] args) {
            CommandLine cl = ex.getCommandLine();
            PrintWriter err = cl.getErr();
            String name = cl.getCommandSpec().qualifiedName();
            err.println(name + ": " + describe(ex) + " (see '" + name + " --help')");
            Boolean parsed = parsedVerbose; // set when a command found a bad argument after parsing
            if (parsed != null ? parsed : verboseBeforeDoubleDash(args)) {
                ex.printStackTrace(err);
            }
            err.flush();
            return cl.getCommandSpec().exitCodeOnInvalidInput();
        }

        @Override
        public int handleExecutionException(Exception ex, CommandLine cl, ParseResult parseResult) {
            PrintWriter err = cl.getErr();
            err.println(cl.getCommandSpec().qualifiedName() + ": " + describe(ex));
            if (verbose(parseResult)) {
                ex.printStackTrace(err);
            }
            err.flush();
            return EXIT_FAILURE;
        }
    }

    /** The version of the build, from {@code version.properties} (filled in by Maven). */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties p = new Properties();
            try (InputStream in = DistkitCommand.class.getResourceAsStream("version.properties")) {
                if (in != null) {
                    p.load(in);
                }
            }
            return new String[] {"distkit " + p.getProperty("version", "(unknown version)"),
                "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")"};
        }
    }
}
