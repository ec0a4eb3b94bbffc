package io.distkit.id;

import io.distkit.id.spi.IdStoreProvider;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;
import java.util.Objects;
import java.util.ServiceLoader;
import java.util.TreeSet;

/**
 * Opens the {@link IdStore} a URI names, e.g. {@code redis://localhost:6379}, {@code etcd://h1:2379,h2:2379},
 * {@code zookeeper://localhost:2181/ids}, {@code jdbc:postgresql://db/app?user=..}. Stores are found through
 * {@link ServiceLoader}: put the module that holds the store's backend (distkit-id-backends) and the store's
 * client library on the classpath.
 */
public final class IdStores {

    private IdStores() {}

    /**
     * @throws NullPointerException if {@code uri} is null
     * @throws IllegalArgumentException if nothing on the classpath handles the URI's scheme (the message lists
     *     the schemes that are available), or the URI is malformed for that store
     * @throws IdSourceUnavailableException if the store cannot be reached
     */
    public static IdStore connect(URI uri) {
        Objects.requireNonNull(uri, "uri");
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        TreeSet<String> available = new TreeSet<>();
        for (IdStoreProvider provider : ServiceLoader.load(IdStoreProvider.class, IdStores.class.getClassLoader())) {
            if (provider.schemes().contains(scheme)) {
                return provider.connect(uri);
            }
            available.addAll(provider.schemes());
        }
        throw new IllegalArgumentException("no id store on the classpath handles '" + scheme + ":' URIs such as "
                + redact(uri) + "; available: " + (available.isEmpty() ? "none" : String.join(", ", available))
                + ". Add distkit-id-backends and the store's client (lettuce-core, jetcd-core, curator-framework, a"
                + " JDBC driver) as dependencies.");
    }

    /** {@link #connect(URI)} for a string. */
    public static IdStore connect(String uri) {
        Objects.requireNonNull(uri, "uri");
        URI parsed;
        try {
            parsed = new URI(uri);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("malformed id store URI (" + e.getReason() + " at index " + e.getIndex()
                    + "): " + redact(uri), e);
        }
        return connect(parsed);
    }

    private static String redact(URI uri) {
        return redact(uri.toString());
    }

    /** The URI without its password: user info and {@code password=} parameters masked. */
    private static String redact(String uri) {
        return uri.replaceAll("//[^/@?#]*@", "//***@").replaceAll("(?i)(password=)[^&;]*", "$1***");
    }
}
