package io.distkit.id;

import org.jspecify.annotations.Nullable;

/**
 * Root of the id exceptions: the generator could not produce an id that it is sure is unique, so
 * it produced none. Unchecked. Nothing was consumed that a retry could see again: retrying later
 * either returns a fresh id or fails again.
 */
public class IdGenerationException extends RuntimeException {

    /**
     * @param message what failed and, where known, what to do about it
     */
    public IdGenerationException(String message) {
        super(message);
    }

    /**
     * @param message what failed and, where known, what to do about it
     * @param cause the underlying failure, or null if there is none
     */
    public IdGenerationException(String message, @Nullable Throwable cause) {
        super(message, cause);
    }
}
