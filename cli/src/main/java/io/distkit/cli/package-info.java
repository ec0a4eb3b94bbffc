/**
 * The {@code distkit} command: {@code demo} (eight workers in two lock clients on an embedded H2
 * database, with fenced increments and two id generators, checked at the end), {@code lock} (a
 * distributed {@code flock(1)}: a shell command run under a lock, killed if the lock is lost) and
 * {@code id} (ids printed or decoded). {@link io.distkit.cli.Main} is the entry point;
 * {@link io.distkit.cli.DistkitCommand#commandLine} builds the parser, also for in-process tests.
 *
 * <p>Not API: the classes here are the command's implementation and may change with it.
 */
@NullMarked
package io.distkit.cli;

import org.jspecify.annotations.NullMarked;
