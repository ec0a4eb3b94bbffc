package io.distkit.id.backends.zookeeper;

import io.distkit.id.IdStore;
import io.distkit.id.spi.IdStoreProvider;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * Makes ZooKeeper reachable through {@link io.distkit.id.IdStores#connect(URI)}: {@code
 * zookeeper://host:port[,host:port...][/chroot]}, the same URIs as {@code LockClients.connect}. The port defaults
 * to 2181; the path, if any, is the chroot (the Curator namespace every path of the store lies under, created
 * when needed). Everything else has the defaults of {@link ZooKeeperIdStore#builder(String)}. Registered in
 * {@code META-INF/services/io.distkit.id.spi.IdStoreProvider}; not for direct use.
 */
public final class ZooKeeperIdStoreProvider implements IdStoreProvider {

    private static final String FORM = "expected zookeeper://host:port[,host:port...][/chroot]";

    /** For {@link java.util.ServiceLoader}. */
    public ZooKeeperIdStoreProvider() {}

    /** {@code zookeeper}. */
    @Override
    public Set<String> schemes() {
        return Set.of("zookeeper");
    }

    /**
     * @throws IllegalArgumentException if the URI is malformed (the message says why and shows the form)
     * @throws io.distkit.id.IdSourceUnavailableException if no connection is made within the command timeout
     */
    @Override
    public IdStore connect(URI uri) {
        return ZooKeeperIdStore.builder(connectString(uri)).build();
    }

    /**
     * The connect string a URI stands for, {@code host:port,...[/chroot]}, checked by the lock client's rules; no
     * connection is made.
     */
    static String connectString(URI uri) {
        Objects.requireNonNull(uri, "uri");
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("zookeeper")) {
            throw new IllegalArgumentException("not a ZooKeeper URI (scheme '" + scheme + "'): " + FORM);
        }
        if (uri.isOpaque()) {
            throw new IllegalArgumentException("ZooKeeper URI has no '//' before its hosts: " + FORM);
        }
        if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
            throw new IllegalArgumentException("ZooKeeper URI takes no query ('?...') or fragment ('#...'): " + FORM);
        }
        String authority = uri.getRawAuthority();
        if (authority == null || authority.isEmpty()) {
            throw new IllegalArgumentException("ZooKeeper URI names no host: " + FORM);
        }
        if (authority.contains("@")) {
            throw new IllegalArgumentException("ZooKeeper URI takes no user info ('user@'): " + FORM);
        }
        String path = uri.getRawPath();
        String chroot = "";
        if (path != null && !path.isEmpty() && !path.equals("/")) {
            String trimmed = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
            try {
                chroot = URLDecoder.decode(trimmed.replace("+", "%2B"), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("ZooKeeper URI has a malformed percent-encoding: " + FORM, e);
            }
        }
        String connectString = authority + chroot;
        try {
            io.distkit.lock.zookeeper.ZooKeeperLockClient.builder(connectString); // hosts, ports, chroot
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("ZooKeeper URI " + uri + ": " + e.getMessage() + "; " + FORM, e);
        }
        return connectString;
    }
}
