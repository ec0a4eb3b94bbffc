package io.distkit.id.backends.etcd;

import io.distkit.id.IdStore;
import io.distkit.id.spi.IdStoreProvider;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Makes etcd reachable through {@link io.distkit.id.IdStores#connect(URI)}:
 * {@code etcd://[user:password@]host:port[,host:port...][/key/prefix/]} over plain HTTP, {@code etcds://...} over
 * TLS, the same form as lock-etcd's lock URIs. The path, if any, is the key prefix (default
 * {@value EtcdConnection#DEFAULT_KEY_PREFIX}); the port defaults to 2379. With {@code etcds://}, the query
 * {@code ca=/path/to/ca.pem} in the query names a PEM file of the certificate authorities to trust instead of the
 * JVM's. With {@code watermarks=/a/directory} (an existing directory, the path percent-encoded where needed) the
 * store's counters keep their watermarks in files there ({@link EtcdIdStore#counter}). No other query parameter
 * is known. Registered in {@code META-INF/services/io.distkit.id.spi.IdStoreProvider}; not
 * for direct use.
 */
public final class EtcdIdStoreProvider implements IdStoreProvider {

    private static final String FORMS = "expected etcd://[user:password@]host:port[,host:port...][/key/prefix/]"
            + "[?watermarks=/a/directory] or etcds://...[?ca=/path/to/ca.pem] for TLS";

    /** For {@link java.util.ServiceLoader}. */
    public EtcdIdStoreProvider() {}

    /** {@code etcd} and {@code etcds}. */
    @Override
    public Set<String> schemes() {
        return Set.of("etcd", "etcds");
    }

    /**
     * @throws IllegalArgumentException if the URI is malformed (the message says why and shows the form)
     */
    @Override
    public IdStore connect(URI uri) {
        return EtcdIdStore.open(parse(uri));
    }

    /** The connection settings a URI stands for; no connection is made. */
    static EtcdConnection parse(URI uri) {
        Objects.requireNonNull(uri, "uri");
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("etcd") && !scheme.equals("etcds")) {
            throw new IllegalArgumentException("not an etcd URI (scheme '" + scheme + "'): " + FORMS);
        }
        if (uri.isOpaque()) {
            throw new IllegalArgumentException("etcd URI has no '//' before its hosts: " + FORMS);
        }
        if (uri.getRawFragment() != null) {
            throw new IllegalArgumentException("etcd URI takes no fragment ('#...'): " + FORMS);
        }
        Map<String, String> parameters = parameters(uri.getRawQuery());
        String ca = parameters.get("ca");
        if (ca != null && !scheme.equals("etcds")) {
            throw new IllegalArgumentException("etcd URI query parameter ca= trusts a CA for TLS, but etcd:// is plain"
                    + " HTTP: use etcds://: " + FORMS);
        }
        String authority = uri.getRawAuthority();
        if (authority == null || authority.isEmpty()) {
            throw new IllegalArgumentException("etcd URI names no host: " + FORMS);
        }
        String user = null;
        String password = null;
        int at = authority.lastIndexOf('@');
        if (at >= 0) {
            String userInfo = authority.substring(0, at);
            authority = authority.substring(at + 1);
            int colon = userInfo.indexOf(':');
            if (colon <= 0) {
                throw new IllegalArgumentException("etcd URI user info must be user:password (both percent-encoded"
                        + " where needed): " + FORMS);
            }
            user = decode(userInfo.substring(0, colon));
            password = decode(userInfo.substring(colon + 1));
        }
        String httpScheme = scheme.equals("etcds") ? "https://" : "http://";
        List<String> endpoints = new ArrayList<>();
        for (String hostPort : authority.split(",", -1)) {
            endpoints.add(httpScheme + hostAndPort(hostPort));
        }
        EtcdConnection connection = EtcdConnection.of(endpoints.toArray(String[]::new));
        if (user != null && password != null) {
            connection.credentials(user, password);
        }
        if (ca != null) {
            connection.trustCertificates(Path.of(ca));
        }
        String watermarks = parameters.get("watermarks");
        if (watermarks != null) {
            connection.watermarkDirectory = EtcdIdStore.checkWatermarkDirectory(Path.of(watermarks));
        }
        String path = uri.getRawPath();
        if (path != null && !path.isEmpty() && !path.equals("/")) {
            connection.keyPrefix = EtcdConnection.checkKeyPrefix(decode(path.substring(1)));
        }
        return connection;
    }

    /** The decoded query parameters, of the known ones ({@code ca}, {@code watermarks}); each at most once, not empty. */
    private static Map<String, String> parameters(@Nullable String rawQuery) {
        Map<String, String> parameters = new HashMap<>();
        if (rawQuery == null) {
            return parameters;
        }
        for (String parameter : rawQuery.split("&", -1)) {
            int equals = parameter.indexOf('=');
            String name = decode(equals < 0 ? parameter : parameter.substring(0, equals));
            if (!name.equals("ca") && !name.equals("watermarks")) {
                throw new IllegalArgumentException("etcd URI query parameter '" + name + "' is not known; the query"
                        + " takes only ca=/path/to/ca.pem and watermarks=/a/directory: " + FORMS);
            }
            String value = equals < 0 ? "" : decode(parameter.substring(equals + 1));
            if (value.isEmpty()) {
                throw new IllegalArgumentException("etcd URI query parameter " + name + "= is empty; it takes a path: "
                        + FORMS);
            }
            if (parameters.put(name, value) != null) {
                throw new IllegalArgumentException("etcd URI query names " + name + "= twice: " + FORMS);
            }
        }
        return parameters;
    }

    private static String hostAndPort(String hostPort) {
        if (hostPort.isEmpty()) {
            throw new IllegalArgumentException("etcd URI has an empty host in its host list: " + FORMS);
        }
        String host = hostPort;
        String port = "2379";
        int colon = hostPort.lastIndexOf(':');
        if (colon > hostPort.lastIndexOf(']')) {
            host = hostPort.substring(0, colon);
            port = hostPort.substring(colon + 1);
        }
        if (host.isEmpty()) {
            throw new IllegalArgumentException("etcd URI has a port without a host ('" + hostPort + "'): " + FORMS);
        }
        int number;
        try {
            number = Integer.parseInt(port);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("etcd URI port '" + port + "' of '" + hostPort + "' is not a number: "
                    + FORMS, e);
        }
        if (number < 1 || number > 65535) {
            throw new IllegalArgumentException("etcd URI port " + number + " of '" + hostPort
                    + "' is out of range (1 to 65535): " + FORMS);
        }
        return host + ":" + number;
    }

    private static String decode(String text) {
        try {
            return URLDecoder.decode(text.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("etcd URI has a malformed percent-encoding: " + FORMS, e);
        }
    }
}
