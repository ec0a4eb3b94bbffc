package io.distkit.lock.zookeeper;

import org.jspecify.annotations.Nullable;

/**
 * One held lock: its node, the node's czxid (the fencing token) and the session the node lives in.
 *
 * @param name the lock name, for messages
 * @param path the node's full path (without the client's namespace)
 * @param token the node's czxid
 * @param sessionId the session that owns the ephemeral node ({@code ephemeralOwner})
 * @param session the private session of a lock that is not renewed; null for the client's shared session
 */
record ZooKeeperLease(String name, String path, long token, long sessionId, @Nullable PrivateSession session) {}
