package io.distkit.lock.etcd;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.ClientBuilder;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiFunction;
import org.jspecify.annotations.Nullable;

/**
 * An {@code etcd://} or {@code etcds://} URI taken apart, and a jetcd client made from such settings: shared by
 * the lock client's provider and the id store's (distkit-id-backends), so both read the same URIs alike.
 * {@code etcd://[user:password@]host[:port][,host[:port]...][/key/prefix/][?ca=/path/ca.pem&...]}: plain HTTP
 * for {@code etcd}, TLS for {@code etcds}; the port defaults to 2379; the path is the key prefix; {@code ca}
 * (TLS only) names a PEM file of certificate authorities to trust; each user of the class names the other
 * query parameters it knows.
 */
public final class EtcdUri {

    private final List<String> endpoints;
    private final @Nullable String user;
    private final @Nullable String password;
    private final @Nullable Path ca;
    private final @Nullable String keyPrefix;
    private final Map<String, String> parameters;

    private EtcdUri(List<String> endpoints, @Nullable String user, @Nullable String password, @Nullable Path ca,
            @Nullable String keyPrefix, Map<String, String> parameters) {
        this.endpoints = List.copyOf(endpoints);
        this.user = user;
        this.password = password;
        this.ca = ca;
        this.keyPrefix = keyPrefix;
        this.parameters = Collections.unmodifiableMap(parameters);
    }

    /** The forms, for messages. */
    public static String forms(Set<String> knownParameters) {
        StringBuilder extra = new StringBuilder();
        for (String name : new TreeSet<>(knownParameters)) {
            extra.append("&").append(name).append("=...");
        }
        return "expected etcd://[user:password@]host:port[,host:port...][/key/prefix/]"
                + (knownParameters.isEmpty() ? "" : "[?" + extra.substring(1) + "]")
                + " or etcds://...[?ca=/path/to/ca.pem" + extra + "] for TLS";
    }

