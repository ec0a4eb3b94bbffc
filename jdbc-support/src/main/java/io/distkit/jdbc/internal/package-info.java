/**
 * Not API: for distkit's JDBC modules; may change in any release. Public only because
 * {@code lock-jdbc} and {@code id-backends} live in other packages.
 *
 * <p>What both modules do the same way, once: the database-clock SQL of each dialect and its commit
 * settings ({@link io.distkit.jdbc.internal.DialectSql}, {@link io.distkit.jdbc.internal.WriteSql}); the build prologue that probes the database
 * and picks the dialect, and the calls every statement runs in, each on a connection borrowed for it
 * alone with distkit's own commits and bounded waits ({@link io.distkit.jdbc.internal.Database},
 * {@link io.distkit.jdbc.internal.Statements}); and the check of a module's table, with its
 * {@code CREATE TABLE} resources and its failures in the module's own exceptions
 * ({@link io.distkit.jdbc.internal.TableSpec}).
 */
@NullMarked
package io.distkit.jdbc.internal;

import org.jspecify.annotations.NullMarked;
