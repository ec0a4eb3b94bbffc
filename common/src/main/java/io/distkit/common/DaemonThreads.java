package io.distkit.common;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Every thread distkit starts: a daemon (a library must never keep its user's JVM alive) named
 * {@code distkit-<purpose>-<n>}, so that a thread dump says which part of distkit a thread belongs
 * to. The numbers count per purpose from 1 over the life of the JVM.
 */
public final class DaemonThreads {

    private static final Map<String, AtomicInteger> COUNTERS = new ConcurrentHashMap<>();

    private DaemonThreads() {}

    /** A factory of daemon threads named {@code distkit-<purpose>-<n>}. */
    public static ThreadFactory factory(String purpose) {
        checkPurpose(purpose);
        AtomicInteger counter = COUNTERS.computeIfAbsent(purpose, p -> new AtomicInteger());
        return task -> {
            Thread thread = new Thread(task, "distkit-" + purpose + "-" + counter.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }

    /** Starts {@code task} on a new daemon thread named {@code distkit-<purpose>-<n>}. */
    public static Thread start(String purpose, Runnable task) {
        Thread thread = factory(purpose).newThread(task);
        thread.start();
        return thread;
    }

    private static void checkPurpose(String purpose) {
        if (purpose.isBlank() || purpose.startsWith("distkit")) {
            throw new IllegalArgumentException(
                    "a thread purpose is a short non-blank word such as \"renew\", without the distkit- prefix, got \""
                            + purpose + "\"");
        }
    }
}
