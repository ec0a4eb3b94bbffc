package io.distkit.testkit.server;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A server fixture as a JUnit 5 extension. Registered on a static field it runs for the class:
 *
 * <pre>{@code
 * @RegisterExtension static RedisServer redis = RedisServer.builder().build();
 * }</pre>
 *
 * <p>On an instance field it runs for one test. After each test it is {@link #heal() healed}
 * (resumed if paused, restarted if killed), so a test that fails mid-fault does not poison the
 * next. Closing stops every process and removes the temp directories, also when a test failed.
 */
public interface TestServer extends BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback,
        AutoCloseable {

    /** Starts the server (all members) and waits until it answers. Idempotent. */
    void start();

    /** Whether {@link #start()} ran and {@link #close()} did not. */
    boolean isStarted();

    /** Undoes faults: resumes paused members, restarts killed ones, heals proxies. */
    void heal();

    /** Stops everything and removes the temp directories. Idempotent. */
    @Override
    void close();

    @Override
    default void beforeAll(ExtensionContext context) {
        start();
    }

    @Override
    default void afterAll(ExtensionContext context) {
        close();
    }

    @Override
    default void beforeEach(ExtensionContext context) {
        if (!isStarted()) {
            start();
            context.getStore(ExtensionContext.Namespace.create(TestServer.class, this))
                    .put("server", (ExtensionContext.Store.CloseableResource) this::close);
        }
    }

    @Override
    default void afterEach(ExtensionContext context) {
        if (isStarted()) {
            heal();
        }
    }
}
