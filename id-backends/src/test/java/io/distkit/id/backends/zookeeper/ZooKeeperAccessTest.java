package io.distkit.id.backends.zookeeper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.distkit.id.IdGenerationException;
import io.distkit.testkit.server.ZooKeeperCluster;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.common.PathUtils;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What the ZooKeeper id backends share: the name encoding, the path checks and the versioned compare-and-set. */
class ZooKeeperAccessTest {

    @RegisterExtension
    static ZooKeeperCluster zk = ZooKeeperIdTestSupport.server();

    private static CuratorFramework operator;
    private static ZooKeeperAccess access;

    @BeforeAll
    static void connect() throws InterruptedException {
        operator = ZooKeeperIdTestSupport.operator(zk);
        access = ZooKeeperAccess.of(operator, Duration.ofSeconds(5));
    }

    @AfterAll
    static void close() {
        operator.close();
    }

    @Test
    @DisplayName("encode: one legal path element per name, never two names on one element")
    void encodingIsInjectiveAndLegal() {
        List<String> names = List.of("a", "a/b", "a%2Fb", "a%252Fb", ".", "..", "%2E", "...", "\uD83D\uDE00",
                "%uD83D%uDE00", "\uE000", "\uFFF0", "x\u0000y", "zookeeper", "a b");
        Set<String> encoded = new HashSet<>();
        for (String name : names) {
            String element = ZooKeeperAccess.encode(name);
            assertThat(element).as(name).doesNotContain("/");
            PathUtils.validatePath("/base/" + element); // throws if ZooKeeper refuses it
            assertThat(encoded.add(element)).as("%s collides", name).isTrue();
        }
        assertThat(ZooKeeperAccess.encode("..")).isEqualTo("%2E%2E");
        assertThat(ZooKeeperAccess.encode("\uD83D\uDE00")).isEqualTo("%uD83D%uDE00");
    }

    @Test
    @DisplayName("checkPath refuses what nodes cannot be created under, naming the rule")
    void pathChecks() {
        for (String bad : new String[] {"", "/", "a/b", "/a/", "/a//b", "/zookeeper/x", "/" + "x".repeat(200)}) {
            assertThatIllegalArgumentException().as(bad).isThrownBy(() -> ZooKeeperAccess.checkPath("basePath", bad))
                    .withMessageContaining("basePath");
        }
        assertThat(ZooKeeperAccess.checkPath("basePath", "/distkit/ids")).isEqualTo("/distkit/ids");
    }

    @Test
    @DisplayName("compareAndSet: OK on the expected version, BADVERSION after another write, NONODE when missing")
    void compareAndSet() throws Exception {
        String path = "/access-test/cas";
        operator.create().creatingParentsIfNeeded().forPath(path, bytes("1"));
        assertThat(access.compareAndSet("t", "writing", path, bytes("2"), 0)).isEqualTo(KeeperException.Code.OK);
        assertThat(access.compareAndSet("t", "writing", path, bytes("3"), 0)).isEqualTo(KeeperException.Code.BADVERSION);
        assertThat(text(path)).isEqualTo("2");
        assertThat(access.compareAndSet("t", "writing", path + "-missing", bytes("3"), 0))
                .isEqualTo(KeeperException.Code.NONODE);
    }

    /**
     * A version of -1 means "any version" to ZooKeeper: a write conditional on it cannot be expressed and is refused;
     * the write expected at -2 is a transaction whose first write is conditional (checked here on a node at another
     * version: it changes nothing). A node cannot be brought to version -2 in a test (2^32 writes).
     */
    @Test
    @DisplayName("compareAndSet: version -1 is refused with what to do; the write expected at -2 stays conditional")
    void versionsThatZooKeeperCannotConditionOn() throws Exception {
        String path = "/access-test/wrap";
        operator.create().creatingParentsIfNeeded().forPath(path, bytes("5"));
        assertThatThrownBy(() -> access.compareAndSet("t", "writing", path, bytes("6"), -1))
                .isExactlyInstanceOf(IdGenerationException.class)
                .hasMessageContaining("version -1").hasMessageContaining("set " + path);
        assertThat(access.compareAndSet("t", "writing", path, bytes("6"), -2)).isEqualTo(KeeperException.Code.BADVERSION);
        assertThat(text(path)).isEqualTo("5");
        assertThat(operator.checkExists().forPath(path).getVersion()).as("nothing written").isZero();
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    private static String text(String path) throws Exception {
        return new String(operator.getData().forPath(path), StandardCharsets.UTF_8);
    }
}
