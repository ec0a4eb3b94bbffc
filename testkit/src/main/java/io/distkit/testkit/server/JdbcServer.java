package io.distkit.testkit.server;

/** A database a test connects to over JDBC: where, and as whom. */
public interface JdbcServer {

    /** The JDBC URL of the database. */
    String jdbcUrl();

    /** The user to connect as. */
    String user();

    /** That user's password. */
    String password();
}
