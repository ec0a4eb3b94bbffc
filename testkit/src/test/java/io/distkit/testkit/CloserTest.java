package io.distkit.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class CloserTest {

    private final List<String> closed = new ArrayList<>();

    private AutoCloseable resource(String name) {
        return () -> closed.add(name);
    }

    private AutoCloseable failing(String name) {
        return () -> {
            closed.add(name);
            throw new IllegalStateException(name + " failed");
        };
    }

    @Test
    void closesNewestFirstAndForgets() throws Exception {
        Closer closer = new Closer();
        AutoCloseable pool = closer.add(resource("pool"));
        closer.add(resource("client"));

        closer.close();
        closer.close();

        assertThat(pool).isNotNull();
        assertThat(closed).containsExactly("client", "pool");
    }

    @Test
    void closesEveryOneWhenSomeThrowAndThrowsTheFirstWithTheOthersSuppressed() {
        Closer closer = new Closer();
        closer.add(resource("pool"));
        closer.add(failing("server"));
        closer.add(failing("client"));

        assertThatThrownBy(closer::close)
                .hasMessage("client failed")
                .satisfies(e -> assertThat(e.getSuppressed()).extracting(Throwable::getMessage)
                        .containsExactly("server failed"));
        assertThat(closed).containsExactly("client", "server", "pool");
    }

    @Test
    void refusesNull() {
        assertThatThrownBy(() -> new Closer().add(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("resource");
    }
}
