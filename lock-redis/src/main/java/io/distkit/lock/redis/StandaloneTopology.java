package io.distkit.lock.redis;

import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisScriptingAsyncCommands;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.ClientResources;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/** One server: a standalone Redis, or the master a Sentinel names (Lettuce follows failovers). */
final class StandaloneTopology implements RedisTopology {

    private final StatefulRedisConnection<String, String> connection;
    private final String description;
    private final Supplier<CompletionStage<? extends StatefulRedisPubSubConnection<String, String>>> pubSub;
    private final Runnable shutdown;

    /**
     * @param pubSub opens a pub/sub connection to the same server
     * @param shutdown run after the connections closed: shuts down a Lettuce client the backend created
     */
    StandaloneTopology(StatefulRedisConnection<String, String> connection, String description,
            Supplier<CompletionStage<? extends StatefulRedisPubSubConnection<String, String>>> pubSub,
            Runnable shutdown) {
        this.connection = connection;
        this.description = description;
        this.pubSub = pubSub;
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
        return CompletableFuture.completedFuture(connection);
    }

    @Override
    public List<List<Integer>> groupsForOneCall(List<String> keys, int maxPerGroup) {
        List<List<Integer>> groups = new ArrayList<>();
        for (int from = 0; from < keys.size(); from += maxPerGroup) {
            List<Integer> group = new ArrayList<>();
            for (int i = from; i < Math.min(keys.size(), from + maxPerGroup); i++) {
                group.add(i);
            }
            groups.add(group);
        }
        return groups;
    }

    @Override
    public CompletionStage<? extends StatefulRedisPubSubConnection<String, String>> connectPubSub() {
        return pubSub.get();
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
