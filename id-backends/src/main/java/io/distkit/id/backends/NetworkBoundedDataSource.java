package io.distkit.id.backends;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.concurrent.Executor;
import javax.sql.DataSource;
import org.springframework.jdbc.datasource.DelegatingDataSource;

/**
 * The user's data source with a network timeout on every connection while distkit has it borrowed,
 * so that a statement on a connection gone silent (a cut-off or paused server) ends in bounded time
 * even when the pool sets no socket timeout; the connection's own setting is put back on close.
 *
 * <p>A minimal copy of {@code io.distkit.lock.jdbc.NetworkBoundedDataSource} in {@code lock-jdbc},
 * whose javadoc explains why a query timeout is not enough. To be moved to a module both share.
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
            if (previous != 0 && previous <= timeoutMillis) {
                return connection; // already bounded at least as tightly
            }
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