    /**
     * Takes {@code uri} apart; no connection is made.
     *
     * @param knownParameters the query parameters the caller takes besides {@code ca}; any other is refused
     * @throws IllegalArgumentException if the URI is malformed (the message says why and shows the forms)
     */
    public static EtcdUri parse(URI uri, Set<String> knownParameters) {
        Objects.requireNonNull(uri, "uri");
        String forms = forms(knownParameters);
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("etcd") && !scheme.equals("etcds")) {
            throw new IllegalArgumentException("not an etcd URI (scheme '" + scheme + "'): " + forms);
        }
        if (uri.isOpaque()) {
            throw new IllegalArgumentException("etcd URI has no '//' before its hosts: " + forms);
        }
        if (uri.getRawFragment() != null) {
            throw new IllegalArgumentException("etcd URI takes no fragment ('#...'): " + forms);
        }
        Map<String, String> parameters = parameters(uri.getRawQuery(), knownParameters, forms);
        String ca = parameters.remove("ca");
        if (ca != null && !scheme.equals("etcds")) {
            throw new IllegalArgumentException("etcd URI query parameter ca= trusts a CA for TLS, but etcd:// is"
                    + " plain HTTP: use etcds://: " + forms);
        }
        String authority = uri.getRawAuthority();
        if (authority == null || authority.isEmpty()) {
            throw new IllegalArgumentException("etcd URI names no host: " + forms);
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
                        + " where needed): " + forms);
            }
            user = decode(userInfo.substring(0, colon), forms);
            password = decode(userInfo.substring(colon + 1), forms);
        }
        String httpScheme = scheme.equals("etcds") ? "https://" : "http://";
        List<String> endpoints = new ArrayList<>();
        for (String hostPort : authority.split(",", -1)) {
            endpoints.add(httpScheme + hostAndPort(hostPort, forms));
        }
        String path = uri.getRawPath();
        String prefix = path != null && !path.isEmpty() && !path.equals("/") ? decode(path.substring(1), forms) : null;
        return new EtcdUri(endpoints, user, password, ca == null ? null : Path.of(ca), prefix, parameters);
    }

    /**
     * Endpoints as the builders take them ({@code http://host:port}, {@code https://host:port}, or {@code
     * host:port} for plain HTTP), checked.
     *
     * @throws NullPointerException if {@code endpoints} or one of them is null
     * @throws IllegalArgumentException if there is none, or one is malformed (the message says which and why)
     */
    public static List<URI> endpoints(String... endpoints) {
        Objects.requireNonNull(endpoints, "endpoints");
        if (endpoints.length == 0) {
            throw new IllegalArgumentException("endpoints must name at least one etcd member, such as"
                    + " http://127.0.0.1:2379");
        }
        List<URI> uris = new ArrayList<>();
        for (String endpoint : endpoints) {
            uris.add(endpoint(Objects.requireNonNull(endpoint, "endpoint")));
        }
        return List.copyOf(uris);
    }

    private static URI endpoint(String endpoint) {
        String text = endpoint.strip();
        if (!text.contains("://")) {
            text = "http://" + text;
        }
        URI uri;
        try {
            uri = new URI(text);
        } catch (java.net.URISyntaxException e) {
            throw new IllegalArgumentException("etcd endpoint '" + endpoint + "' is malformed (" + e.getMessage()
                    + "); expected http://host:port or https://host:port", e);
        }
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new IllegalArgumentException("etcd endpoint '" + endpoint + "' must use http or https, was "
                    + scheme);
        }
        if (uri.getHost() == null || uri.getPort() < 0) {
            throw new IllegalArgumentException("etcd endpoint '" + endpoint + "' must have a host and a port,"
                    + " such as http://127.0.0.1:2379");
        }
        return uri;
    }

    /** {@code http://host:port} or {@code https://host:port}, one per host. */
    public List<String> endpoints() {
        return endpoints;
    }

    public @Nullable String user() {
        return user;
    }

    public @Nullable String password() {
        return password;
    }

    /** The PEM file of {@code ca=}, or null. */
    public @Nullable Path ca() {
        return ca;
    }

    /** The path without its leading slash, or null if the URI has none. */
    public @Nullable String keyPrefix() {
        return keyPrefix;
    }

    /** The caller's own query parameters (not {@code ca}), decoded. */
    public Map<String, String> parameters() {
        return parameters;
    }

    /**
     * A jetcd client for {@code endpoints}: credentials if given, TLS for {@code https} endpoints trusting {@code ca}
     * (or the JVM's trust store), connecting within {@code connectTimeout}.
     *
     * @param tlsFailure makes the exception for TLS that cannot be set up, from a message and the cause
     * @throws IllegalStateException if {@code ca} is set but no endpoint uses TLS
     */
    public static Client newClient(List<URI> endpoints, @Nullable String user, @Nullable String password,
            @Nullable Path ca, Duration connectTimeout, BiFunction<String, Throwable, RuntimeException> tlsFailure) {
        ClientBuilder builder = Client.builder().endpoints(endpoints.toArray(URI[]::new)).connectTimeout(connectTimeout);
        if (user != null && password != null) {
            builder.user(ByteSequence.from(user, StandardCharsets.UTF_8))
                    .password(ByteSequence.from(password, StandardCharsets.UTF_8));
        }
        boolean https = endpoints.stream().anyMatch(uri -> uri.getScheme().equalsIgnoreCase("https"));
        if (ca != null && !https) {
            throw new IllegalStateException("trustCertificates(" + ca + ") was set, but no etcd endpoint uses TLS:"
                    + " use https:// endpoints (etcds:// in URIs) " + endpoints);
        }
        if (https) {
            try {
                builder.sslContext(ssl -> {
                    if (ca != null) {
                        ssl.trustManager(ca.toFile());
                    }
                });
            } catch (javax.net.ssl.SSLException | RuntimeException e) {
                throw tlsFailure.apply("cannot set up TLS for etcd " + endpoints
                        + (ca == null ? "" : " trusting the CA certificates in " + ca.toAbsolutePath()
                                + " (a PEM file of X.509 certificates is expected)")
                        + ": " + e.getMessage(), e);
            }
        }
        return builder.build();
    }

    /** The decoded query parameters: {@code ca} and the known ones, each at most once, none empty. */
    private static Map<String, String> parameters(@Nullable String rawQuery, Set<String> known, String forms) {
        Map<String, String> parameters = new LinkedHashMap<>();
        if (rawQuery == null) {
            return parameters;
        }
        for (String parameter : rawQuery.split("&", -1)) {
            int equals = parameter.indexOf('=');
            String name = decode(equals < 0 ? parameter : parameter.substring(0, equals), forms);
            if (!name.equals("ca") && !known.contains(name)) {
                throw new IllegalArgumentException("etcd URI query parameter '" + name + "' is not known; the query"
                        + " takes only ca=/path/to/ca.pem" + (known.isEmpty() ? "" : " and " + String.join(", ",
                                new TreeSet<>(known))) + ": " + forms);
            }
            String value = equals < 0 ? "" : decode(parameter.substring(equals + 1), forms);
            if (value.isEmpty()) {
                throw new IllegalArgumentException("etcd URI query parameter " + name + "= is empty"
                        + (name.equals("ca") ? "; it takes the path of a PEM file of CA certificates" : "") + ": " + forms);
            }
            if (parameters.put(name, value) != null) {
                throw new IllegalArgumentException("etcd URI query names " + name + "= twice: " + forms);
            }
        }
        return parameters;
    }

    private static String hostAndPort(String hostPort, String forms) {
        if (hostPort.isEmpty()) {
            throw new IllegalArgumentException("etcd URI has an empty host in its host list: " + forms);
        }
        String host = hostPort;
        String port = "2379";
        int colon = hostPort.lastIndexOf(':');
        if (colon > hostPort.lastIndexOf(']')) {
            host = hostPort.substring(0, colon);
            port = hostPort.substring(colon + 1);
        }
        if (host.isEmpty()) {
            throw new IllegalArgumentException("etcd URI has a port without a host ('" + hostPort + "'): " + forms);
        }
        int number;
        try {
            number = Integer.parseInt(port);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("etcd URI port '" + port + "' of '" + hostPort + "' is not a number: "
                    + forms, e);
        }
        if (number < 1 || number > 65535) {
            throw new IllegalArgumentException("etcd URI port " + number + " of '" + hostPort
                    + "' is out of range (1 to 65535): " + forms);
        }
        return host + ":" + number;
    }

    private static String decode(String text, String forms) {
        try {
            return URLDecoder.decode(text.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("etcd URI has a malformed percent-encoding: " + forms, e);
        }
    }
}
