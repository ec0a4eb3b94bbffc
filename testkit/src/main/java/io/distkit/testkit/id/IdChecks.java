package io.distkit.testkit.id;

import io.distkit.id.Segment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The id checker of docs/failures.md (checker 5), over ids that producers acknowledged: returned to a
 * caller, as opposed to requested.
 *
 * <p>A <em>producer</em> is whatever a sequence of ids is attributed to in reports: a generator, one
 * thread of a generator, a process before or after a restart. Each check takes a map from a
 * producer's label to the ids it returned, in the order it returned them, and answers a
 * {@link Result} listing every violation found. The checks never throw because of what they find
 * (only for null arguments); call {@link Result#assertNoViolations()} to fail a test with a
 * readable report.
 *
 * <p>Checks stay cheap on millions of ids: ids are compared in primitive arrays, and only the first
 * {@link #MAX_LISTED} violations of each kind are described in full; the rest are counted.
 */
public final class IdChecks {

    /** How many violations of one kind a single check describes; further ones are only counted. */
    public static final int MAX_LISTED = 20;

    // How many neighbouring ids a non-increasing run shows before eliding the rest.
    private static final int MAX_RUN_VALUES_SHOWN = 6;

    private IdChecks() {}

    /** What a violation breaks. */
    public enum Kind {
        /** One id was returned more than once, by one producer or by several. */
        DUPLICATE,
        /** A producer that promises increasing ids returned an id not above the one before it. */
        NOT_INCREASING,
        /** Two segments of the same tag share ids. */
        SEGMENT_OVERLAP,
        /** After a restart, the first id returned is not above every id acknowledged before it. */
        REWIND_AFTER_RESTART
    }

    /**
     * One violation.
     *
     * @param kind what it breaks
     * @param description the ids, positions and producers involved
     */
    public record Violation(Kind kind, String description) {

        public Violation {
            Objects.requireNonNull(kind, "kind");
            Objects.requireNonNull(description, "description");
        }

        @Override
        public String toString() {
            return kind + ": " + description;
        }
    }

    /**
     * All ids of all producers are distinct. Order does not matter. A duplicate is reported with
     * every producer that returned it and the position in that producer's sequence.
     *
     * @param idsByProducer each producer's acknowledged ids
     */
    public static Result distinct(Map<String, long[]> idsByProducer) {
        Objects.requireNonNull(idsByProducer, "idsByProducer");
        long total = 0;
        for (long[] ids : idsByProducer.values()) {
            total += ids.length;
        }
        if (total > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("too many ids to check at once: " + total);
        }
        long[] all = new long[(int) total];
        int at = 0;
        for (long[] ids : idsByProducer.values()) {
            System.arraycopy(ids, 0, all, at, ids.length);
            at += ids.length;
        }
        Arrays.sort(all);

        // Only the first few duplicated values are traced back to their producers: tracing every one
        // would need a map as large as the input when a broken generator repeats everything.
        long[] listed = new long[MAX_LISTED];
        int listedCount = 0;
        long duplicatedValues = 0;
        for (int i = 1; i < all.length; i++) {
            if (all[i] == all[i - 1] && (i == 1 || all[i - 1] != all[i - 2])) {
                if (listedCount < MAX_LISTED) {
                    listed[listedCount++] = all[i];
                }
                duplicatedValues++;
            }
        }
        Result.Builder result = new Result.Builder();
        if (duplicatedValues == 0) {
            return result.build();
        }
        long[] traced = Arrays.copyOf(listed, listedCount); // ascending, since taken from the sorted array
        List<List<String>> sightings = new ArrayList<>(listedCount);
        for (int i = 0; i < listedCount; i++) {
            sightings.add(new ArrayList<>());
        }
        for (Map.Entry<String, long[]> e : idsByProducer.entrySet()) {
            long[] ids = e.getValue();
            for (int j = 0; j < ids.length; j++) {
                int k = Arrays.binarySearch(traced, ids[j]);
                if (k >= 0) {
                    sightings.get(k).add(e.getKey() + " at #" + j);
                }
            }
        }
        for (int k = 0; k < listedCount; k++) {
            List<String> seen = sightings.get(k);
            result.add(Kind.DUPLICATE, "id " + traced[k] + " returned " + seen.size() + " times: by "
                    + String.join(" and by ", seen));
        }
        result.unlisted(Kind.DUPLICATE, duplicatedValues - listedCount);
        return result.build();
    }

    /**
     * Each producer's ids strictly increase in the order it returned them. Consecutive offending
     * positions are reported together as one run.
     *
     * @param idsByProducer each producer's acknowledged ids, in the order returned
     */
    public static Result strictlyIncreasing(Map<String, long[]> idsByProducer) {
        Objects.requireNonNull(idsByProducer, "idsByProducer");
        Result.Builder result = new Result.Builder();
        for (Map.Entry<String, long[]> e : idsByProducer.entrySet()) {
            long[] ids = e.getValue();
            int i = 1;
            while (i < ids.length) {
                if (ids[i] > ids[i - 1]) {
                    i++;
                    continue;
                }
                int end = i; // last index of the run whose ids fail to rise
                while (end + 1 < ids.length && ids[end + 1] <= ids[end]) {
                    end++;
                }
                result.add(Kind.NOT_INCREASING, e.getKey() + ": ids at #" + (i - 1) + "..#" + end
                        + " do not increase: " + showRun(ids, i - 1, end));
                i = end + 1;
            }
        }
        return result.build();
    }

    /**
     * No two segments of the same tag overlap, whichever allocators returned them (the same
     * allocator included). Every overlapping pair is reported with both allocators and the shared
     * ids.
     *
     * @param segmentsByAllocator each allocator's segments, in any order
     */
    public static Result disjoint(Map<String, ? extends Collection<Segment>> segmentsByAllocator) {
        Objects.requireNonNull(segmentsByAllocator, "segmentsByAllocator");
        record Owned(String allocator, int index, Segment segment) {
            @Override
            public String toString() {
                return segment + " from " + allocator + " (#" + index + ")";
            }
        }
        List<Owned> all = new ArrayList<>();
        segmentsByAllocator.forEach((allocator, segments) -> {
            int index = 0;
            for (Segment s : segments) {
                all.add(new Owned(allocator, index++, Objects.requireNonNull(s, "segment")));
            }
        });
        all.sort(Comparator.comparing((Owned o) -> o.segment().tag())
                .thenComparingLong(o -> o.segment().start())
                .thenComparingLong(o -> o.segment().endExclusive()));

        // Sweep in start order, keeping the segments that are still open at the current start: a new
        // segment overlaps exactly those.
        Result.Builder result = new Result.Builder();
        List<Owned> open = new ArrayList<>();
        for (Owned next : all) {
            Segment s = next.segment();
            open.removeIf(o -> !o.segment().tag().equals(s.tag()) || o.segment().endExclusive() <= s.start());
            for (Owned o : open) {
                long sharedEnd = Math.min(o.segment().endExclusive(), s.endExclusive());
                result.add(Kind.SEGMENT_OVERLAP, o + " overlaps " + next + " on ids [" + s.start() + ", "
                        + sharedEnd + ")");
            }
            open.add(next);
        }
        return result.build();
    }

    /**
     * Same as {@link #disjoint(Map)} for segments of one source, labelled by position.
     *
     * @param segments the segments, in any order
     */
    public static Result disjoint(Collection<Segment> segments) {
        Objects.requireNonNull(segments, "segments");
        return disjoint(Map.of("the allocator", segments));
    }

    /**
     * After a restart (a crash, a process replaced, a generator re-created), the first id returned
     * is above every id acknowledged before the restart, by any producer passed in
     * {@code acknowledgedBefore}.
     *
     * @param acknowledgedBefore the ids acknowledged before the restart, by producer
     * @param restarted the label of the producer after the restart, for the report
     * @param firstIdAfter the first id it returned
     */
    public static Result noRewindAfterRestart(Map<String, long[]> acknowledgedBefore, String restarted,
            long firstIdAfter) {
        Objects.requireNonNull(acknowledgedBefore, "acknowledgedBefore");
        Objects.requireNonNull(restarted, "restarted");
        Result.Builder result = new Result.Builder();
        @Nullable String maxProducer = null;
        int maxIndex = -1;
        long max = Long.MIN_VALUE;
        for (Map.Entry<String, long[]> e : acknowledgedBefore.entrySet()) {
            long[] ids = e.getValue();
            for (int j = 0; j < ids.length; j++) {
                if (maxProducer == null || ids[j] > max) {
                    max = ids[j];
                    maxProducer = e.getKey();
                    maxIndex = j;
                }
            }
        }
        if (maxProducer != null && firstIdAfter <= max) {
            result.add(Kind.REWIND_AFTER_RESTART, "first id " + firstIdAfter + " of " + restarted
                    + " is not above id " + max + " acknowledged before the restart by " + maxProducer
                    + " at #" + maxIndex);
        }
        return result.build();
    }

    /** The ids of several runs, one after the other, as one array: for checking them as one producer's. */
    public static long[] concat(long[]... parts) {
        int n = 0;
        for (long[] p : parts) {
            n += p.length;
        }
        long[] all = new long[n];
        int at = 0;
        for (long[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }

    /**
     * {@link #distinct(Map)} and {@link #strictlyIncreasing(Map)} together: the check for
     * generators that promise increasing ids.
     */
    public static Result distinctAndIncreasing(Map<String, long[]> idsByProducer) {
        return distinct(idsByProducer).and(strictlyIncreasing(idsByProducer));
    }

    private static String showRun(long[] ids, int from, int to) {
        StringBuilder sb = new StringBuilder();
        int shownTo = Math.min(to, from + MAX_RUN_VALUES_SHOWN - 1);
        for (int k = from; k <= shownTo; k++) {
            if (k > from) {
                sb.append(ids[k] < ids[k - 1] ? " > " : " = ");
            }
            sb.append(ids[k]);
        }
        if (shownTo < to) {
            sb.append(" ... (").append(to - shownTo).append(" more)");
        }
        return sb.toString();
    }

    /**
     * What a check found. Immutable. Combine results of several checks with {@link #and(Result)}.
     */
    public static final class Result {

        private final List<Violation> listed;
        private final Map<Kind, Long> unlisted;

        private Result(List<Violation> listed, Map<Kind, Long> unlisted) {
            this.listed = List.copyOf(listed);
            Map<Kind, Long> counts = new EnumMap<>(Kind.class);
            counts.putAll(unlisted);
            this.unlisted = Collections.unmodifiableMap(counts);
        }

        /** A result without violations. */
        public static Result clean() {
            return new Result(List.of(), Map.of());
        }

        /** True when no violation of any kind was found. */
        public boolean isClean() {
            return listed.isEmpty() && unlisted.isEmpty();
        }

        /** The violations described in full: at most {@link #MAX_LISTED} of each kind per check. */
        public List<Violation> violations() {
            return listed;
        }

        /** The violations of one kind described in full. */
        public List<Violation> violations(Kind kind) {
            return listed.stream().filter(v -> v.kind() == kind).toList();
        }

        /** How many violations of {@code kind} were found, described or only counted. */
        public long count(Kind kind) {
            return violations(kind).size() + unlisted.getOrDefault(kind, 0L);
        }

        /** How many violations were found in all, described or only counted. */
        public long totalCount() {
            long n = listed.size();
            for (long u : unlisted.values()) {
                n += u;
            }
            return n;
        }

        /** The violations of this result and of {@code other}. */
        public Result and(Result other) {
            Objects.requireNonNull(other, "other");
            List<Violation> both = new ArrayList<>(listed);
            both.addAll(other.listed);
            Map<Kind, Long> counts = new EnumMap<>(Kind.class);
            counts.putAll(unlisted);
            other.unlisted.forEach((k, n) -> counts.merge(k, n, Long::sum));
            return new Result(both, counts);
        }

        /** A human-readable report: one line per violation, then the counts not described. */
        public String report() {
            if (isClean()) {
                return "no id violations";
            }
            StringBuilder sb = new StringBuilder()
                    .append(totalCount()).append(" id violation(s) (docs/failures.md, checker 5):");
            for (Violation v : listed) {
                sb.append("\n  - ").append(v);
            }
            unlisted.forEach((kind, n) -> sb.append("\n  ... and ").append(n).append(" more ")
                    .append(kind).append(" violation(s) not listed"));
            return sb.toString();
        }

        /**
         * Does nothing when clean.
         *
         * @throws AssertionError carrying {@link #report()} when any violation was found
         */
        public void assertNoViolations() {
            if (!isClean()) {
                throw new AssertionError(report());
            }
        }

        @Override
        public String toString() {
            return report();
        }

        private static final class Builder {
            private final List<Violation> listed = new ArrayList<>();
            private final Map<Kind, Long> unlisted = new LinkedHashMap<>();
            private final Map<Kind, Integer> listedPerKind = new EnumMap<>(Kind.class);

            void add(Kind kind, String description) {
                int n = listedPerKind.merge(kind, 1, Integer::sum);
                if (n <= MAX_LISTED) {
                    listed.add(new Violation(kind, description));
                } else {
                    unlisted(kind, 1);
                }
            }

            void unlisted(Kind kind, long n) {
                if (n > 0) {
                    unlisted.merge(kind, n, Long::sum);
                }
            }

            Result build() {
                return new Result(listed, unlisted);
            }
        }
    }
}
