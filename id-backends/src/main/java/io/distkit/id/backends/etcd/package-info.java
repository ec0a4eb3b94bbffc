/**
 * The ID SPIs on etcd v3, through jetcd: one of the backends of {@code id-backends}.
 *
 * <p>{@link io.distkit.id.backends.etcd.EtcdRevisionCounter}, ids that are the revisions of puts to one key
 * (the cluster's own global sequence), guarded against a cluster restored from an older snapshot;
 * {@link io.distkit.id.backends.etcd.EtcdSegmentAllocator}, ranges of ids reserved by compare-and-swap on one
 * key per tag, for the segment generator of {@code id-segment};
 * {@link io.distkit.id.backends.etcd.EtcdWorkerIdAssigner}, worker ids leased as locks of {@code lock-etcd}
 * with their high-water marks in keys fenced by the locks' fencing tokens; and
 * {@link io.distkit.id.backends.etcd.EtcdIdStore}, all three on one jetcd client, opened from
 * {@code etcd://} and {@code etcds://} URIs by {@link io.distkit.id.IdStores#connect(String)}.
 * jetcd-core and distkit-lock-etcd are optional dependencies of this module: add them to use this package.
 */
@NullMarked
package io.distkit.id.backends.etcd;

import org.jspecify.annotations.NullMarked;
