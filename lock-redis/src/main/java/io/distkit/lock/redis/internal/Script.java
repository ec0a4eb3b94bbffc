package io.distkit.lock.redis.internal;

import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.async.RedisScriptingAsyncCommands;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * One Lua script of this backend, read once from the classpath. Run by {@code EVALSHA}; when the server
 * answers {@code NOSCRIPT} (its script cache was flushed, or it restarted) the same call is made once
 * with {@code EVAL}, which also puts the script back into the cache. A {@code NOSCRIPT} reply means the
 * script did not run, so the fallback can never apply it twice.
 */
public final class Script {

    public static final Script ACQUIRE = load("acquire.lua", ScriptOutputType.MULTI);
    public static final Script RELEASE = load("release.lua", ScriptOutputType.INTEGER);
    public static final Script RENEW = load("renew.lua", ScriptOutputType.MULTI);
    /** Redlock's fencing write-back: raise the fence to a token if the lock is still the owner's. */
    public static final Script RAISE_FENCE = load("raise-fence.lua", ScriptOutputType.INTEGER);

    final String name;
    final byte[] body;
    final String sha;
    private final ScriptOutputType output;

    private Script(String name, byte[] body, ScriptOutputType output) {
        this.name = name;
        this.body = body;
        this.sha = sha1(body);
        this.output = output;
    }

    /**
     * Runs the script. The stage completes as the server answers, exceptionally on an error reply or
     * after the command timeout of {@code timer} per command. A timed-out command is completed in Lettuce
     * too, so a command still queued (not yet written) is never sent later, and none is re-sent after a
     * reconnect.
     */
    public <T> CompletableFuture<T> run(RedisScriptingAsyncCommands<String, String> commands, CommandBound timer,
            String[] keys, String... args) {
        CompletableFuture<T> sha = timer.bound(commands.<T>evalsha(this.sha, output, keys, args));
        return sha.exceptionallyCompose(failure -> isNoScript(failure)
                ? timer.bound(commands.<T>eval(body, output, keys, args))
                : CompletableFuture.failedFuture(failure));
    }

    /** A lease as the scripts take it: whole milliseconds, rounded up, so the server never expires a lock early. */
    public static long leaseMillis(Duration leaseTime) {
        long millis = leaseTime.toMillis();
        return leaseTime.minusMillis(millis).isZero() ? millis : millis + 1;
    }

    /** The failure inside completion and execution wrappers: what a message should describe. */
    public static Throwable rootCause(Throwable failure) {
        Throwable cause = failure;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException)
                && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause;
    }

    static boolean isNoScript(Throwable failure) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
        return cause instanceof RedisNoScriptException
                || (cause.getMessage() != null && cause.getMessage().startsWith("NOSCRIPT"));
    }

    private static Script load(String resource, ScriptOutputType output) {
        return load(Script.class, resource, output);
    }

    /**
     * A script read from the classpath resource {@code resource} beside {@code anchor} (in its package), for
     * other distkit modules on Redis (the id backends).
     *
     * @throws IllegalStateException if the resource is missing
     */
    public static Script load(Class<?> anchor, String resource, ScriptOutputType output) {
        String where = anchor.getPackageName().replace('.', '/') + "/" + resource;
        try (InputStream in = anchor.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + where + " in the jar of " + anchor.getName());
            }
            return new Script(resource, in.readAllBytes(), output);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + where, e);
        }
    }

    private static String sha1(byte[] body) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(body));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-1", e);
        }
    }

    @Override
    public String toString() {
        return name + " (" + sha + ")";
    }
}
