package io.distkit.lock.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockHandle;
import io.distkit.lock.LockOptions;
import io.distkit.testkit.Closer;
import io.distkit.testkit.history.CheckResult;
import io.distkit.testkit.history.Checkers;
import io.distkit.testkit.history.FencedRegister;
import io.distkit.testkit.history.History;
import io.distkit.testkit.history.LockRecorder;
import io.distkit.testkit.history.LockRecorder.Held;
import io.distkit.testkit.history.Op;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.retry.RetryOneTime;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * F24: the lock's directory (the parent of its nodes), or the whole base path, deleted from outside and
 * created again. The fencing token is the node's czxid, a transaction id of the whole ensemble, so tokens keep
 * growing across a re-created directory, whose sequence numbers start again at zero: a recipe that used the
 * sequence as its token would hand out old tokens again, and the token checker flags that (the negative
 * control). A lock whose directory is removed while it is held and waited for keeps working: the waiter, whose
 * node went with the directory, queues again and is granted with a higher token; the holder learns of the loss
 * at its next renewal, and its late write is refused by the fenced register.
 */
@Timeout(60)
class ZooKeeperParentNodeFailureTest {

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperLockContractSupport.ensemble(1);

    private final Closer closer = new Closer();
    private CuratorFramework admin;

    @AfterEach
    void close() throws Exception {
        closer.close();
    }

    private LockClient client(LockOptions options) {
        return closer.add(ZooKeeperLockClient.builder(zk.connectString()).sessionTimeout(Duration.ofSeconds(10))
                .commandTimeout(Duration.ofSeconds(3)).defaultOptions(options).build());
    }

    private CuratorFramework admin() throws InterruptedException {
        if (admin == null) {
            admin = CuratorFrameworkFactory.newClient(zk.connectString(), new RetryOneTime(100));
            admin.start();
            closer.add(admin::close);
            assertThat(admin.blockUntilConnected(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        }
        return admin;
    }

    @Test
    @DisplayName("F24: tokens keep increasing when the lock's directory and the base path are deleted and created again")
    void tokensKeepIncreasingAcrossARecreatedDirectory() throws Exception {
        LockClient client = client(LockOptions.builder().leaseTime(Duration.ofSeconds(10)).build());
        String name = "f24-" + UUID.randomUUID();
        String directory = ZooKeeperLockClient.lockDirectory(ZooKeeperLockClient.DEFAULT_BASE_PATH, name);
        LockRecorder recorder = new LockRecorder();
        History bySequence = new History(); // the same acquisitions, with the node's sequence as the token
        List<Long> tokens = new ArrayList<>();

        for (int round = 0; round < 4; round++) {
            History.Pending sequenceCall = bySequence.invoke("client", Op.Type.ACQUIRE, name);
            Held held = recorder.acquire("client", client.lock(name), Duration.ZERO);
            List<String> children = admin().getChildren().forPath(directory);
            assertThat(children).hasSize(1);
            sequenceCall.ok(NodeNames.parse(children.get(0)).sequence());
            tokens.add(held.token);
            held.release();
            Op restart = recorder.faultStart(Op.RESTART + " of the lock's directory");
            Op sequenceRestart = bySequence.faultStart("test", null, Op.RESTART + " of the lock's directory");
            // round 2 removes the whole base path, the others only the lock's directory
            admin().delete().deletingChildrenIfNeeded().forPath(round == 2 ? ZooKeeperLockClient.DEFAULT_BASE_PATH
                    : directory);
            assertThat(admin().checkExists().forPath(directory)).isNull();
            recorder.faultEnd(restart);
            bySequence.faultEnd(sequenceRestart);
        }
        System.out.println("F24: tokens across re-created directories: " + tokens);
        assertThat(tokens).isSorted().doesNotHaveDuplicates();
        Checkers.tokenIssuance(recorder.history).assertValid();
        Checkers.holderIntervals(recorder.history).assertValid();

        CheckResult sequenceTokens = Checkers.tokenIssuance(bySequence);
        System.out.println("F24 negative control (sequence as token): " + sequenceTokens.violations());
        assertThat(sequenceTokens.violations()).as("the checker flags sequence numbers as tokens").isNotEmpty();
    }

    @Test
    @DisplayName("F24: a lock whose directory is removed while held and waited for still works; the waiter gets a higher token")
    void aLockWhoseDirectoryIsRemovedKeepsWorking() throws Exception {
        LockOptions options = LockOptions.builder().leaseTime(Duration.ofSeconds(3))
                .renewInterval(Duration.ofSeconds(1)).build();
        LockClient holderClient = client(options);
        LockClient waiterClient = client(options);
        String name = "f24-removed-" + UUID.randomUUID();
        String directory = ZooKeeperLockClient.lockDirectory(ZooKeeperLockClient.DEFAULT_BASE_PATH, name);
        LockRecorder recorder = new LockRecorder();

        Held holder = recorder.acquire("holder", holderClient.lock(name), Duration.ZERO);
        CompletableFuture<Held> waiter = LockRecorder.async("waiter",
                () -> recorder.acquire("waiter", waiterClient.lock(name), Duration.ofSeconds(20)));
        await().atMost(Duration.ofSeconds(5)).until(() -> admin().getChildren().forPath(directory).size() == 2);

        // at once, in one transaction: deleted child by child, the holder's node first, the waiter would be
        // granted on its own node a moment before that went too
        List<CuratorOp> deletes = new ArrayList<>();
        for (String child : admin().getChildren().forPath(directory)) {
            deletes.add(admin().transactionOp().delete().forPath(directory + "/" + child));
        }
        deletes.add(admin().transactionOp().delete().forPath(directory));
        admin().transaction().forOperations(deletes);
        Held next = LockRecorder.await(waiter, Duration.ofSeconds(10));
        assertThat(next.token).as("czxid of a node in the re-created directory").isGreaterThan(holder.token);
        List<String> children = admin().getChildren().forPath(directory);
        assertThat(children).as("only the waiter's new node").hasSize(1);
        assertThat(admin().checkExists().forPath(directory + "/" + children.get(0)).getCzxid()).isEqualTo(next.token);

        holder.awaitLost(Duration.ofSeconds(5)); // its next renewal finds the node gone
        assertThat(holder.handle.lostReason()).isPresent();
        FencedRegister register = new FencedRegister();
        assertThat(register.write("waiter", next.token, 1)).isTrue();
        assertThat(register.write("holder", holder.token, 2)).as("the old holder's late write").isFalse();
        Checkers.fencedResource(register).assertValid();
        holder.releaseLost();

        next.release();
        assertThat(admin().getChildren().forPath(directory)).isEmpty();
        LockHandle again = holderClient.lock(name).tryAcquire().orElseThrow();
        assertThat(again.fencingToken()).isGreaterThan(next.token);
        again.release();
        Checkers.tokenIssuance(recorder.history).assertValid();
    }
}
