package io.distkit.lock.redis.internal;

import java.util.HashMap;
import java.util.Map;

/** The reply of Redis {@code INFO}, read as its {@code field:value} lines. */
public final class ServerInfo {

    private ServerInfo() {}

    /** Every {@code field:value} line of an {@code INFO} reply; section headers and blank lines are skipped. */
    public static Map<String, String> parse(String text) {
        Map<String, String> fields = new HashMap<>();
        for (String line : text.split("\r?\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && !line.startsWith("#")) {
                fields.put(line.substring(0, colon), line.substring(colon + 1).strip());
            }
        }
        return fields;
    }
}
