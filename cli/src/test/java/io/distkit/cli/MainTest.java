package io.distkit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class MainTest {

    @Test
    void theLaunchersWordOnStdoutWinsAndAPipeIsNoTerminal() {
        String before = System.getProperty(Main.TERMINAL_PROPERTY);
        try {
            System.setProperty(Main.TERMINAL_PROPERTY, "true");
            assertThat(Main.stdoutIsTerminal()).isTrue();
            System.setProperty(Main.TERMINAL_PROPERTY, "false");
            assertThat(Main.stdoutIsTerminal()).isFalse();
            // the test JVM's standard output is a pipe to Maven, also on JDK 22+ where a console exists anyway
            System.clearProperty(Main.TERMINAL_PROPERTY);
            assertThat(Main.stdoutIsTerminal()).isFalse();
        } finally {
            if (before == null) {
                System.clearProperty(Main.TERMINAL_PROPERTY);
            } else {
                System.setProperty(Main.TERMINAL_PROPERTY, before);
            }
        }
    }
}
