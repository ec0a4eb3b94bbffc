package io.distkit.common;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class DaemonThreadsTest {

    @Test
    void threadsAreDaemonsNamedByPurposeAndNumberedPerPurpose() {
        Thread first = DaemonThreads.factory("test-naming").newThread(() -> {});
        Thread second = DaemonThreads.factory("test-naming").newThread(() -> {});
        Thread other = DaemonThreads.factory("test-other").newThread(() -> {});

        assertThat(first.isDaemon()).isTrue();
        assertThat(first.getName()).isEqualTo("distkit-test-naming-1");
        assertThat(second.getName()).isEqualTo("distkit-test-naming-2");
        assertThat(other.getName()).isEqualTo("distkit-test-other-1");
    }

    @Test
    void startRunsTheTaskOnADaemonThread() throws InterruptedException {
        AtomicReference<Thread> ranOn = new AtomicReference<>();
        CountDownLatch ran = new CountDownLatch(1);
        Thread started = DaemonThreads.start("test-start", () -> {
            ranOn.set(Thread.currentThread());
            ran.countDown();
        });

        assertThat(ran.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(ranOn.get()).isSameAs(started);
        assertThat(started.isDaemon()).isTrue();
        assertThat(started.getName()).startsWith("distkit-test-start-");
    }

    @Test
    void aBlankOrPrefixedPurposeIsRefused() {
        assertThatThrownBy(() -> DaemonThreads.factory(" "))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("non-blank");
        assertThatThrownBy(() -> DaemonThreads.factory("distkit-renew"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("without the distkit- prefix");
    }
}
