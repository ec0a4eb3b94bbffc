package io.distkit.cli;

import picocli.CommandLine.Option;

/** {@code -h}/{@code --help} for the subcommands (the version option stays with the top command). */
final class HelpOption {

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;
}
