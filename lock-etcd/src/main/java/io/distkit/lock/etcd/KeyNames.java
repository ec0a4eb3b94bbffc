package io.distkit.lock.etcd;

import io.etcd.jetcd.ByteSequence;
import java.util.BitSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The names of the keys a client puts, {@code <queue side><client tag>/<slot>}, reused once a key is known
 * gone. etcd keeps an index entry for every key name under a prefix until the next compaction, deleted or
 * not, and visits all of them on every range read of that prefix: with a new name per acquisition, an
 * uncontended acquire would get slower with every acquire since the last compaction (clusters without
 * auto-compaction never compact). With reuse, a lock's prefix holds about as many names as acquisitions
 * were ever at once in it per client.
 *
 * <p>A name is taken for one acquisition and given back at most once, when its key is known gone: deleted
 * by a reply that said so, or gone with its session's lease. A name whose key may still exist (a delete
 * that failed, a put whose reply was lost) stays taken until that is settled. So a put-if-absent on a name
 * can only find a key the same acquisition put earlier.
 */
final class KeyNames {

    /** One key name; {@link #bytes} is the key. */
    static final class KeyName {
        final ByteSequence bytes;
        final Session session;
        private final ByteSequence side;
        private final int slot;
        private final AtomicBoolean givenBack = new AtomicBoolean();

        private KeyName(ByteSequence bytes, Session session, ByteSequence side, int slot) {
            this.bytes = bytes;
            this.session = session;
            this.side = side;
            this.slot = slot;
        }

        @Override
        public String toString() {
            return bytes.toString();
        }
    }

    /** Tells this client's names from other clients' under the same prefix. */
    private final String tag = Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1);
    /** The slots taken per queue side. */
    private final Map<ByteSequence, BitSet> taken = new ConcurrentHashMap<>();
    /** The names taken per session, given back together when the session ends (its keys went with it). */
    private final Map<Session, Set<KeyName>> bySession = new ConcurrentHashMap<>();

    /** The lowest free name under {@code side}, for a key put with {@code session}'s lease. */
    KeyName take(ByteSequence side, Session session) {
        int[] slot = new int[1];
        taken.compute(side, (s, used) -> {
            BitSet slots = used == null ? new BitSet() : used;
            slot[0] = slots.nextClearBit(0);
            slots.set(slot[0]);
            return slots;
        });
        KeyName name = new KeyName(side.concat(EtcdLockBackend.bytes(tag + "/" + slot[0])), session, side, slot[0]);
        bySession.computeIfAbsent(session, s -> ConcurrentHashMap.newKeySet()).add(name);
        if (session.isDead()) {
            sessionEnded(session); // ended meanwhile: the name is free again, and no put with that lease can succeed
        }
        return name;
    }

    /** The key of {@code name} is known gone: the name may be taken again. Once per name; later calls do nothing. */
    void giveBack(KeyName name) {
        if (!name.givenBack.compareAndSet(false, true)) {
            return;
        }
        taken.computeIfPresent(name.side, (s, slots) -> {
            slots.clear(name.slot);
            return slots.isEmpty() ? null : slots;
        });
        bySession.computeIfPresent(name.session, (s, names) -> {
            names.remove(name);
            return names.isEmpty() ? null : names;
        });
    }

    /** The session's lease is gone, and every key put with it: all its names are free. */
    void sessionEnded(Session session) {
        Set<KeyName> names = bySession.remove(session);
        if (names != null) {
            names.forEach(this::giveBack);
        }
    }

    /** How many names are taken now, for tests. */
    int takenCount() {
        return taken.values().stream().mapToInt(BitSet::cardinality).sum();
    }
}
