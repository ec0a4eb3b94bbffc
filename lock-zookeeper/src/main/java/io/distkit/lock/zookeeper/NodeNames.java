package io.distkit.lock.zookeeper;

import io.distkit.lock.spi.LockMode;
import java.util.Locale;
import org.apache.curator.framework.imps.ProtectedUtils;
import org.jspecify.annotations.Nullable;

/**
 * How lock names and acquisitions map to ZooKeeper paths.
 *
 * <p>A lock is a persistent directory {@code <basePath>/<encoded name>} (the plain lock) or {@code
 * <basePath>/<encoded name>%rw} (the read-write lock of that name), whose children are the ephemeral
 * sequential nodes of its holders and waiters: {@code _c_<guid>-<kind>-<encoded owner>-<sequence>}, where
 * the {@code _c_<guid>-} prefix is Curator's protection, {@code kind} is {@code lock}, {@code read} or
 * {@code write}, and the owner is the acquisition's owner value, so that an acquisition finds its node by
 * owner value even when the reply to its create was lost. The sequence, ZooKeeper's per-directory 32-bit
 * counter, orders the queue, in serial-number order across its wrap ({@link #precedes}).
 *
 * <p>The encoding is one to one and its output is a single legal path element: {@code '%'} and {@code '/'}
 * are percent-encoded, as are the UTF-16 units ZooKeeper refuses in paths (surrogates, the private use area,
 * U+FFF0 to U+FFFF) as {@code %uXXXX}, and a name of only {@code "."} or {@code ".."} has its dots encoded.
 * Every {@code '%'} of an encoded name starts an escape ({@code %25}, {@code %2F}, {@code %2E}, {@code %u}), so
 * {@code %rw} never ends an encoded name and the read-write directory of a name is no plain lock's.
 */
final class NodeNames {

    /** The digits ZooKeeper appends to a sequential node's name. */
    static final int SEQUENCE_DIGITS = 10;

    private NodeNames() {}

    /** The lock name (or owner value) as one legal ZooKeeper path element; injective. */
    static String encode(String name) {
        if (name.equals(".") || name.equals("..")) {
            return name.replace(".", "%2E");
        }
        StringBuilder out = new StringBuilder(name.length() + 8);
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c == '%') {
                out.append("%25");
            } else if (c == '/') {
                out.append("%2F");
            } else if ((c >= '\ud800' && c <= '\uf8ff') || c >= '\ufff0' || c == 0) {
                out.append("%u").append(String.format(Locale.ROOT, "%04X", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    /** The directory of the lock's queue: the plain lock's, or the read-write lock's. */
    static String directory(String basePath, String name, LockMode mode) {
        return basePath + "/" + encode(name) + (mode == LockMode.EXCLUSIVE ? "" : "%rw");
    }

    /** What a node's name starts with (after the protection prefix) for this mode. */
    static String kind(LockMode mode) {
        return switch (mode) {
            case EXCLUSIVE -> "lock-";
            case READ -> "read-";
            case WRITE -> "write-";
        };
    }

    /** The path an acquisition creates under (ZooKeeper appends the sequence, Curator prefixes the protection). */
    static String createPath(String directory, LockMode mode, String owner) {
        return directory + "/" + kind(mode) + encode(owner) + "-";
    }

    /** One child of a lock directory, parsed; null for a node this library did not create. */
    static @Nullable Node parse(String child) {
        String plain = ProtectedUtils.normalize(child);
        if (plain.length() <= SEQUENCE_DIGITS) {
            return null;
        }
        LockMode mode;
        if (plain.startsWith("lock-")) {
            mode = LockMode.EXCLUSIVE;
        } else if (plain.startsWith("read-")) {
            mode = LockMode.READ;
        } else if (plain.startsWith("write-")) {
            mode = LockMode.WRITE;
        } else {
            return null;
        }
        int ownerStart = kind(mode).length();
        // ZooKeeper formats the parent's signed 32-bit counter with %010d: ten characters, or eleven for
        // -2147483648 to -1000000000 once the counter has wrapped (a directory is never deleted, so a busy lock
        // gets there: 2^31 acquisitions)
        int digits = plain.length() > SEQUENCE_DIGITS + 1 && plain.charAt(plain.length() - SEQUENCE_DIGITS - 1) == '-'
                && plain.charAt(plain.length() - SEQUENCE_DIGITS - 2) == '-' && allDigits(plain, plain.length()
                        - SEQUENCE_DIGITS) ? SEQUENCE_DIGITS + 1 : SEQUENCE_DIGITS;
        int ownerEnd = plain.length() - digits - 1;
        if (ownerEnd < ownerStart || plain.charAt(ownerEnd) != '-') {
            return null;
        }
        long sequence;
        try {
            sequence = Integer.parseInt(plain.substring(plain.length() - digits));
        } catch (NumberFormatException e) {
            return null;
        }
        return new Node(child, mode, plain.substring(ownerStart, ownerEnd), sequence);
    }

    private static boolean allDigits(String s, int from) {
        for (int i = from; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    /**
     * Whether sequence {@code a} was handed out before {@code b} in one directory. ZooKeeper's counter wraps from
     * 2147483647 to -2147483648, so the order is the counter's serial-number order (the difference taken modulo
     * 2^32), not the numbers' order: exact while the nodes alive in a directory at once span fewer than 2^31
     * creations, which a queue never does.
     */
    static boolean precedes(long a, long b) {
        return (int) (a - b) < 0;
    }

    /**
     * A parsed child.
     *
     * @param child the node's name as ZooKeeper lists it
     * @param encodedOwner the encoded owner value of the acquisition that created it
     */
    record Node(String child, LockMode mode, String encodedOwner, long sequence) {}
}
