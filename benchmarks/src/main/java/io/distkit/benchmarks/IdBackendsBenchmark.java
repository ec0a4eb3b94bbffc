package io.distkit.benchmarks;

import io.distkit.id.IdGenerator;
import io.distkit.id.IdStore;
import io.distkit.id.IdStores;
import io.distkit.id.SegmentAllocator;
import io.distkit.id.backends.redis.RedisIdStore;
import io.distkit.id.segment.InMemorySegmentAllocator;
import io.distkit.id.segment.SegmentIdGenerator;
import io.distkit.testkit.server.EtcdCluster;
import io.distkit.testkit.server.RedisServer;
import io.distkit.testkit.server.ZooKeeperCluster;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Ids from the stores, one thread, ids per second: each store's counter against a bare client loop sending the
 * same command, a batch of 1,000 against single ids, and {@code SegmentIdGenerator} with its default adaptive
 * step on each store's allocator against the same generator on the in-memory allocator (the store off the hot
 * path). Each trial starts its own server: Redis with {@code appendfsync always} (what the default rewind
 * guard asks for; the bare loop runs on the same server, so both pay the same fsync), one etcd member with its
 * data in memory where {@code /dev/shm} is, one ZooKeeper server in this JVM.
 *
 * <pre>
 * scripts/bench.sh IdBackendsBenchmark -f 3 -wi 3 -i 5 -w 2 -r 2
 * </pre>
 *
 * <ul>
 *   <li>{@code counter}, {@code impl=DISTKIT}: {@code store.counter("bench").nextId()} ({@code INCRBY key 1} on
 *       Redis, a put whose revision is the id on etcd, a {@code setData} whose version is the id on ZooKeeper);
 *       {@code impl=BARE}: that command with the store's client library (Lettuce {@code INCR}, jetcd put,
 *       Curator {@code setData}), synchronously, nothing around it: the limit.
 *   <li>{@code counterBatch}: {@code nextIds(1000)}, scored as ids per second (one operation = 1,000 ids).
 *   <li>{@code segment}: {@code SegmentIdGenerator.builder(allocator, tag).build().nextId()}, defaults; {@code
 *       impl=DISTKIT} on the store's allocator, {@code impl=BARE} on {@link InMemorySegmentAllocator}.
 * </ul>
 *
 * Targets: {@code counter} DISTKIT at least 0.9 &times; BARE per store; {@code counterBatch} at least 100
 * &times; {@code counter}; {@code segment} DISTKIT at least 0.9 &times; BARE.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(3)
public class IdBackendsBenchmark {

    /** The store. */
    @Param({"REDIS", "ETCD", "ZOOKEEPER"})
    public Store store;

    /** distkit, or the limit it is compared with. */
    @Param({"DISTKIT", "BARE"})
    public Impl impl;

    /** The implementations. */
    public enum Impl { DISTKIT, BARE }

    /**
     * {@code segment}: the adaptive step's cap ({@link SegmentIdGenerator.Builder#maxStep}); the default is the
     * generator's (a million, as Leaf's). One thread takes some 400 million ids a second here, so at a million a
     * segment the store is asked 400 times a second and must answer within the 2 ms the rest of a segment lasts.
     */
    @Param({"1000000"})
    public long maxStep;

    /** A server of each kind, started for the trial, with a bare client for the limit. */
    public enum Store {
        REDIS {
            @Override
            Server start() {
                RedisServer redis = RedisServer.builder().persistence(RedisServer.Persistence.AOF_ALWAYS).build();
                redis.start();
                RedisClient client = RedisClient.create(redis.uri());
                StatefulRedisConnection<String, String> connection = client.connect();
                RedisCommands<String, String> sync = connection.sync();
                return new Server() {
                    @Override
                    public IdStore open() {
                        return RedisIdStore.builder(redis.uri()).build();
                    }

                    @Override
                    public long bareNextId() {
                        return sync.incr("bare:counter");
                    }

                    @Override
                    public void close() {
                        connection.close();
                        client.shutdown();
                        redis.close();
                    }
                };
            }
        },
        ETCD {
            @Override
            Server start() {
                EtcdCluster.Builder builder = EtcdCluster.builder().members(1);
                Path memory = Path.of("/dev/shm");
                if (Files.isDirectory(memory) && Files.isWritable(memory)) {
                    builder.dataIn(memory); // the disk is not what is measured (fsync per write on this VM's disk)
                }
                EtcdCluster etcd = builder.build();
                etcd.start();
                Client client = Client.builder().endpoints(etcd.endpoints().toArray(String[]::new)).build();
                ByteSequence key = ByteSequence.from("bare/counter", StandardCharsets.UTF_8);
                ByteSequence value = ByteSequence.from(new byte[0]);
                return new Server() {
                    @Override
                    public IdStore open() {
                        return IdStores.connect(etcd.endpoints().get(0).replace("http://", "etcd://") + "/bench/");
                    }

                    @Override
                    public long bareNextId() {
                        try {
                            return client.getKVClient().put(key, value).get().getHeader().getRevision();
                        } catch (InterruptedException | ExecutionException e) {
                            throw new IllegalStateException(e);
                        }
                    }

                    @Override
                    public void close() {
                        client.close();
                        etcd.close();
                    }
                };
            }
        },
        ZOOKEEPER {
            @Override
            Server start() {
                ZooKeeperCluster zk = ZooKeeperCluster.builder().members(1).build();
                zk.start();
                CuratorFramework curator = CuratorFrameworkFactory.newClient(zk.connectString(), new RetryOneTime(100));
                curator.start();
                try {
                    curator.create().creatingParentsIfNeeded().forPath("/bare/counter");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
                return new Server() {
                    @Override
                    public IdStore open() {
                        return IdStores.connect("zookeeper://" + zk.connectString() + "/bench");
                    }

                    @Override
                    public long bareNextId() {
                        try {
                            return curator.setData().forPath("/bare/counter").getVersion();
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    }

                    @Override
                    public void close() {
                        curator.close();
                        zk.close();
                    }
                };
            }
        };

        abstract Server start();
    }

    /** A running server: a distkit store on it, and the bare command. */
    interface Server extends AutoCloseable {
        IdStore open();

        long bareNextId();

        @Override
        void close();
    }

    private Server server;
    private IdStore ids;
    private IdGenerator counter;
    private SegmentIdGenerator segments;

    @Setup(Level.Trial)
    public void open() {
        server = store.start();
        ids = server.open();
        counter = ids.counter("bench");
        SegmentAllocator allocator = impl == Impl.DISTKIT ? ids.segmentAllocator() : new InMemorySegmentAllocator();
        segments = SegmentIdGenerator.builder(allocator, "bench-segments").maxStep(maxStep).build();
    }

    @TearDown(Level.Trial)
    public void close() {
        segments.close();
        ids.close();
        server.close();
    }

    @Benchmark
    public long counter() {
        return impl == Impl.DISTKIT ? counter.nextId() : server.bareNextId();
    }

    /** A batch of 1,000 ids; only {@code impl=DISTKIT} is meaningful (BARE runs the same). */
    @Benchmark
    @org.openjdk.jmh.annotations.OperationsPerInvocation(1000)
    public long[] counterBatch() {
        return counter.nextIds(1000);
    }

    @Benchmark
    public long segment() {
        return segments.nextId();
    }
}
