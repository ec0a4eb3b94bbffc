package io.distkit.id.backends.jdbc;

import io.distkit.id.Segment;
import io.distkit.testkit.id.IdChecks;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The checks the allocator tests make on the ranges they were handed, by producer (a thread, a process):
 * no two overlap ({@link IdChecks#disjoint}, a sweep in start order) and no id is in two of them
 * ({@link IdChecks#distinct} over every id); each producer's ranges ascend; and, where nothing failed, the
 * ranges tile {@code [first, end)} exactly: sorted by start, each begins where the one before ends.
 */
final class SegmentRanges {

    private SegmentRanges() {}

    /** Overlaps and repeated ids, as the testkit's checker finds them. */
    static IdChecks.Result overlaps(Map<String, List<Segment>> byProducer) {
        Map<String, long[]> ids = new LinkedHashMap<>();
        byProducer.forEach((producer, segments) -> ids.put(producer, ids(segments)));
        return IdChecks.disjoint(byProducer).and(IdChecks.distinct(ids));
    }

    /** Every id of the ranges, in order. */
    static long[] ids(List<Segment> segments) {
        long[] ids = new long[Math.toIntExact(segments.stream().mapToLong(Segment::size).sum())];
        int at = 0;
        for (Segment s : segments) {
            for (long id = s.start(); id < s.endExclusive(); id++) {
                ids[at++] = id;
            }
        }
        return ids;
    }

    /** The producers whose ranges do not ascend in the order they got them, described; empty if none. */
    static List<String> notAscending(Map<String, List<Segment>> byProducer) {
        List<String> problems = new ArrayList<>();
        byProducer.forEach((producer, segments) -> {
            for (int i = 1; i < segments.size(); i++) {
                if (segments.get(i).start() < segments.get(i - 1).endExclusive()) {
                    problems.add(producer + ": " + segments.get(i) + " (#" + i + ") after " + segments.get(i - 1));
                }
            }
        });
        return problems;
    }

    /**
     * Where the ranges, sorted by start, fail to tile {@code [first, end)}: a gap or an overlap between
     * neighbours, or the wrong ends; empty if they tile it exactly.
     */
    static List<String> tilingProblems(Map<String, List<Segment>> byProducer, long first, long end) {
        List<Segment> all = new ArrayList<>();
        byProducer.values().forEach(all::addAll);
        all.sort(Comparator.comparingLong(Segment::start).thenComparingLong(Segment::endExclusive));
        List<String> problems = new ArrayList<>();
        long expected = first;
        for (Segment s : all) {
            if (s.start() != expected) {
                problems.add(s + " starts at " + s.start() + ", expected " + expected
                        + (s.start() < expected ? " (overlap)" : " (gap)"));
            }
            expected = Math.max(expected, s.endExclusive());
        }
        if (expected != end) {
            problems.add("the ranges end at " + expected + ", expected " + end);
        }
        return problems;
    }
}
