package io.distkit.testkit;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Objects;

/**
 * What a test opened and must close at its end: clients, pools, child JVMs, generators. Registered with
 * {@link #add}, closed by {@link #close()} newest first (a client before the pool it uses), every one of
 * them even when some throw: the first failure is thrown, the others added to it as suppressed.
 *
 * <pre>{@code
 * private final Closer toClose = new Closer();
 *
 * @AfterEach
 * void closeAll() throws Exception {
 *     toClose.close();
 * }
 * }</pre>
 *
 * <p>A plain object rather than a JUnit extension, so that the test says when it runs relative to its other
 * clean-up (healing a proxy first, say). Safe for use by several threads; reusable after {@code close()}.
 */
public final class Closer implements AutoCloseable {

    private final Deque<AutoCloseable> opened = new ArrayDeque<>();

    /**
     * Registers {@code resource} to be closed by {@link #close()}; returns it.
     *
     * @throws NullPointerException if {@code resource} is null
     */
    public <T extends AutoCloseable> T add(T resource) {
        Objects.requireNonNull(resource, "resource");
        synchronized (opened) {
            opened.push(resource);
        }
        return resource;
    }

    /** Closes everything registered, newest first, and forgets it. */
    @Override
    public void close() throws Exception {
        Exception first = null;
        for (;;) {
            AutoCloseable next;
            synchronized (opened) {
                next = opened.poll();
            }
            if (next == null) {
                break;
            }
            try {
                next.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
