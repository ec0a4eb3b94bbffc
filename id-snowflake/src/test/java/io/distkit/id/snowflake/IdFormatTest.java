package io.distkit.id.snowflake;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class IdFormatTest {

    @ParameterizedTest(name = "{0} <-> {1}")
    @CsvSource({
        "0, 0000000000000",
        "1, 0000000000001",
        "31, 000000000000Z",
        "32, 0000000000010",
        "1234567890, 00000014SC0PJ",
        "9007199254740991, 007ZZZZZZZZZZ",
        "9223372036854775807, 7ZZZZZZZZZZZZ",
    })
    void formatsKnownValuesAndParsesThemBack(long id, String text) {
        assertThat(IdFormat.format(id)).isEqualTo(text).hasSize(IdFormat.LENGTH);
        assertThat(IdFormat.parse(text)).isEqualTo(id);
    }

    @Test
    void roundTripIsExactAndStringOrderIsNumericOrder() {
        Random random = new Random(20_261_125);
        long previous = 0;
        String previousText = IdFormat.format(0);
        for (int i = 0; i < 100_000; i++) {
            // every magnitude, not only huge values: shift a random long right by 0..62 bits
            long id = (random.nextLong() >>> 1) >>> random.nextInt(63);
            String text = IdFormat.format(id);
            assertThat(IdFormat.parse(text)).isEqualTo(id);
            assertThat(Integer.signum(text.compareTo(previousText)))
                    .as("%s vs %s", id, previous)
                    .isEqualTo(Long.signum(Long.compare(id, previous)));
            previous = id;
            previousText = text;
        }
    }

    @Test
    void parsingAcceptsLowerCaseAndCrockfordsAliases() {
        assertThat(IdFormat.parse("7zzzzzzzzzzzz")).isEqualTo(Long.MAX_VALUE);
        assertThat(IdFormat.parse("00000014sc0pj")).isEqualTo(1234567890L);
        assertThat(IdFormat.parse("0000000000I0L")).isEqualTo(IdFormat.parse("0000000000101"));
        assertThat(IdFormat.parse("0000000000i0l")).isEqualTo(IdFormat.parse("0000000000101"));
        assertThat(IdFormat.parse("OOOOOOOOOOOOo")).isZero();
    }

    @Test
    void formatRefusesNegativeIds() {
        assertThatIllegalArgumentException().isThrownBy(() -> IdFormat.format(-1)).withMessage("id must not be negative, was -1");
        assertThatIllegalArgumentException().isThrownBy(() -> IdFormat.format(Long.MIN_VALUE))
                .withMessageEndingWith("was -9223372036854775808");
    }

    @ParameterizedTest(name = "\"{0}\"")
    @ValueSource(strings = {"", "000000000000", "00000000000000", "7ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"})
    void wrongLengthsAreRefused(String text) {
        assertThatIllegalArgumentException()
                .isThrownBy(() -> IdFormat.parse(text))
                .withMessageStartingWith("id text must be 13 characters of Crockford base32, was " + text.length() + ": '");
    }

    @Test
    void aLongTextIsQuotedOnlyInPart() {
        assertThatIllegalArgumentException()
                .isThrownBy(() -> IdFormat.parse("Z".repeat(100)))
                .withMessage("id text must be 13 characters of Crockford base32, was 100: '" + "Z".repeat(40)
                        + "...' (100 characters)");
    }

    @ParameterizedTest(name = "\"{0}\"")
    @CsvSource(delimiter = '|', value = {
        "000000000U000|'U' at index 9",
        "u000000000000|'u' at index 0",
        "00000-0000000|'-' at index 5",
        "000000000000é|'é' at index 12",
        "+000000000001|'+' at index 0",
    })
    void charactersOutsideTheAlphabetAreRefusedWithTheirPosition(String text, String where) {
        assertThatIllegalArgumentException()
                .isThrownBy(() -> IdFormat.parse(text))
                .withMessage("id text '" + text + "' has character " + where + ", which is not Crockford base32 (0-9"
                        + " and A-Z without U, either case; I and L read as 1, O as 0)");
    }

    @Test
    void whitespaceIsNamedByItsCodePoint() {
        assertThatIllegalArgumentException()
                .isThrownBy(() -> IdFormat.parse(" 000000000001"))
                .withMessageContaining("has character U+0020 at index 0");
    }

    @ParameterizedTest(name = "\"{0}\"")
    @ValueSource(strings = {"8000000000000", "ZZZZZZZZZZZZZ", "G000000000000"})
    void valuesAboveLongMaxValueAreRefused(String text) {
        assertThatIllegalArgumentException()
                .isThrownBy(() -> IdFormat.parse(text))
                .withMessage("id text '" + text + "' is above the largest id 7ZZZZZZZZZZZZ (Long.MAX_VALUE): its first"
                        + " character must be 0-7");
    }

    @Test
    void nullIsRefusedByName() {
        assertThatNullPointerException().isThrownBy(() -> IdFormat.parse(null)).withMessage("text");
    }
}
