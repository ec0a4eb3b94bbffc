package io.distkit.lock.redlock;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * One command sent to several nodes at once. The round is over as soon as its answers decide the question
 * (a quorum granted, or can no longer grant), or when every node answered; answers arriving after that are
 * not looked at, but their commands still ran.
 */
final class Round {

    private Round() {}

    /**
     * One node's answer: its reply or failure, and whether the reply counts as the node's vote
     * ({@link RedlockNode#counts}).
     */
    record Answer<T>(RedlockNode node, @Nullable T value, @Nullable Throwable failure, boolean vote) {

        boolean replied() {
            return failure == null;
        }
    }

    /**
     * Sends {@code call} to every node of {@code targets} at once. The stage completes with the answers so
     * far (null for a node still silent) once {@code decided} holds for them, or once all answered.
     *
     * @param decided looks at the answers so far; called under the round's monitor, must be quick
     */
    static <T> CompletableFuture<List<@Nullable Answer<T>>> of(List<RedlockNode> targets,
            Function<RedlockNode, CompletableFuture<T>> call, Predicate<List<@Nullable Answer<T>>> decided) {
        int n = targets.size();
        @SuppressWarnings("unchecked")
        Answer<T>[] answers = new Answer[n];
        CompletableFuture<List<@Nullable Answer<T>>> out = new CompletableFuture<>();
        int[] left = {n};
        boolean[] over = {false};
        if (n == 0) {
            out.complete(List.of());
            return out;
        }
        // every command is sent before any answer is looked at: an answer that decides the round at once (a
        // node failing on the spot) must not start a release before the acquire went to the other nodes
        List<CompletableFuture<T>> sent = new ArrayList<>(n);
        long[] epochs = new long[n];
        for (int i = 0; i < n; i++) {
            RedlockNode node = targets.get(i);
            epochs[i] = node.epoch();
            CompletableFuture<T> command;
            try {
                command = call.apply(node);
            } catch (RuntimeException e) {
                command = CompletableFuture.failedFuture(e);
            }
            sent.add(command);
        }
        for (int i = 0; i < n; i++) {
            int index = i;
            RedlockNode node = targets.get(i);
            long epoch = epochs[i];
            sent.get(i).whenComplete((value, failure) -> {
                Answer<T> answer = new Answer<>(node, value, failure, failure == null && node.counts(epoch));
                List<@Nullable Answer<T>> result = null;
                synchronized (answers) {
                    answers[index] = answer;
                    left[0]--;
                    if (!over[0]) {
                        List<@Nullable Answer<T>> view = Collections.unmodifiableList(Arrays.asList(answers.clone()));
                        if (left[0] == 0 || decided.test(view)) {
                            over[0] = true;
                            result = view;
                        }
                    }
                }
                if (result != null) {
                    out.complete(result);
                }
            });
        }
        return out;
    }

    /** Counts the answers that satisfy {@code test}; silent nodes never do. */
    static <T> int count(List<@Nullable Answer<T>> answers, Predicate<Answer<T>> test) {
        int count = 0;
        for (Answer<T> answer : answers) {
            if (answer != null && test.test(answer)) {
                count++;
            }
        }
        return count;
    }
}
