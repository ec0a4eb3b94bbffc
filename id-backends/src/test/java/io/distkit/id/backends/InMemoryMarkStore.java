package io.distkit.id.backends;

import java.util.HashMap;
import java.util.Map;
import java.util.OptionalLong;

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

    synchronized long mark(String lockName) {
        Mark mark = marks.get(lockName);
        return mark == null ? 0 : mark.timestamp();
    }
}
