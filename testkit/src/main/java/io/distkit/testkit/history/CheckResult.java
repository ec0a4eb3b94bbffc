package io.distkit.testkit.history;

import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * What one checker found.
 *
 * @param checker the checker's name, e.g. {@code "fenced resource"}
 * @param violations human-readable violations, each naming the rule broken and quoting the ops or
 *     writes involved; empty if the check passed
 */
public record CheckResult(String checker, List<String> violations) {

    /** How many violations a report shows; the rest are counted. */
    public static final int MAX_SHOWN = 10;

    /** @throws NullPointerException if an argument or a violation is null */
    public CheckResult {
        Objects.requireNonNull(checker, "checker");
        violations = List.copyOf(violations);
    }

    /** Whether no violation was found. */
    public boolean isValid() {
        return violations.isEmpty();
    }

    /**
     * Does nothing if valid.
     *
     * @throws AssertionError with {@link #report()} otherwise
     */
    public void assertValid() {
        if (!isValid()) {
            throw new AssertionError(report());
        }
    }

    /** The checker's name and verdict, then the first {@link #MAX_SHOWN} violations, one a line. */
    public String report() {
        if (isValid()) {
            return checker + ": valid";
        }
        String shown = violations.stream().limit(MAX_SHOWN).map(v -> "  - " + v).collect(Collectors.joining("\n"));
        int hidden = violations.size() - MAX_SHOWN;
        return checker + ": " + violations.size() + " violation(s)\n" + shown
                + (hidden > 0 ? "\n  ... and " + hidden + " more" : "");
    }

    /**
     * Does nothing if every result is valid.
     *
     * @throws AssertionError with the reports of all invalid results otherwise
     */
    public static void assertAllValid(Collection<CheckResult> results) {
        String reports = results.stream().filter(r -> !r.isValid()).map(CheckResult::report)
                .collect(Collectors.joining("\n"));
        if (!reports.isEmpty()) {
            throw new AssertionError(reports);
        }
    }

    @Override
    public String toString() {
        return report();
    }
}
