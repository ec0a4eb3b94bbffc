package io.distkit.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.id.snowflake.IdFormat;
import io.distkit.id.snowflake.SnowflakeLayout;
import java.util.List;
import org.junit.jupiter.api.Test;

class IdCommandTest {

    private final String db = Cli.h2Url();

    @Test
    void snowflakePrintsTheCountAskedForAllDistinctAndIncreasing() {
        Cli.Result r = Cli.run("id", "--backend", db, "--kind", "snowflake", "--count", "5000");

        assertThat(r.code()).as("%s", r).isZero();
        List<Long> ids = r.outLines().stream().map(Long::parseLong).toList();
        assertThat(ids).hasSize(5000).doesNotHaveDuplicates().isSorted();
        assertThat(SnowflakeLayout.TWITTER.decode(ids.get(0)).worker()).isZero(); // the first worker id leased
    }

    @Test
    void secondSnowflakeRunOnTheSameDatabaseContinuesAboveTheFirst() {
        List<String> first = Cli.run("id", "--backend", db, "--kind", "snowflake", "--count", "100").outLines();
        List<String> second = Cli.run("id", "--backend", db, "--kind", "snowflake", "--count", "100").outLines();

        assertThat(second).hasSize(100);
        assertThat(Long.parseLong(second.get(0))).isGreaterThan(Long.parseLong(first.get(99)));
    }

    @Test
    void segmentPrintsConsecutiveIdsAndTheNextRunStartsAfterThem() {
        Cli.Result first = Cli.run("id", "--backend", db, "--kind", "segment", "--tag", "order", "--count", "50");
        Cli.Result second = Cli.run("id", "--backend", db, "--kind", "segment", "--tag", "order", "--count", "3");
        Cli.Result other = Cli.run("id", "--backend", db, "--kind", "segment", "--tag", "invoice", "--count", "2");

        assertThat(first.code()).as("%s", first).isZero();
        assertThat(first.outLines()).hasSize(50).doesNotHaveDuplicates().first().isEqualTo("1");
        assertThat(first.outLines()).last().isEqualTo("50");
        assertThat(second.outLines()).containsExactly("51", "52", "53");
        assertThat(other.outLines()).containsExactly("1", "2");
    }

    @Test
    void base32PrintsThirteenCharactersThatParseBackToDistinctIds() {
        Cli.Result r = Cli.run("id", "--kind", "snowflake", "--worker-id", "7", "--count", "20", "--format", "base32");

        assertThat(r.code()).as("%s", r).isZero();
        assertThat(r.outLines()).hasSize(20).doesNotHaveDuplicates().allMatch(line -> line.length() == IdFormat.LENGTH);
        assertThat(r.outLines().stream().map(IdFormat::parse).map(SnowflakeLayout.TWITTER::decode))
                .allMatch(d -> d.worker() == 7);
    }

    @Test
    void decodeShowsTimeWorkerAndSequenceOfDecimalAndBase32Ids() {
        long id = SnowflakeLayout.TWITTER.encode(1_000_000_000L, 5, 17);
        String expectedTime = SnowflakeLayout.TWITTER.instantOf(1_000_000_000L).toString();

        Cli.Result decimal = Cli.run("id", "decode", Long.toString(id));
        Cli.Result base32 = Cli.run("id", "decode", IdFormat.format(id), "--layout", "twitter");

        assertThat(decimal.code()).as("%s", decimal).isZero();
        assertThat(decimal.outLines()).containsExactly(
                "id        " + id + " (base32 " + IdFormat.format(id) + ")",
                "time      " + expectedTime,
                "worker    5",
                "sequence  17");
        assertThat(base32.out()).isEqualTo(decimal.out());
    }

    @Test
    void decodeUsesTheLayoutAskedFor() {
        long id = SnowflakeLayout.JS_SAFE.encode(12_345, 3, 9);

        Cli.Result r = Cli.run("id", "decode", "--layout", "js-safe", Long.toString(id));

        assertThat(r.code()).as("%s", r).isZero();
        assertThat(r.out()).contains("worker    3", "sequence  9");
    }
}
