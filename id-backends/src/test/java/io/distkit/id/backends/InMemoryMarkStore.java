package io.distkit.id.backends;

import java.util.HashMap;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;

/** A {@link WorkerMarkStore} in a map, fenced as the SPI asks: the highest token heard from wins. */
final class InMemoryMarkStore implements WorkerMarkStore {

    private record Mark(long token, long timestamp) {}

    private final Map<String, Mark> marks = new HashMap<>();

    @Override
    public String source() {
        return "memory";
    }

    @Override
    public String describe() {
        return "marks in memory";
    }

    @Override
    public synchronized OptionalLong read(String lockName, long fencingToken) {
        Mark mark = marks.getOrDefault(lockName, new Mark(Long.MIN_VALUE, 0));
        if (mark.token() > fencingToken) {
            return OptionalLong.empty();
        }
        marks.put(lockName, new Mark(fencingToken, mark.timestamp()));
        return OptionalLong.of(mark.timestamp());
    }

    @Override
    public synchronized boolean save(String lockName, long fencingToken, long timestamp) {
        Mark mark = marks.getOrDefault(lockName, new Mark(Long.MIN_VALUE, 0));
        if (mark.token() > fencingToken) {
            return false;
        }
        marks.put(lockName, new Mark(fencingToken, Math.max(mark.timestamp(), timestamp)));
        return true;
    }

    private volatile Set<String> held = Set.of();

    /** What {@link #heldLockNames} answers from now on: a hint, right or stale. */
    void reportHeld(Set<String> names) {
        held = Set.copyOf(names);
    }

    @Override
    public Set<String> heldLockNames(String namePrefix) {
        return held;
    }

    synchronized long mark(String lockName) {
        Mark mark = marks.get(lockName);
        return mark == null ? 0 : mark.timestamp();
    }
}
