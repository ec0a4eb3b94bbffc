package io.distkit.testkit.server;

import java.time.Duration;
import java.util.Map;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.utility.DockerImageName;

/**
 * A Testcontainers container that stands in for a database server whose binary is missing, when a
 * Docker engine answers: one official image, configured through its environment, serving on one
 * port. No fault can be injected into it; see {@link LocalServer#useContainer}.
 */
final class ContainerFallback {

    private static final Duration STARTUP_TIMEOUT = Duration.ofMinutes(2);

    private final GenericContainer<?> container;
    private final int port;

    private ContainerFallback(GenericContainer<?> container, int port) {
        this.container = container;
        this.port = port;
    }

    /** Whether a Docker engine answers; false also when Testcontainers cannot even be loaded. */
    static boolean dockerAvailable() {
        try {
            return DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    /**
     * Starts {@code image} with {@code environment} and {@code port} exposed, and waits (at most two
     * minutes) until its log has matched {@code readyLogRegex} twice: the official images'
     * entrypoints run a temporary server for their initialisation first.
     */
    static ContainerFallback start(String image, int port, Map<String, String> environment, String readyLogRegex) {
        GenericContainer<?> container = new GenericContainer<>(DockerImageName.parse(image))
                .withEnv(environment)
                .withExposedPorts(port)
                .waitingFor(Wait.forLogMessage(readyLogRegex, 2).withStartupTimeout(STARTUP_TIMEOUT));
        container.start();
        return new ContainerFallback(container, port);
    }

    /** Where the container's port is reachable from this JVM. */
    String host() {
        return container.getHost();
    }

    /** The host port mapped to the server's port in the container. */
    int port() {
        return container.getMappedPort(port);
    }

    boolean isRunning() {
        return container.isRunning();
    }

    void stop() {
        container.stop();
    }
}
