/**
 * The Redis building blocks shared by distkit's Redis-based lock backends ({@code distkit-lock-redis} and
 * {@code distkit-lock-redlock}): the Lua scripts, the key scheme, the command timer and the release
 * notifications. Public only so that both modules use one copy of each; not an API for applications, and
 * it may change in any release.
 */
@NullMarked
package io.distkit.lock.redis.internal;

import org.jspecify.annotations.NullMarked;
