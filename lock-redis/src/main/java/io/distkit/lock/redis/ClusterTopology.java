package io.distkit.lock.redis;

import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisScriptingAsyncCommands;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.ClientResources;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * A Redis Cluster. Scripts go through Lettuce's cluster connection, which routes each call by its first
 * key and follows {@code MOVED}/{@code ASK}; a lock's keys share one hash tag, so every script stays in
 * one slot. Release messages use classic pub/sub, which the cluster bus delivers to every node, so the
 * one pub/sub connection may sit on any node.
 */
final class ClusterTopology implements RedisTopology {

    private final RedisClusterClient client;
    private final StatefulRedisClusterConnection<String, String> connection;
    private final String description;
    private final Runnable shutdown;

    ClusterTopology(RedisClusterClient client, StatefulRedisClusterConnection<String, String> connection,
            String description, Runnable shutdown) {
        this.client = client;
        this.connection = connection;
        this.description = description;
        this.shutdown = shutdown;
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public ClientResources resources() {
        return connection.getResources();
    }

    @Override
    public RedisScriptingAsyncCommands<String, String> scripting() {
        return connection.async();
    }

    @Override
    public CompletionStage<StatefulRedisConnection<String, String>> connectionFor(String key) {
        int slot = SlotHash.getSlot(key);
        RedisClusterNode master = connection.getPartitions().getMasterBySlot(slot);
        if (master == null || master.getUri() == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("no master serves hash slot " + slot
                    + " of key " + key + " in the cluster topology known to the client"));
        }
        RedisURI uri = master.getUri();
        // the cluster connection's own pooled write connection to that node: what routed calls use too
        return connection.getConnectionAsync(uri.getHost(), uri.getPort());
    }

    @Override
    public List<List<Integer>> groupsForOneCall(List<String> keys, int maxPerGroup) {
        Map<Integer, List<Integer>> bySlot = new LinkedHashMap<>();
        for (int i = 0; i < keys.size(); i++) {
            bySlot.computeIfAbsent(SlotHash.getSlot(keys.get(i)), slot -> new ArrayList<>()).add(i);
        }
        List<List<Integer>> groups = new ArrayList<>();
        for (List<Integer> slot : bySlot.values()) {
            for (int from = 0; from < slot.size(); from += maxPerGroup) {
                groups.add(slot.subList(from, Math.min(slot.size(), from + maxPerGroup)));
            }
        }
        return groups;
    }

    @Override
    public CompletionStage<? extends StatefulRedisPubSubConnection<String, String>> connectPubSub() {
        return client.connectPubSubAsync(StringCodec.UTF8);
    }

    @Override
    public void close() {
        try {
            connection.close();
        } finally {
            shutdown.run();
        }
    }
}
