package io.distkit.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.UUID;
import picocli.CommandLine;

/** Runs the distkit command in this JVM, as {@link Main} would, with standard output and error captured. */
final class Cli {

    private Cli() {}

    static Result run(String... args) {
        CommandLine cl = DistkitCommand.commandLine(false);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Result(code, out.toString(), err.toString());
    }

    /** A private in-memory H2 database that lives until the JVM ends, shared by every pool in this JVM. */
    static String h2Url() {
        return "jdbc:h2:mem:cli_" + UUID.randomUUID().toString().replace("-", "") + ";DB_CLOSE_DELAY=-1";
    }

    record Result(int code, String out, String err) {

        List<String> outLines() {
            return out.lines().toList();
        }

        List<String> errLines() {
            return err.lines().toList();
        }

        @Override
        public String toString() {
            return "exit " + code + "\n--- out:\n" + out + "--- err:\n" + err;
        }
    }
}
