/**
 * Real servers for the tests, as JUnit 5 extensions ({@link io.distkit.testkit.server.TestServer}):
 * Redis (standalone, replica, cluster), etcd (1 or 3 members), ZooKeeper (in the JVM), PostgreSQL,
 * MariaDB and H2; a loopback {@link io.distkit.testkit.server.FaultProxy} for network faults; and a
 * wall-clock shift for C servers ({@link io.distkit.testkit.server.FakeTime}). Child-process servers
 * run on free loopback ports in temp directories named {@code distkit-*} and can be killed
 * (SIGKILL), paused (SIGSTOP), resumed and restarted.
 */
package io.distkit.testkit.server;
