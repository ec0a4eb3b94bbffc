package io.distkit.lock.etcd;

import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.Lease;
import io.etcd.jetcd.Txn;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.lease.LeaseKeepAliveResponse;
import io.etcd.jetcd.op.Op;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A jetcd client whose calls the test can count and disturb: every transaction commit and keep-alive is
 * counted, a keep-alive can be replaced ({@link #keepAliveHook}), the next transaction that deletes a
 * key can be made to fail ({@link #failNextDelete}), and the reply of the next put can be lost after the put
 * was applied ({@link #loseNextPutReply}).
 */
final class InterceptedEtcd implements AutoCloseable {

    final Client real;
    final Client client;
    final AtomicInteger commits = new AtomicInteger();
    final AtomicInteger keepAlives = new AtomicInteger();
    final AtomicBoolean failNextDelete = new AtomicBoolean();
    /** If set, the next transaction that puts a key is sent only when this completes (a put that lands late). */
    final java.util.concurrent.atomic.AtomicReference<CompletableFuture<Void>> holdNextPut =
            new java.util.concurrent.atomic.AtomicReference<>();
    /** The reply of the put held by {@link #holdNextPut}. */
    final CompletableFuture<TxnResponse> heldPut = new CompletableFuture<>();
    /**
     * If set, the next transaction that puts a key is sent and applied, but its caller gets an {@code UNAVAILABLE}
     * failure instead of the reply (a reply lost on its way back, F13).
     */
    final AtomicBoolean loseNextPutReply = new AtomicBoolean();
    /** The real reply of the put whose reply {@link #loseNextPutReply} kept from the caller. */
    volatile CompletableFuture<TxnResponse> lostPutReply = new CompletableFuture<>();
    /** Transactions with a delete, counted when sent. */
    final AtomicInteger deletes = new AtomicInteger();
    /** Given the real call, returns what keepAliveOnce answers; null: the real call. */
    volatile Function<Supplier<CompletableFuture<LeaseKeepAliveResponse>>, CompletableFuture<LeaseKeepAliveResponse>>
            keepAliveHook;

    InterceptedEtcd(List<String> endpoints) {
        this.real = Client.builder().endpoints(endpoints.toArray(String[]::new)).build();
        Lease lease = proxy(Lease.class, real.getLeaseClient(), (method, args, target) -> {
            if (method.getName().equals("keepAliveOnce")) {
                keepAlives.incrementAndGet();
                var hook = keepAliveHook;
                if (hook != null) {
                    return hook.apply(() -> ((Lease) target).keepAliveOnce((Long) args[0]));
                }
            }
            return invoke(method, target, args);
        });
        KV kv = proxy(KV.class, real.getKVClient(), (method, args, target) -> {
            Object result = invoke(method, target, args);
            return method.getName().equals("txn") ? txn((Txn) result) : result;
        });
        this.client = proxy(Client.class, real, (method, args, target) -> switch (method.getName()) {
            case "getLeaseClient" -> lease;
            case "getKVClient" -> kv;
            default -> invoke(method, target, args);
        });
    }

    private Txn txn(Txn realTxn) {
        List<Op> ops = new ArrayList<>();
        Txn[] self = new Txn[1];
        self[0] = proxy(Txn.class, realTxn, (method, args, target) -> {
            switch (method.getName()) {
                case "Then", "Else" -> {
                    ops.addAll(Arrays.asList((Op[]) args[0]));
                    invoke(method, target, args);
                    return self[0];
                }
                case "If" -> {
                    invoke(method, target, args);
                    return self[0];
                }
                case "commit" -> {
                    commits.incrementAndGet();
                    if (ops.stream().anyMatch(op -> op instanceof Op.DeleteOp)) {
                        deletes.incrementAndGet();
                    }
                    if (ops.stream().anyMatch(op -> op instanceof Op.DeleteOp) && failNextDelete.compareAndSet(true, false)) {
                        return CompletableFuture.<TxnResponse>failedFuture(new IllegalStateException("test: delete refused"));
                    }
                    if (ops.stream().anyMatch(op -> op instanceof Op.PutOp) && loseNextPutReply.compareAndSet(true, false)) {
                        CompletableFuture<TxnResponse> applied = ((Txn) target).commit();
                        return applied.handle((response, failure) -> {
                            if (failure != null) {
                                lostPutReply.completeExceptionally(failure);
                            } else {
                                lostPutReply.complete(response);
                            }
                            throw new java.util.concurrent.CompletionException(io.grpc.Status.UNAVAILABLE
                                    .withDescription("test: the reply of an applied put was lost").asRuntimeException());
                        });
                    }
                    if (ops.stream().anyMatch(op -> op instanceof Op.PutOp)) {
                        CompletableFuture<Void> gate = holdNextPut.getAndSet(null);
                        if (gate != null) {
                            CompletableFuture<TxnResponse> late = gate.thenCompose(ignored -> ((Txn) target).commit());
                            late.whenComplete((response, failure) -> {
                                if (failure != null) {
                                    heldPut.completeExceptionally(failure);
                                } else {
                                    heldPut.complete(response);
                                }
                            });
                            return late;
                        }
                    }
                    return invoke(method, target, args);
                }
                default -> {
                    return invoke(method, target, args);
                }
            }
        });
        return self[0];
    }

    @Override
    public void close() {
        real.close();
    }

    interface Handler {
        Object handle(Method method, Object[] args, Object target) throws Throwable;
    }

    private static <T> T proxy(Class<T> type, T target, Handler handler) {
        return type.cast(Proxy.newProxyInstance(InterceptedEtcd.class.getClassLoader(), new Class<?>[] {type},
                (p, method, args) -> handler.handle(method, args, target)));
    }

    static Object invoke(Method method, Object target, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
