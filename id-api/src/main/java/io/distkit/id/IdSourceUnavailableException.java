package io.distkit.id;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The store behind a generator (database, Redis, etcd, ZooKeeper) could not be reached or answered
 * with an error, and the generator had no ids left in hand to serve meanwhile. Whether a request
 * that was sent took effect on the store is unknown; if it did, its ids are skipped, never reused.
 * Retrying once the store is reachable again is safe.
 */
public class IdSourceUnavailableException extends IdGenerationException {

    private final String source;

    /**
     * @param source the id source concerned: a segment tag, a key, a path, a table
     * @param detail what was attempted and how it failed, included in the message
     * @param cause the underlying failure, or null if there is none
     */
    public IdSourceUnavailableException(String source, String detail, @Nullable Throwable cause) {
        super("id source '" + Objects.requireNonNull(source, "source") + "' unavailable: "
                + Objects.requireNonNull(detail, "detail")
                + "; check that the store is running and reachable, then retry", cause);
        this.source = source;
    }

    /** The id source concerned: a segment tag, a key, a path, a table. */
    public String source() {
        return source;
    }
}
