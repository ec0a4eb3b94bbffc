package io.distkit.lock.zookeeper;

import io.distkit.lock.LockClient;
import io.distkit.lock.spi.LockClientProvider;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * Makes ZooKeeper reachable through {@link io.distkit.lock.LockClients#connect(URI)}:
 * {@code zookeeper://host:port[,host:port...][/chroot]}. The port defaults to 2181; the path, if any, is the
 * chroot (the Curator namespace every path of the client lies under, created when needed). Everything else
 * has the defaults of {@link ZooKeeperLockClient#builder(String)}. Registered in {@code
 * META-INF/services/io.distkit.lock.spi.LockClientProvider}; not for direct use.
 */
public final class ZooKeeperLockClientProvider implements LockClientProvider {

    private static final String FORM = "expected zookeeper://host:port[,host:port...][/chroot]";

    /** For {@link java.util.ServiceLoader}. */
    public ZooKeeperLockClientProvider() {}

    /** {@code zookeeper}. */
    @Override
    public Set<String> schemes() {
        return Set.of("zookeeper");
    }

    /**
     * @throws IllegalArgumentException if the URI is malformed (the message says why and shows the form)
     * @throws io.distkit.lock.LockBackendException if no connection is made within the command timeout
     */
    @Override
    public LockClient connect(URI uri) {
        return parse(uri).build();
    }

    /** The builder a URI stands for; no connection is made. */
    static ZooKeeperLockClient.Builder parse(URI uri) {
        return ZooKeeperLockClient.builder(connectString(uri));
    }

    /**
     * The connect string a {@code zookeeper://} URI stands for, {@code host:port,...[/chroot]}, checked by the
     * lock client's rules; no connection is made. Shared with the id store's provider (distkit-id-backends).
     *
     * @throws IllegalArgumentException if the URI is malformed (the message says why and shows the form)
     */
    public static String connectString(URI uri) {
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
            chroot = decode(path.endsWith("/") ? path.substring(0, path.length() - 1) : path);
        }
        for (String hostPort : authority.split(",", -1)) {
            if (hostPort.isEmpty()) {
                throw new IllegalArgumentException("ZooKeeper URI has an empty host in its host list: " + FORM);
            }
        }
        String connectString = authority + chroot;
        try {
            ZooKeeperLockClient.builder(connectString); // hosts, ports, chroot
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("ZooKeeper URI " + uri + ": " + e.getMessage() + "; " + FORM, e);
        }
        return connectString;
    }

    private static String decode(String text) {
        try {
            return URLDecoder.decode(text.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("ZooKeeper URI has a malformed percent-encoding: " + FORM, e);
        }
    }
}
