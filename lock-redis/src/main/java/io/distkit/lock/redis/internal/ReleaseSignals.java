package io.distkit.lock.redis.internal;

import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The release notifications of one lock client: one pub/sub connection (opened on first need), one
 * {@code SUBSCRIBE} per lock name that has a local waiter, and per name a queue of the local waiters,
 * oldest first.
 *
 * <p>A release message wakes <em>one</em> waiter of its name, the oldest that has no wake-up pending:
 * everyone else keeps sleeping, so a hand-off costs one attempt per waiting client however many threads
 * wait in it. A wake-up stays pending until the waiter's next attempt is sent ({@link #consume}), which
 * then observes the release; a waiter that gives up with a wake-up still pending hands it to the next
 * waiter ({@link #leave}), so a release is never swallowed by a waiter that left. When the last local
 * waiter of a name leaves, the name is unsubscribed.
 *
 * <p>Messages published while the subscription was down (a reconnect) are lost; Lettuce subscribes
 * again by itself, and a repeated subscribe confirmation wakes every waiter of that name once. Beyond
 * that the waiters' timed retries at the holder's remaining lease are the backstop, as they are for a
 * holder that crashed and published nothing.
 *
 * <p>All state is guarded by one monitor. Pub/sub commands are sent while holding it, so the order in
 * which the server sees {@code SUBSCRIBE} and {@code UNSUBSCRIBE} of one name is the order of the
 * decisions; wake-up futures are completed after releasing it.
 */
public final class ReleaseSignals {

    private static final Logger LOG = LoggerFactory.getLogger(ReleaseSignals.class);

    private final Supplier<CompletionStage<? extends StatefulRedisPubSubConnection<String, String>>> connector;
    private final Duration timeout;
    private final String endpoint;
    private final Object lock = new Object();
    private final Map<String, Channel> channels = new HashMap<>(); // guarded by lock
    private @Nullable StatefulRedisPubSubConnection<String, String> connection; // guarded by lock
    private boolean connecting; // guarded by lock
    private boolean closed; // guarded by lock

    /**
     * @param connector opens the pub/sub connection
     * @param timeout how long a waiter waits for its {@code SUBSCRIBE} to be confirmed before it relies on
     *     timed retries alone
     */
    public ReleaseSignals(Supplier<CompletionStage<? extends StatefulRedisPubSubConnection<String, String>>> connector,
            Duration timeout, String endpoint) {
        this.connector = connector;
        this.timeout = timeout;
        this.endpoint = endpoint;
    }

    /** One waiting acquisition. Its fields are guarded by the {@link ReleaseSignals} monitor. */
    public static final class Waiter {
        final Channel channel;
        private final CompletableFuture<Void> subscribed;
        CompletableFuture<Void> signal = new CompletableFuture<>();
        boolean woken; // a wake-up was given to this waiter and no attempt has been sent since
        boolean gone;

        Waiter(Channel channel) {
            this.channel = channel;
            this.subscribed = channel.subscribed;
        }

        /** Completes when the subscription of this waiter's name is confirmed, or failed, or timed out. */
        public CompletableFuture<Void> subscribed() {
            return subscribed;
        }
    }

    /** One subscribed (or subscribing) release channel. Guarded by the {@link ReleaseSignals} monitor. */
    static final class Channel {
        final String name;
        final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
        CompletableFuture<Void> subscribed = new CompletableFuture<>();
        boolean sent; // SUBSCRIBE went out on the current connection
        int confirmations;

        Channel(String name) {
            this.name = name;
        }
    }

    /**
     * Adds a waiter for {@code channelName} at the end of its queue, subscribing the name if this is its
     * first local waiter. Wait for {@link Waiter#subscribed()} before the attempt that the subscription
     * must cover.
     */
    public Waiter join(String channelName) {
        synchronized (lock) {
            Channel channel = channels.get(channelName);
            if (channel == null) {
                channel = new Channel(channelName);
                channels.put(channelName, channel);
                subscribeLocked(channel);
            } else if (channel.subscribed.isCompletedExceptionally()) {
                channel.subscribed = new CompletableFuture<>(); // the last try failed: try again
                channel.sent = false;
                subscribeLocked(channel);
            }
            Waiter waiter = new Waiter(channel);
            channel.waiters.addLast(waiter);
            return waiter;
        }
    }

    /**
     * Marks the waiter's pending wake-up (if any) as used: called just before an attempt is sent, which
     * observes every release published before it. Returns the future the next wake-up will complete.
     */
    public CompletableFuture<Void> consume(Waiter waiter) {
        synchronized (lock) {
            if (waiter.woken) {
                waiter.woken = false;
                waiter.signal = new CompletableFuture<>();
            }
            return waiter.signal;
        }
    }

    /** The future the waiter's next wake-up completes (already complete if one is pending). */
    public CompletableFuture<Void> signal(Waiter waiter) {
        synchronized (lock) {
            return waiter.signal;
        }
    }

    /**
     * Removes a waiter. With {@code passOn}, a wake-up it was given and never used goes to the next
     * waiter of its name. The last waiter of a name unsubscribes it.
     */
    public void leave(Waiter waiter, boolean passOn) {
        CompletableFuture<Void> toComplete = null;
        synchronized (lock) {
            if (waiter.gone) {
                return;
            }
            waiter.gone = true;
            Channel channel = waiter.channel;
            channel.waiters.remove(waiter);
            if (passOn && waiter.woken) {
                toComplete = pickLocked(channel);
            }
            if (channel.waiters.isEmpty() && channels.get(channel.name) == channel) {
                channels.remove(channel.name);
                if (channel.sent && connection != null && !closed) {
                    connection.async().unsubscribe(channel.name).whenComplete((ok, failure) -> {
                        if (failure != null) {
                            LOG.debug("UNSUBSCRIBE {} on {} failed", channel.name, endpoint, failure);
                        }
                    });
                }
            }
        }
        if (toComplete != null) {
            toComplete.complete(null);
        }
    }

    /** Closes the pub/sub connection; later joins get a failed subscription (and rely on timed retries). */
    public void close() {
        StatefulRedisPubSubConnection<String, String> toClose;
        synchronized (lock) {
            closed = true;
            toClose = connection;
            connection = null;
        }
        if (toClose != null) {
            try {
                toClose.close();
            } catch (RuntimeException e) {
                LOG.debug("closing the pub/sub connection to {} failed", endpoint, e);
            }
        }
    }

    // guarded by lock
    private void subscribeLocked(Channel channel) {
        if (closed) {
            channel.subscribed.completeExceptionally(new IllegalStateException("the lock client is closed"));
            return;
        }
        // bounded: a waiter must not hang on a slow subscription; the SUBSCRIBE itself stays in force
        channel.subscribed.orTimeout(timeout.toNanos(), TimeUnit.NANOSECONDS);
        if (connection != null) {
            sendSubscribeLocked(connection, channel);
        } else if (!connecting) {
            connecting = true;
            CompletionStage<? extends StatefulRedisPubSubConnection<String, String>> opening;
            try {
                opening = connector.get();
            } catch (RuntimeException e) {
                opening = CompletableFuture.failedFuture(e);
            }
            opening.whenComplete(this::onConnected);
        }
    }

    // guarded by lock
    private void sendSubscribeLocked(StatefulRedisPubSubConnection<String, String> on, Channel channel) {
        channel.sent = true;
        CompletableFuture<Void> subscribed = channel.subscribed;
        on.async().subscribe(channel.name).whenComplete((ok, failure) -> {
            if (failure == null) {
                subscribed.complete(null);
            } else {
                LOG.warn("SUBSCRIBE {} on {} failed; waiters of that lock retry at the holder's lease expiry instead"
                        + " of being woken by its release", channel.name, endpoint, failure);
                subscribed.completeExceptionally(failure);
            }
        });
    }

    private void onConnected(@Nullable StatefulRedisPubSubConnection<String, String> opened,
            @Nullable Throwable failure) {
        List<CompletableFuture<Void>> failed = new ArrayList<>();
        synchronized (lock) {
            connecting = false;
            if (failure != null || opened == null) {
                LOG.warn("cannot open the pub/sub connection to {}; waiters retry at the holder's lease expiry"
                        + " instead of being woken by its release", endpoint, failure);
                for (Channel channel : channels.values()) {
                    if (!channel.sent) {
                        failed.add(channel.subscribed);
                    }
                }
            } else if (closed) {
                opened.closeAsync();
            } else {
                connection = opened;
                opened.addListener(new Listener());
                for (Channel channel : channels.values()) {
                    if (!channel.sent) {
                        sendSubscribeLocked(opened, channel);
                    }
                }
            }
        }
        Throwable cause = failure != null ? failure : new IllegalStateException("no pub/sub connection");
        failed.forEach(subscribed -> subscribed.completeExceptionally(cause));
    }

    // guarded by lock: the oldest waiter with no wake-up pending gets one
    private @Nullable CompletableFuture<Void> pickLocked(Channel channel) {
        for (Waiter waiter : channel.waiters) {
            if (!waiter.woken) {
                waiter.woken = true;
                return waiter.signal;
            }
        }
        return null; // every waiter already has a wake-up to use
    }

    private void onMessage(String channelName) {
        CompletableFuture<Void> toComplete = null;
        synchronized (lock) {
            Channel channel = channels.get(channelName);
            if (channel != null) {
                toComplete = pickLocked(channel);
            }
        }
        if (toComplete != null) {
            toComplete.complete(null);
        }
    }

    private void onSubscribed(String channelName) {
        List<CompletableFuture<Void>> toComplete = new ArrayList<>();
        synchronized (lock) {
            Channel channel = channels.get(channelName);
            if (channel == null || ++channel.confirmations == 1) {
                return; // the first confirmation: the subscribed future covers it
            }
            // subscribed again after a reconnect: releases published meanwhile were lost, so everyone looks
            for (Waiter waiter : channel.waiters) {
                if (!waiter.woken) {
                    waiter.woken = true;
                    toComplete.add(waiter.signal);
                }
            }
        }
        toComplete.forEach(signal -> signal.complete(null));
    }

    private final class Listener extends RedisPubSubAdapter<String, String> {
        @Override
        public void message(String channel, String message) {
            onMessage(channel);
        }

        @Override
        public void subscribed(String channel, long count) {
            onSubscribed(channel);
        }
    }
}
