package io.distkit.lock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import java.net.URI;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The test classpath has one backend: {@code io.distkit.lock.spi.ScriptedLockClientProvider}. */
@DisplayName("LockClients.connect")
@SuppressWarnings("DataFlowIssue") // nulls passed on purpose
class LockClientsTest {

    @Test
    void anUnknownSchemeIsRefusedWithTheListOfAvailableSchemes() {
        assertThatIllegalArgumentException().isThrownBy(() -> LockClients.connect("nosuch://localhost:1234"))
                .withMessageContaining("'nosuch:'")
                .withMessageContaining("nosuch://localhost:1234")
                .withMessageContaining("available: scripted, scripted-too");
    }

    @Test
    void aUriWithoutSchemeIsRefusedToo() {
        assertThatIllegalArgumentException().isThrownBy(() -> LockClients.connect(URI.create("localhost")))
                .withMessageContaining("available: scripted, scripted-too");
    }

    @Test
    void aKnownSchemeConnectsThroughItsProviderWhateverItsCase() {
        try (LockClient client = LockClients.connect("SCRIPTED://anywhere")) {
            assertThat(client.toString()).contains("scripted backend");
        }
    }

    @Test
    void aNullUriIsRefused() {
        assertThatNullPointerException().isThrownBy(() -> LockClients.connect((String) null)).withMessage("uri");
        assertThatNullPointerException().isThrownBy(() -> LockClients.connect((URI) null)).withMessage("uri");
    }
}
