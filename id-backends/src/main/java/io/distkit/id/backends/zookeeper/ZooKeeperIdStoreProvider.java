package io.distkit.id.backends.zookeeper;

import io.distkit.id.IdStore;
import io.distkit.id.spi.IdStoreProvider;
import io.distkit.lock.zookeeper.ZooKeeperLockClientProvider;
import java.net.URI;
import java.util.Set;

/**
 * Makes ZooKeeper reachable through {@link io.distkit.id.IdStores#connect(URI)}: {@code
 * zookeeper://host:port[,host:port...][/chroot]}, the same URIs as {@code LockClients.connect}. The port defaults
 * to 2181; the path, if any, is the chroot (the Curator namespace every path of the store lies under, created
 * when needed). Everything else has the defaults of {@link ZooKeeperIdStore#builder(String)}. Registered in
 * {@code META-INF/services/io.distkit.id.spi.IdStoreProvider}; not for direct use.
 */
public final class ZooKeeperIdStoreProvider implements IdStoreProvider {

    /** For {@link java.util.ServiceLoader}. */
    public ZooKeeperIdStoreProvider() {}

    /** {@code zookeeper}. */
    @Override
    public Set<String> schemes() {
        return Set.of("zookeeper");
    }

    /**
     * @throws IllegalArgumentException if the URI is malformed (the message says why and shows the form)
     * @throws io.distkit.id.IdSourceUnavailableException if no connection is made within the command timeout
     */
    @Override
    public IdStore connect(URI uri) {
        return ZooKeeperIdStore.builder(connectString(uri)).build();
    }

    /** The connect string a URI stands for: the lock client's reading of the same URI. */
    static String connectString(URI uri) {
        return ZooKeeperLockClientProvider.connectString(uri);
    }
}
