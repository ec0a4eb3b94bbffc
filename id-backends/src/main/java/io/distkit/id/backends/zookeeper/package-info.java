/**
 * The ID SPIs on ZooKeeper, through curator-framework: one of the backends of {@code id-backends}.
 *
 * <p>{@link io.distkit.id.backends.zookeeper.ZooKeeperSequenceCounter}, ids that are the version of one counter
 * node (one round trip per id or per batch); {@link io.distkit.id.backends.zookeeper.ZooKeeperSegmentAllocator},
 * ranges of ids reserved by compare-and-set on one node per tag, for the segment generator of {@code id-segment};
 * {@link io.distkit.id.backends.zookeeper.ZooKeeperWorkerIdAssigner}, worker ids leased as lock-zookeeper locks
 * with their high-water marks in nodes fenced by the locks' tokens; {@link
 * io.distkit.id.backends.zookeeper.ZooKeeperIdStore}, all three on one client, also opened by {@code
 * IdStores.connect("zookeeper://host:port/chroot")}. Needs curator-framework and distkit-lock-zookeeper on the
 * classpath (optional dependencies of this module).
 */
@NullMarked
package io.distkit.id.backends.zookeeper;

import org.jspecify.annotations.NullMarked;
