package io.distkit.lock.redis;

import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.RedisClusterURIUtil;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * A Redis URI, checked and split into what the builder needs: the Lettuce {@link RedisURI}s, the kind
 * of deployment, and a description without credentials.
 *
 * <ul>
 *   <li>{@code redis://[user:password@]host[:port][/db]}, {@code rediss://...} (TLS): one server; a
 *       server with cluster mode on is detected when connecting and used as a cluster seed.
 *   <li>{@code redis://host1:port1,host2:port2,...}: Redis Cluster seeds.
 *   <li>{@code redis-sentinel://host1:port1[,host2:port2...][/db]#masterId} (or {@code rediss-sentinel}):
 *       the master the Sentinels name, followed across failovers.
 * </ul>
 */
final class RedisEndpoint {

    /** The URI schemes handled. */
    static final Set<String> SCHEMES = Set.of("redis", "rediss", "redis-sentinel", "rediss-sentinel");

    private static final String FORMS = "expected redis://host:port[/db], rediss://host:port (TLS),"
            + " redis://host1:port1,host2:port2 (cluster seeds) or redis-sentinel://host:port[,host:port]#masterId";

    enum Kind { SINGLE, CLUSTER, SENTINEL }

    final Kind kind;
    /** Host and port of each server named, comma-separated: what messages show (never the password). */
    final String hosts;
    private final List<RedisURI> uris;

    private RedisEndpoint(Kind kind, String hosts, List<RedisURI> uris) {
        this.kind = kind;
        this.hosts = hosts;
        this.uris = uris;
    }

    /**
     * @throws NullPointerException if {@code text} is null
     * @throws IllegalArgumentException if it is not a Redis URI this backend can use; the message says why
     *     and shows the accepted forms
     */
    static RedisEndpoint parse(String text) {
        Objects.requireNonNull(text, "uri");
        URI uri;
        try {
            uri = new URI(text.strip());
        } catch (URISyntaxException e) {
            throw bad(text, e.getReason() + " at index " + e.getIndex());
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!SCHEMES.contains(scheme)) {
            throw bad(text, "the scheme must be one of " + String.join(", ", new java.util.TreeSet<>(SCHEMES))
                    + ", was '" + scheme + "'");
        }
        String authority = uri.getRawAuthority();
        if (authority == null || authority.isEmpty()) {
            throw bad(text, "it names no host");
        }
        String hostList = authority.substring(authority.lastIndexOf('@') + 1);
        boolean sentinel = scheme.endsWith("-sentinel");
        List<String> hosts = new ArrayList<>();
        for (String part : hostList.split(",", -1)) {
            hosts.add(checkHostPort(text, part, sentinel ? RedisURI.DEFAULT_SENTINEL_PORT : RedisURI.DEFAULT_REDIS_PORT));
        }
        String path = uri.getRawPath();
        if (path != null && !path.isEmpty() && !path.equals("/") && !path.matches("/\\d+")) {
            throw bad(text, "the path must be empty or a database number such as /0, was '" + path + "'");
        }
        if (sentinel && (uri.getFragment() == null || uri.getFragment().isBlank())
                && (uri.getQuery() == null || !uri.getQuery().contains("sentinelMasterId="))) {
            throw bad(text, "a Sentinel URI must name the master, e.g. redis-sentinel://host:26379#mymaster");
        }
        Kind kind;
        List<RedisURI> uris;
        try {
            if (sentinel) {
                RedisURI parsed = RedisURI.create(uri);
                kind = Kind.SENTINEL;
                uris = List.of(parsed);
            } else if (hosts.size() > 1) {
                kind = Kind.CLUSTER;
                uris = RedisClusterURIUtil.toRedisURIs(uri);
            } else {
                kind = Kind.SINGLE;
                uris = List.of(RedisURI.create(uri));
            }
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw bad(text, String.valueOf(e.getMessage()));
        }
        return new RedisEndpoint(kind, String.join(",", hosts), uris);
    }

    /** Copies of the Lettuce URIs with {@code timeout} for connecting and for Lettuce's own synchronous calls. */
    List<RedisURI> uris(Duration timeout) {
        List<RedisURI> copies = new ArrayList<>(uris.size());
        for (RedisURI original : uris) {
            RedisURI copy = RedisURI.builder(original).build();
            copy.setTimeout(timeout);
            copies.add(copy);
        }
        return copies;
    }

    /** What {@code describe()} shows for this endpoint. */
    String describe() {
        return switch (kind) {
            case SINGLE -> "redis " + hosts;
            case CLUSTER -> "redis cluster " + hosts;
            case SENTINEL -> "redis sentinel master '" + uris.get(0).getSentinelMasterId() + "' via " + hosts;
        };
    }

    private static String checkHostPort(String text, String part, int defaultPort) {
        String host;
        String port;
        if (part.startsWith("[")) { // IPv6 literal
            int close = part.indexOf(']');
            if (close < 0) {
                throw bad(text, "unclosed '[' in host '" + part + "'");
            }
            host = part.substring(0, close + 1);
            String rest = part.substring(close + 1);
            if (!rest.isEmpty() && !rest.startsWith(":")) {
                throw bad(text, "unexpected '" + rest + "' after host " + host);
            }
            port = rest.isEmpty() ? null : rest.substring(1);
        } else {
            int colon = part.lastIndexOf(':');
            host = colon < 0 ? part : part.substring(0, colon);
            port = colon < 0 ? null : part.substring(colon + 1);
        }
        if (host.isEmpty() || host.equals("[]")) {
            throw bad(text, "a host is missing" + (part.isEmpty() ? " (empty entry in the host list)" : " in '" + part + "'"));
        }
        if (port == null) {
            return host + ":" + defaultPort;
        }
        int number;
        try {
            number = Integer.parseInt(port);
        } catch (NumberFormatException e) {
            number = -1;
        }
        if (number < 1 || number > 65_535) {
            throw bad(text, "the port must be a number from 1 to 65535, was '" + port + "'");
        }
        return host + ":" + number;
    }

    private static IllegalArgumentException bad(String text, String why) {
        return new IllegalArgumentException("malformed redis URI '" + redact(text) + "': " + why + "; " + FORMS);
    }

    /** The URI without its password, for messages. */
    static String redact(String text) {
        int scheme = text.indexOf("://");
        if (scheme < 0) {
            return text;
        }
        int end = text.length();
        for (char c : new char[] {'/', '?', '#'}) {
            int i = text.indexOf(c, scheme + 3);
            if (i >= 0 && i < end) {
                end = i;
            }
        }
        int at = text.lastIndexOf('@', end - 1);
        return at <= scheme ? text : text.substring(0, scheme + 3) + "***" + text.substring(at);
    }
}
