package io.distkit.lock.redis;

import io.distkit.lock.redis.internal.CommandTimer;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisScriptingAsyncCommands;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.ClientResources;
import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * Where the backend's commands go: one server (standalone, or the master a Sentinel names) or a Redis
 * Cluster. Everything else in the backend is the same for both.
 */
interface RedisTopology {

    /** {@code redis <host:port>}, {@code redis cluster <seeds>}, ...: for messages and logs. */
    String describe();

    /** The Lettuce client's resources: its timer bounds every command ({@link CommandTimer}). */
    ClientResources resources();

    /** Script commands; in a cluster each call is routed to the master of its first key's slot. */
    RedisScriptingAsyncCommands<String, String> scripting();

    /**
     * The connection to the master that serves {@code key}: a script and the {@code WAIT} that follows
     * it must share one connection, since {@code WAIT} counts the writes of its own connection only.
     */
    CompletionStage<StatefulRedisConnection<String, String>> connectionFor(String key);

    /**
     * Splits keys (by index) into the groups one script call may touch together: every key on a
     * standalone server (in chunks of at most {@code maxPerGroup}); one group per hash slot in a cluster,
     * where a multi-key script must stay within one slot.
     */
    List<List<Integer>> groupsForOneCall(List<String> keys, int maxPerGroup);

    /** Opens a new pub/sub connection (the backend opens one, lazily). */
    CompletionStage<? extends StatefulRedisPubSubConnection<String, String>> connectPubSub();

    /** Closes the connections this topology opened, and the Lettuce client if the backend created it. */
    void close();
}
