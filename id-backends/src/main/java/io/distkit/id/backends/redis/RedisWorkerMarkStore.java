package io.distkit.id.backends.redis;

import io.distkit.id.backends.WorkerMarkStore;
import io.distkit.lock.redis.internal.Script;
import io.lettuce.core.ScriptOutputType;
import java.util.OptionalLong;

/**
 * Worker-id high-water marks in Redis: one hash per worker id ({@code <prefix>mark:<lock name>}) with the
 * fencing token of the latest holder heard from and the mark, read and raised by scripts that refuse a lower
 * token. Durable as the {@link RewindGuard} of the server makes it.
 */
final class RedisWorkerMarkStore implements WorkerMarkStore {

    private static final Script READ = Script.load(RedisWorkerMarkStore.class, "mark-read.lua", ScriptOutputType.INTEGER);
    private static final Script SAVE = Script.load(RedisWorkerMarkStore.class, "mark-save.lua", ScriptOutputType.INTEGER);

    private final RedisIdServer server;
    private final String prefix;

    RedisWorkerMarkStore(RedisIdServer server, String prefix) {
        this.server = server;
        this.prefix = prefix;
    }

    String key(String lockName) {
        return prefix + "mark:" + lockName;
    }

    @Override
    public String source() {
        return server.source();
    }

    @Override
    public String describe() {
        return "worker marks " + prefix + "mark:* on Redis at " + server.address();
    }

    @Override
    public OptionalLong read(String lockName, long fencingToken) {
        String key = key(lockName);
        long mark = server.<Long>script("read the mark " + key, READ, new String[] {key}, Long.toString(fencingToken));
        return mark < 0 ? OptionalLong.empty() : OptionalLong.of(mark);
    }

    @Override
    public boolean save(String lockName, long fencingToken, long timestamp) {
        String key = key(lockName);
        long saved = server.<Long>script("save the mark " + key, SAVE, new String[] {key}, Long.toString(fencingToken),
                Long.toString(timestamp));
        return saved == 1;
    }
}
