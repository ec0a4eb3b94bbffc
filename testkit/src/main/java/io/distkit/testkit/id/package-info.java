/**
 * Contract tests and checkers for {@link io.distkit.id.IdGenerator} backends.
 *
 * <p>A backend test extends {@link io.distkit.testkit.id.IdGeneratorContract} and supplies
 * generators on one shared source; the contract produces ids from many threads and generators at
 * once and hands them to {@link io.distkit.testkit.id.IdChecks}, the id checker of docs/failures.md
 * (checker 5), which failure-injection tests use directly on the ids they recorded.
 */
@NullMarked
package io.distkit.testkit.id;

import org.jspecify.annotations.NullMarked;
