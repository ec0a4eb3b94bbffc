package io.distkit.testkit.memory;

import io.distkit.lock.LockClient;
import io.distkit.lock.LockOptions;
import io.distkit.lock.ReadWriteLockClient;
import io.distkit.lock.spi.Attempt;
import io.distkit.lock.spi.LockEngine;
import io.distkit.lock.spi.LockMode;
import io.distkit.lock.spi.LockRequest;
import io.distkit.lock.spi.Ticker;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The reference lock "server": the state a real backend keeps, in one JVM, behind one monitor.
 * Several {@link LockClient}s made by {@link #newClient()} contend on it as clients of a real
 * server would. It exists to prove the contract suite, the checkers and the engine: it is the
 * simplest backend that is right, and, through {@link Fault}, it can be made wrong on purpose.
 *
 * <p>Per name it keeps a holder (or a set of readers) with an expiry on the server's
 * {@link Ticker}, and a fencing counter that only grows. A release or an expiry completes the
 * name's wake-up future, so waiters are notified rather than polling.
 */
public final class InMemoryLockServer {

    /** Deliberate defects, for negative controls: each must be caught by the contract or a checker. */
    public enum Fault {
        /** Every acquire succeeds, held or not. */
        NO_EXCLUSION,
        /** The fencing counter never moves: every holder gets the same token. */
        REPEATED_TOKEN,
        /** Release deletes the lock whoever holds it. */
        RELEASE_IGNORES_OWNER,
        /** Leases never run out on the server. */
        LEASE_NEVER_EXPIRES,
        /**
         * Names are compared as a lossy store would: case-insensitive, trailing spaces ignored, Unicode
         * normalised (a MySQL {@code _ci} PAD SPACE collation), characters outside the BMP written as
         * {@code ?} (a 3-byte {@code utf8} connection).
         */
        FOLDS_NAMES
    }

    private final Ticker ticker;
    private final java.util.Set<Fault> faults;
    private final Map<String, Entry> entries = new HashMap<>();

    public InMemoryLockServer() {
        this(Ticker.system());
    }

    public InMemoryLockServer(Ticker ticker, Fault... faults) {
        this.ticker = Objects.requireNonNull(ticker, "ticker");
        this.faults = faults.length == 0 ? java.util.EnumSet.noneOf(Fault.class)
                : java.util.EnumSet.copyOf(java.util.Arrays.asList(faults));
    }

    /** A server with the given defects, on the system ticker. */
    public static InMemoryLockServer withFaults(Fault... faults) {
        return new InMemoryLockServer(Ticker.system(), faults);
    }

    /** A new client of this server with default options. */
    public ReadWriteLockClient newClient() {
        return newClient(builder -> {});
    }

    /** A new client with these default options. */
    public ReadWriteLockClient newClient(LockOptions defaults) {
        return newClient(builder -> builder.defaultOptions(defaults));
    }

    /** A new client, configured further by {@code configure} (ticker, scheduler, options). */
    public ReadWriteLockClient newClient(Consumer<LockEngine.Builder<InMemoryLease>> configure) {
        LockEngine.Builder<InMemoryLease> builder = LockEngine.builder(new InMemoryLockBackend(this));
        configure.accept(builder);
        return builder.buildReadWrite();
    }

    /** Removes a lock as if an operator deleted it; its holder should learn at its next renewal. */
    public synchronized void delete(String name) {
        for (LockMode mode : LockMode.values()) {
            Entry entry = entries.get(key(name, mode));
            if (entry != null) {
                entry.writer = null;
                entry.readers.clear();
                entry.signal();
            }
        }
    }

    /** The current exclusive owner of a plain lock, or null; for tests. */
    public synchronized String holder(String name) {
        Entry entry = entries.get(key(name, LockMode.EXCLUSIVE));
        if (entry == null) {
            return null;
        }
        entry.expire(ticker.read(), faults);
        return entry.writer;
    }

    synchronized Attempt<InMemoryLease> tryAcquire(LockRequest request) {
        long now = ticker.read();
        String key = key(request.name(), request.mode());
        Entry entry = entries.computeIfAbsent(key, k -> new Entry());
        entry.expire(now, faults);
        boolean free = switch (request.mode()) {
            case EXCLUSIVE, WRITE -> entry.writer == null && entry.readers.isEmpty();
            case READ -> entry.writer == null;
        };
        if (!free && !faults.contains(Fault.NO_EXCLUSION)) {
            long remaining = entry.remaining(now);
            return Attempt.busy(Duration.ofNanos(Math.max(0, remaining)), entry.wakeUp);
        }
        long expiresAt = now + request.leaseTime().toNanos();
        if (request.mode() == LockMode.READ) {
            entry.readers.put(request.owner(), expiresAt);
        } else {
            entry.writer = request.owner();
            entry.writerExpiresAt = expiresAt;
        }
        if (!faults.contains(Fault.REPEATED_TOKEN) || entry.fence == 0) {
            entry.fence++;
        }
        return Attempt.acquired(entry.fence, new InMemoryLease(key, request.mode(), request.owner()));
    }

    synchronized boolean renew(InMemoryLease lease, Duration leaseTime) {
        long now = ticker.read();
        Entry entry = entries.get(lease.key());
        if (entry == null) {
            return false;
        }
        entry.expire(now, faults);
        long expiresAt = now + leaseTime.toNanos();
        if (lease.mode() == LockMode.READ) {
            return entry.readers.replace(lease.owner(), expiresAt) != null;
        }
        if (!lease.owner().equals(entry.writer)) {
            return false;
        }
        entry.writerExpiresAt = expiresAt;
        return true;
    }

    synchronized boolean release(InMemoryLease lease) {
        Entry entry = entries.get(lease.key());
        if (entry == null) {
            return false;
        }
        entry.expire(ticker.read(), faults);
        boolean ours;
        if (faults.contains(Fault.RELEASE_IGNORES_OWNER)) {
            ours = true;
            entry.writer = null;
            entry.readers.clear();
        } else if (lease.mode() == LockMode.READ) {
            ours = entry.readers.remove(lease.owner()) != null;
        } else {
            ours = lease.owner().equals(entry.writer);
            if (ours) {
                entry.writer = null;
            }
        }
        if (ours) {
            entry.signal();
        }
        return ours;
    }

    /** Plain locks and read-write locks of one name are independent, as the API promises. */
    private String key(String name, LockMode mode) {
        return (mode == LockMode.EXCLUSIVE ? "x:" : "rw:") + (faults.contains(Fault.FOLDS_NAMES) ? folded(name) : name);
    }

    private static String folded(String name) {
        String nfc = java.text.Normalizer.normalize(name, java.text.Normalizer.Form.NFC);
        StringBuilder bmp = new StringBuilder(nfc.length());
        nfc.codePoints().forEach(c -> bmp.appendCodePoint(Character.isBmpCodePoint(c) ? c : '?'));
        return bmp.toString().toLowerCase(java.util.Locale.ROOT).stripTrailing();
    }

    private static final class Entry {
        long fence;
        String writer;
        long writerExpiresAt;
        final Map<String, Long> readers = new HashMap<>();
        CompletableFuture<Void> wakeUp = new CompletableFuture<>();

        void expire(long now, java.util.Set<Fault> faults) {
            if (faults.contains(Fault.LEASE_NEVER_EXPIRES)) {
                return;
            }
            boolean changed = false;
            if (writer != null && now - writerExpiresAt >= 0) {
                writer = null;
                changed = true;
            }
            changed |= readers.values().removeIf(expiresAt -> now - expiresAt >= 0);
            if (changed) {
                signal();
            }
        }

        long remaining(long now) {
            long until = writer != null ? writerExpiresAt - now : 0;
            for (long expiresAt : readers.values()) {
                until = Math.max(until, expiresAt - now);
            }
            return until;
        }

        void signal() {
            CompletableFuture<Void> woken = wakeUp;
            wakeUp = new CompletableFuture<>();
            woken.complete(null); // completes outside nothing: callbacks hop to the engine's scheduler
        }
    }
}
