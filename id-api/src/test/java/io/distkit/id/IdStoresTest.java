package io.distkit.id;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The factory's refusals, without any store on the class path. */
class IdStoresTest {

    @Test
    void anUnknownSchemeSaysWhatToAddAndHidesThePassword() {
        assertThatThrownBy(() -> IdStores.connect("nosuch://app:s3cret@host:1/x?password=hunter2"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'nosuch:'").hasMessageContaining("distkit-id-backends")
                .hasMessageNotContaining("s3cret").hasMessageNotContaining("hunter2");
    }

    @Test
    void aMalformedUriIsAnIllegalArgumentWithoutThePassword() {
        assertThatThrownBy(() -> IdStores.connect("redis://app:s3cret@host:1/ bad"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("malformed")
                .hasMessageNotContaining("s3cret");
        assertThatThrownBy(() -> IdStores.connect((String) null)).isInstanceOf(NullPointerException.class);
    }
}
