package io.distkit.lock.redis.internal;

import io.distkit.lock.spi.LockEngine;
import java.util.Objects;

/**
 * The Redis names of one lock: lock key {@code <prefix>{<encoded name>}}, fence key {@code ...:fence},
 * release channel {@code ...:released}. The braces are a Redis Cluster hash tag: all three hash to the
 * slot of the encoded name, so one script can touch them together on any deployment.
 *
 * <p>The encoding is injective and never produces <code>{</code>, <code>}</code> or {@code :}: every
 * UTF-8 byte outside {@code [A-Za-z0-9._-]} becomes {@code %XX} (upper-case hex), {@code %} itself
 * included. So two different names never share a key, and no name can close its tag early or reach
 * into another name's keys or out of the prefix. A lone surrogate (a Java string that is not valid
 * Unicode) is encoded as the three bytes WTF-8 gives it, which valid UTF-8 never contains, so such
 * names cannot collide with any other name either (plain {@code String.getBytes} would turn them into
 * {@code ?}).
 */
public record LockKeys(String lock, String fence, String channel) {

    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    /** The keys of lock {@code name} under {@code prefix} (a prefix checked by the builder). */
    public static LockKeys of(String prefix, String name) {
        String lock = lockKey(prefix, name);
        return new LockKeys(lock, lock + ":fence", lock + ":released");
    }

    /**
     * Checks a builder's key prefix: {@link LockEngine#checkKeyPrefix}'s rules, and no brace, which would move
     * the hash tag off the lock name.
     *
     * @throws NullPointerException if null
     * @throws IllegalArgumentException if blank, longer than {@code maxLength}, or containing <code>{</code> or
     *     <code>}</code>
     */
    public static String checkPrefix(String keyPrefix, int maxLength) {
        LockEngine.checkKeyPrefix(keyPrefix, maxLength);
        if (keyPrefix.indexOf('{') >= 0 || keyPrefix.indexOf('}') >= 0) {
            throw new IllegalArgumentException("keyPrefix must not contain '{' or '}': the lock name is the hash tag"
                    + " of every key (a Redis Cluster slot), was '" + keyPrefix + "'");
        }
        return keyPrefix;
    }

    /** {@code <prefix>{<encoded name>}}: the key that holds the owner value while the lock is held. */
    public static String lockKey(String prefix, String name) {
        Objects.requireNonNull(prefix, "prefix");
        String encoded = encode(name);
        return new StringBuilder(prefix.length() + encoded.length() + 2)
                .append(prefix).append('{').append(encoded).append('}').toString();
    }

    /** Percent-encodes every UTF-8 (WTF-8 for lone surrogates) byte outside {@code [A-Za-z0-9._-]}. */
    public static String encode(String name) {
        Objects.requireNonNull(name, "name");
        StringBuilder out = new StringBuilder(name.length() + 16);
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (isPlain(c)) {
                out.append(c);
            } else if (c < 0x80) {
                byteOut(out, c);
            } else if (c < 0x800) {
                byteOut(out, 0xC0 | (c >> 6));
                byteOut(out, 0x80 | (c & 0x3F));
            } else if (Character.isHighSurrogate(c) && i + 1 < name.length()
                    && Character.isLowSurrogate(name.charAt(i + 1))) {
                int cp = Character.toCodePoint(c, name.charAt(++i));
                byteOut(out, 0xF0 | (cp >> 18));
                byteOut(out, 0x80 | ((cp >> 12) & 0x3F));
                byteOut(out, 0x80 | ((cp >> 6) & 0x3F));
                byteOut(out, 0x80 | (cp & 0x3F));
            } else { // the rest of the BMP, and lone surrogates (WTF-8)
                byteOut(out, 0xE0 | (c >> 12));
                byteOut(out, 0x80 | ((c >> 6) & 0x3F));
                byteOut(out, 0x80 | (c & 0x3F));
            }
        }
        return out.toString();
    }

    private static boolean isPlain(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || c == '.' || c == '_' || c == '-';
    }

    private static void byteOut(StringBuilder out, int b) {
        out.append('%').append(HEX[(b >> 4) & 0xF]).append(HEX[b & 0xF]);
    }
}
