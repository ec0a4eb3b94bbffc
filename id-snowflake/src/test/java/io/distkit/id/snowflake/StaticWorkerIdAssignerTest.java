package io.distkit.id.snowflake;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.id.IdGenerationException;
import io.distkit.id.WorkerLease;
import io.distkit.id.WorkerLeaseLostException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class StaticWorkerIdAssignerTest {

    @Test
    void aNegativeWorkerIdIsRefused() {
        assertThatIllegalArgumentException()
                .isThrownBy(() -> StaticWorkerIdAssigner.of(-1))
                .withMessage("workerId must not be negative, was -1");
    }

    @Test
    void theWorkerIdMustFitTheLayout() {
        StaticWorkerIdAssigner assigner = StaticWorkerIdAssigner.of(64);

        assertThatIllegalArgumentException()
                .isThrownBy(() -> assigner.acquire(64))
                .withMessage("workerId must be in [0, 64) (maxWorkerIds of the layout), was 64");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> assigner.acquire(0))
                .withMessage("maxWorkerIds must be at least 1, was 0");
        assertThat(assigner.acquire(65).workerId()).isEqualTo(64);
    }

    @Test
    void oneLeaseAtATimeAndTheHighestSavedTimestampGoesToTheNext() {
        StaticWorkerIdAssigner assigner = StaticWorkerIdAssigner.of(3);
        WorkerLease first = assigner.acquire(1024);

        assertThatThrownBy(() -> assigner.acquire(1024))
                .isInstanceOf(IdGenerationException.class)
                .hasMessageContaining("worker id 3 is already leased from this StaticWorkerIdAssigner");
        first.saveLastTimestamp(500);
        first.saveLastTimestamp(200); // lower: the mark stays
        first.close();
        WorkerLease second = assigner.acquire(1024);

        assertThat(first.lastTimestamp()).isZero();
        assertThat(second.lastTimestamp()).isEqualTo(500);
        assertThat(assigner.lastTimestamp()).isEqualTo(500);
        assertThat(first.isValid()).isFalse();
        assertThat(second.isValid()).isTrue();
    }

    @Test
    void aClosedLeaseSavesNothingAndRefusesNegativeTimestamps() {
        StaticWorkerIdAssigner assigner = StaticWorkerIdAssigner.of(3);
        WorkerLease lease = assigner.acquire(8);

        assertThatIllegalArgumentException()
                .isThrownBy(() -> lease.saveLastTimestamp(-1))
                .withMessage("timestamp must not be negative, was -1");
        lease.close();
        lease.close();
        assertThatThrownBy(() -> lease.saveLastTimestamp(10))
                .isInstanceOfSatisfying(WorkerLeaseLostException.class, e -> assertThat(e.workerId()).isEqualTo(3));
        assertThat(assigner.lastTimestamp()).isZero();
    }

    @Test
    void closingTheAssignerClosesItsLeaseWithoutCallingItLost() {
        StaticWorkerIdAssigner assigner = StaticWorkerIdAssigner.of(0);
        WorkerLease lease = assigner.acquire(1);
        AtomicBoolean lost = new AtomicBoolean();
        lease.onLost(() -> lost.set(true));

        assigner.close();
        assigner.close();

        assertThat(lease.isValid()).isFalse();
        assertThat(lost).isFalse();
        assertThatIllegalStateException()
                .isThrownBy(() -> assigner.acquire(1))
                .withMessage("the StaticWorkerIdAssigner of worker id 0 is closed");
    }
}
