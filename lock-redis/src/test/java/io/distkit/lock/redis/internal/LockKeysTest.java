package io.distkit.lock.redis.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.lock.redis.RedisLockClient;
import io.distkit.testkit.server.RedisCluster;
import io.lettuce.core.cluster.SlotHash;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The key encoding: injective, confined to its hash tag and prefix, one slot per lock. */
class LockKeysTest {

    private static final String PREFIX = RedisLockClient.DEFAULT_KEY_PREFIX;

    private static final List<String> TRICKY = List.of(
            "a", "A", "a ", " a", "a b", "a\tb", "a\nb", "a+b", "a%20b", "a%2Fb", "a/b",
            "{", "}", "{}", "a{b}", "a}b{", "{a}", "}{", "{{a}}", "a:b", "a::b", ":", "a%3Ab", "a%3ab",
            "%", "%%", "%25", "%2525", "a.b", "a_b", "a-b", "a*b", "a?b", "?", "..", ".",
            "é", "e\u0301", "É", "日本", "ключ", "emoji-\uD83D\uDE00", "\uD83D\uDE00",
            "\uD83D", "\uDE00", "\uDE00\uD83D", "a\uD800", "a?", "a\uFFFD", "\u0000", "\u007F",
            "x".repeat(200), "x".repeat(199) + "y", "{".repeat(200), "%".repeat(200), "\uD83D\uDE00".repeat(100));

    @Test
    @DisplayName("tricky names encode to distinct keys made of [A-Za-z0-9._%-] only")
    void encodingIsInjectiveOnTrickyNames() {
        Map<String, String> seen = new HashMap<>();
        for (String name : TRICKY) {
            String encoded = LockKeys.encode(name);
            assertThat(encoded).as("encoding of %s", name).matches("[A-Za-z0-9._%-]+");
            String before = seen.put(encoded, name);
            assertThat(before).as("%s and %s share the encoding %s", before, name, encoded).isNull();
        }
    }

    @Test
    @DisplayName("the encoding decodes back to the name (UTF-8, and WTF-8 for lone surrogates), so it is injective")
    void encodingRoundTrips() {
        Random random = new Random(42);
        System.out.println("seed 42");
        char[] alphabet = "aZ09._-{}:% /\u00e9\u65e5\uD83D\uDE00\uD800\uFFFD?".toCharArray();
        List<String> names = new ArrayList<>(TRICKY);
        for (int i = 0; i < 20_000; i++) {
            StringBuilder name = new StringBuilder();
            int length = 1 + random.nextInt(12);
            for (int j = 0; j < length; j++) {
                name.append(alphabet[random.nextInt(alphabet.length)]);
            }
            names.add(name.toString());
        }
        Map<String, String> seen = new HashMap<>();
        for (String name : names) {
            String encoded = LockKeys.encode(name);
            assertThat(decode(encoded)).as("decoded %s", encoded).isEqualTo(name);
            String before = seen.putIfAbsent(encoded, name);
            assertThat(before == null || before.equals(name)).as("%s and %s collide", before, name).isTrue();
        }
    }

    @Test
    @DisplayName("lock, fence and channel share one hash tag and one slot; no second brace; the prefix is kept")
    void keysStayInOneSlotAndTheirTag() {
        for (String name : TRICKY) {
            LockKeys keys = LockKeys.of(PREFIX, name);
            String tag = "{" + LockKeys.encode(name) + "}";
            assertThat(keys.lock()).isEqualTo(PREFIX + tag).isEqualTo(LockKeys.lockKey(PREFIX, name));
            assertThat(keys.fence()).isEqualTo(keys.lock() + ":fence");
            assertThat(keys.channel()).isEqualTo(keys.lock() + ":released");
            int slot = RedisCluster.slot(keys.lock());
            assertThat(RedisCluster.slot(keys.fence())).isEqualTo(slot);
            assertThat(RedisCluster.slot(keys.channel())).isEqualTo(slot);
            assertThat(RedisCluster.slot(tag)).isEqualTo(slot);
            assertThat(SlotHash.getSlot(keys.lock())).as("Lettuce's routing agrees").isEqualTo(slot);
            for (String key : List.of(keys.lock(), keys.fence(), keys.channel())) {
                assertThat(key.chars().filter(c -> c == '{').count()).as(key).isEqualTo(1);
                assertThat(key.chars().filter(c -> c == '}').count()).as(key).isEqualTo(1);
                assertThat(key).startsWith(PREFIX + "{");
            }
        }
    }

    @Test
    @DisplayName("names that differ only in case, separators or escapes land on different keys")
    void lookAlikesDiffer() {
        assertThat(LockKeys.encode("a:b")).isNotEqualTo(LockKeys.encode("a%3Ab"));
        assertThat(LockKeys.encode("a%3Ab")).isEqualTo("a%253Ab");
        assertThat(LockKeys.encode("a\uD800")).isEqualTo("a%ED%A0%80").isNotEqualTo(LockKeys.encode("a?"));
        assertThat(LockKeys.encode("\uD83D\uDE00")).isEqualTo("%F0%9F%98%80");
        assertThat(LockKeys.lockKey("p:", "x}y")).isEqualTo("p:{x%7Dy}");
    }

    /** Percent-decoding into bytes, then WTF-8 decoding (lone surrogates allowed). */
    private static String decode(String encoded) {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < encoded.length(); i++) {
            char c = encoded.charAt(i);
            if (c == '%') {
                bytes.write(Integer.parseInt(encoded.substring(i + 1, i + 3), 16));
                i += 2;
            } else {
                bytes.write(c);
            }
        }
        byte[] b = bytes.toByteArray();
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < b.length;) {
            int lead = b[i] & 0xFF;
            if (lead < 0x80) {
                out.append((char) lead);
                i += 1;
            } else if (lead < 0xE0) {
                out.append((char) (((lead & 0x1F) << 6) | (b[i + 1] & 0x3F)));
                i += 2;
            } else if (lead < 0xF0) {
                out.append((char) (((lead & 0x0F) << 12) | ((b[i + 1] & 0x3F) << 6) | (b[i + 2] & 0x3F)));
                i += 3;
            } else {
                int cp = ((lead & 0x07) << 18) | ((b[i + 1] & 0x3F) << 12) | ((b[i + 2] & 0x3F) << 6) | (b[i + 3] & 0x3F);
                out.appendCodePoint(cp);
                i += 4;
            }
        }
        return out.toString();
    }
}
