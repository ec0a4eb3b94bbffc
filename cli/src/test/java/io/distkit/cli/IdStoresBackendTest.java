package io.distkit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.testkit.server.RedisServer;
import io.distkit.testkit.server.RedisServer.Persistence;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code distkit id} on the stores other than a database, found through their URI schemes. */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class IdStoresBackendTest {

    @RegisterExtension
    static final RedisServer REDIS = RedisServer.builder().persistence(Persistence.AOF_ALWAYS).build();
    @RegisterExtension
    static final RedisServer VOLATILE = RedisServer.builder().persistence(Persistence.NONE).build();

    /**
     * On a fresh store at {@code uri}: counter ids, two segments of one tag in sequence from 1, snowflake ids, and
     * a demo that takes its ids from the store.
     */
    static void idsOfEveryKindComeFrom(String uri) {
        long[] counted = ids(Cli.run("id", "--backend", uri, "--kind", "counter", "--tag", "invoice",
                "--count", "3"));
        assertThat(counted).hasSize(3).doesNotHaveDuplicates().isSorted();
        long[] segment = ids(Cli.run("id", "--backend", uri, "--kind", "segment", "--tag", "order",
                "--count", "5"));
        assertThat(segment).containsExactly(1, 2, 3, 4, 5);
        long[] again = ids(Cli.run("id", "--backend", uri, "--kind", "segment", "--tag", "order"));
        assertThat(again).containsExactly(6);
        long[] snowflakes = ids(Cli.run("id", "--backend", uri, "--kind", "snowflake", "--count", "1000"));
        assertThat(snowflakes).hasSize(1000).doesNotHaveDuplicates().isSorted();
        Cli.Result demo = Cli.run("demo", "--backend", uri, "--duration", "1s", "--ids", "10000", "--workers", "2");
        assertThat(demo.out()).as("%s", demo).contains("leased from the backend").contains("ranges from the backend");
    }

    static long[] ids(Cli.Result r) {
        assertThat(r.code()).as("%s", r).isZero();
        return Arrays.stream(r.out().strip().split("\n")).mapToLong(Long::parseLong).toArray();
    }

    @Test
    void everyKindRunsOnRedis() {
        long[] counted = ids(Cli.run("id", "--backend", REDIS.uri(), "--kind", "counter", "--tag", "invoice", "--count", "3"));
        assertThat(counted).containsExactly(1, 2, 3);
        long[] segment = ids(Cli.run("id", "--backend", REDIS.uri(), "--kind", "segment", "--tag", "invoice", "--count", "5"));
        assertThat(segment).as("the counter and the segments of a tag share one sequence").containsExactly(4, 5, 6, 7, 8);
        long[] more = ids(Cli.run("id", "--backend", REDIS.uri(), "--kind", "counter", "--tag", "invoice"));
        assertThat(more).containsExactly(9);
        long[] snowflakes = ids(Cli.run("id", "--backend", REDIS.uri(), "--kind", "snowflake", "--count", "1000"));
        assertThat(snowflakes).hasSize(1000).doesNotHaveDuplicates().isSorted();
    }

    @Test
    void aRedisThatCouldRewindIsRefusedWithWhatToDo() {
        Cli.Result r = Cli.run("id", "--backend", VOLATILE.uri(), "--kind", "counter");
        assertThat(r.code()).as("%s", r).isEqualTo(1);
        assertThat(r.errLines()).as("%s", r).singleElement().asString().contains("appendfsync always");

        long[] accepted = ids(Cli.run("id", "--backend", VOLATILE.uri() + "?rewindGuard=none", "--kind", "counter"));
        assertThat(accepted).containsExactly(1);
    }
}
