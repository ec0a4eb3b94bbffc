/**
 * The service-provider side of the lock API: what a backend implements, and the engine that turns
 * it into a full {@link io.distkit.lock.LockClient}.
 *
 * <p>Everything that is the same in every backend lives once, in {@link io.distkit.lock.spi.LockEngine}:
 * argument checks, reentrancy with local hold counts, the batched renewal pass, lost-lease detection
 * against a local deadline, {@code onLost} listeners, the async adapter, and close-all. A backend
 * implements only {@link io.distkit.lock.spi.LockBackend}: one acquisition attempt, renew, release.
 *
 * <p>Types here are public because backend modules need them; they are not for application code.
 *
 * <p>The engine logs through {@link java.lang.System.Logger}, so that lock-api depends on the JDK
 * alone; {@code org.slf4j:slf4j-jdk-platform-logging} routes it to SLF4J. Backends log through the
 * SLF4J API.
 */
@NullMarked
package io.distkit.lock.spi;

import org.jspecify.annotations.NullMarked;
