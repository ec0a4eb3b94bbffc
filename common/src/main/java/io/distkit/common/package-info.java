/**
 * Mechanics shared by the lock and the id modules, kept in one place: the threads distkit starts.
 * Internal to distkit: not an API, and it may change in any release.
 */
@NullMarked
package io.distkit.common;

import org.jspecify.annotations.NullMarked;
