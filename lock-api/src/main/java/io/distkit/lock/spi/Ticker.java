package io.distkit.lock.spi;

/**
 * A monotonic clock in nanoseconds: what lease deadlines and waits are measured on, so that a step
 * of the wall clock (NTP, an operator) neither shortens nor lengthens them. Injected, so that tests
 * can drive time by hand.
 */
@FunctionalInterface
public interface Ticker {

    /** Nanoseconds from an arbitrary origin; only differences mean anything. */
    long read();

    /** {@link System#nanoTime()}. */
    static Ticker system() {
        return System::nanoTime;
    }
}
