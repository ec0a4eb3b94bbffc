package io.distkit.jdbc.internal;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.concurrent.Executor;
import javax.sql.DataSource;
import org.springframework.jdbc.datasource.DelegatingDataSource;

/**
 * The user's data source, with a network timeout (JDBC 4.1 {@link Connection#setNetworkTimeout}) on
 * every connection for as long as distkit has borrowed it. A query timeout cannot end a statement
 * whose connection went silent: the driver sends its cancel on another connection, which a paused
 * or cut-off server never answers, and most pools set no socket timeout. Without this, a caller
 * whose statement runs on its own thread could wait for TCP to give up, which takes minutes. A
 * connection that already has a shorter timeout keeps it; its own setting is put back before it
 * returns to the pool. Drivers without network timeouts (H2 in memory) are used as they are.
 */
final class NetworkBoundedDataSource extends DelegatingDataSource {

    private static final Executor IN_PLACE = Runnable::run;

    private final int timeoutMillis;

    NetworkBoundedDataSource(DataSource target, int timeoutMillis) {
        super(target);
        this.timeoutMillis = timeoutMillis;
    }

    @Override
    public Connection getConnection() throws SQLException {
        return bound(obtainTargetDataSource().getConnection());
    }

    @Override
    public Connection getConnection(String username, String password) throws SQLException {
        return bound(obtainTargetDataSource().getConnection(username, password));
    }

    private Connection bound(Connection connection) throws SQLException {
        int previous;
        try {
            previous = connection.getNetworkTimeout();
        } catch (SQLFeatureNotSupportedException | AbstractMethodError unsupported) {
            return connection;
        }
        if (previous != 0 && previous <= timeoutMillis) {
            return connection; // already bounded at least as tightly
        }
        try {
            connection.setNetworkTimeout(IN_PLACE, timeoutMillis);
        } catch (SQLFeatureNotSupportedException | AbstractMethodError unsupported) {
            return connection; // e.g. H2 in memory: no network to bound
        }
        return (Connection) Proxy.newProxyInstance(Connection.class.getClassLoader(), new Class<?>[] {Connection.class},
                (proxy, method, args) -> {
                    switch (method.getName()) {
                        case "equals":
                            return proxy == args[0];
                        case "hashCode":
                            return System.identityHashCode(proxy);
                        case "close":
                            restore(connection, previous);
                            break;
                        default:
                            break;
                    }
                    try {
                        return method.invoke(connection, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    private static void restore(Connection connection, int previous) {
        try {
            if (!connection.isClosed()) {
                connection.setNetworkTimeout(IN_PLACE, previous);
            }
        } catch (SQLException broken) {
            // a broken connection: the pool discards it anyway
        }
    }
}
