/**
 * Child JVMs for the failure scenarios that need a process to pause or kill: a lock holder paused
 * past its lease (docs/failures.md, F1 and F20) must be another JVM, since a JVM cannot stop its own threads.
 *
 * <p>{@link io.distkit.testkit.process.ChildJvm} starts a main class of the test classpath and talks
 * to it by lines on stdin/stdout; {@link io.distkit.testkit.process.LockHolderProcess} drives a
 * {@link io.distkit.testkit.process.LockHolderMain} holding a lock of any backend reachable through
 * {@link io.distkit.lock.LockClients}; {@link io.distkit.testkit.process.RedisTouchMain} is the
 * smallest live process to pause.
 */
@NullMarked
package io.distkit.testkit.process;

import org.jspecify.annotations.NullMarked;
