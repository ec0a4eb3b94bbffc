package io.distkit.lock.etcd;

import static org.assertj.core.api.Assertions.assertThat;

import io.distkit.lock.etcd.KeyNames.KeyName;
import io.etcd.jetcd.ByteSequence;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Key names are reused only once their keys are known gone, and given back at most once. */
class KeyNamesTest {

    private final KeyNames names = new KeyNames();
    private final ByteSequence side = ByteSequence.from("distkit/lock/a/", StandardCharsets.UTF_8);
    private final Session session = new Session(0x1f, 30, true, System.nanoTime());

    @Test
    void theLowestFreeSlotIsTakenAndAGivenBackOneIsReused() {
        KeyName first = names.take(side, session);
        KeyName second = names.take(side, session);
        assertThat(first.bytes).isNotEqualTo(second.bytes);
        assertThat(first.bytes.toString(StandardCharsets.UTF_8)).startsWith("distkit/lock/a/").endsWith("/0");
        assertThat(second.bytes.toString(StandardCharsets.UTF_8)).endsWith("/1");

        names.giveBack(first);
        assertThat(names.take(side, session).bytes).isEqualTo(first.bytes);
    }

    @Test
    void aNameGivenBackTwiceFreesItsSlotOnce() {
        KeyName first = names.take(side, session);
        names.giveBack(first);
        KeyName reused = names.take(side, session); // the same slot, now another acquisition's
        names.giveBack(first); // a late second give-back of the old name must not free the new holder's slot

        assertThat(names.take(side, session).bytes).as("the reused slot is still taken").isNotEqualTo(reused.bytes);
        assertThat(names.takenCount()).isEqualTo(2);
    }

    @Test
    void anEndedSessionGivesBackEveryNameTakenWithIt() {
        Session other = new Session(0x2f, 30, true, System.nanoTime());
        names.take(side, session);
        names.take(side, session);
        KeyName kept = names.take(side, other);

        session.markDead();
        names.sessionEnded(session);

        assertThat(names.takenCount()).isEqualTo(1);
        assertThat(kept.bytes.toString(StandardCharsets.UTF_8)).endsWith("/2");
        assertThat(names.take(side, other).bytes.toString(StandardCharsets.UTF_8)).as("slot 0 is free again")
                .endsWith("/0");
    }

    @Test
    void aNameTakenForASessionThatAlreadyEndedIsFreeAtOnce() {
        session.markDead();
        names.take(side, session);
        assertThat(names.takenCount()).isZero();
    }
}
