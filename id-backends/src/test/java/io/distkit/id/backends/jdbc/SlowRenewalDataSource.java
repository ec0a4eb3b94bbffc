package io.distkit.id.backends.jdbc;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.sql.DataSource;
import org.springframework.jdbc.datasource.DelegatingDataSource;

/**
 * A data source whose JDBC batches (the assigner's renewals) can be made slow on a manual ticker, then
 * fail: after {@link #slowOnceThenFail}, the next batch advances the ticker by the given nanoseconds
 * while it runs (a round trip that long) and succeeds; every later batch fails as if the database were
 * gone. Other statements pass through.
 */
final class SlowRenewalDataSource extends DelegatingDataSource {

    private final AtomicLong ticker;
    private volatile long slowNanos = -1;
    private final AtomicInteger slowBatches = new AtomicInteger();
    private final AtomicInteger failedBatches = new AtomicInteger();

    SlowRenewalDataSource(DataSource target, AtomicLong ticker) {
        super(target);
        this.ticker = ticker;
    }

    void slowOnceThenFail(long nanos) {
        slowNanos = nanos;
    }

    int slowBatches() {
        return slowBatches.get();
    }

    int failedBatches() {
        return failedBatches.get();
    }

    @Override
    public Connection getConnection() throws SQLException {
        Connection connection = obtainTargetDataSource().getConnection();
        return (Connection) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {Connection.class},
                (proxy, method, args) -> {
                    Object result = invoke(method, connection, args);
                    if (method.getName().equals("prepareStatement") && result instanceof PreparedStatement statement) {
                        return statement(statement);
                    }
                    return result;
                });
    }

    private PreparedStatement statement(PreparedStatement statement) {
        return (PreparedStatement) Proxy.newProxyInstance(getClass().getClassLoader(),
                new Class<?>[] {PreparedStatement.class}, (proxy, method, args) -> {
                    if (method.getName().equals("executeBatch") && slowNanos >= 0) {
                        if (slowBatches.get() > 0) {
                            failedBatches.incrementAndGet();
                            throw new SQLTransientConnectionException("the database is gone (test)");
                        }
                        Object result = invoke(method, statement, args);
                        ticker.addAndGet(slowNanos); // the reply arrives this much later, by the ticker
                        slowBatches.incrementAndGet();
                        return result;
                    }
                    return invoke(method, statement, args);
                });
    }

    private static Object invoke(java.lang.reflect.Method method, Object target, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
