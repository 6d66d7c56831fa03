//! WebSocket subscriptions with filters: keeps a WebSocket connection's `Sink::filters` in
//! step with its GRIP control messages (PUSHPIN.md §2.5, §6.4).
//!
//! Owns: creating, updating and dropping the `SubscriberFilters` of a held WebSocket when a
//! `subscribe` names filters, an `unsubscribe` removes the last filtered channel, or
//! `set-meta` changes the meta that `skip-self`, `skip-users` and `var-subst` read.
//! Must not: give a connection filter state while none of its channels has a filter: it
//! would leave the shared-bytes path for nothing.
//! Invariants: while the state exists it lists every channel the connection is subscribed
//! to (channels without filters too), because the filtered path judges an item only against
//! channels it knows.

use crate::fanout::ConnKey;
use crate::grip::SubscriberFilters;
use crate::shard::ShardContext;

/// After `subscribe_held` took `channel`: records its filters, creating the state (with every
/// channel already subscribed, and the session's `meta`) on the first filtered channel.
pub fn on_subscribe(
    ctx: &ShardContext,
    key: ConnKey,
    channel: &str,
    filters: &[String],
    meta: &[(String, String)],
) {
    ctx.with_held(key, |entry| {
        let state = match entry.sink.filters.as_deref_mut() {
            Some(state) => state,
            None if filters.is_empty() => return,
            None => {
                let mut state = SubscriberFilters::new(meta.to_vec());
                for subscribed in &entry.channels {
                    state.subscribe(subscribed, None, &[]);
                }
                entry.sink.filters.insert(Box::new(state))
            }
        };
        state.subscribe(channel, None, filters);
        if !state.has_filters() {
            entry.sink.filters = None;
        }
    });
}

/// After `unsubscribe_held` removed `channel`.
pub fn on_unsubscribe(ctx: &ShardContext, key: ConnKey, channel: &str) {
    ctx.with_held(key, |entry| {
        if let Some(state) = entry.sink.filters.as_deref_mut() {
            state.unsubscribe(channel);
            if !state.has_filters() {
                entry.sink.filters = None;
            }
        }
    });
}

/// After `set-meta`: the filters read the session's meta as it is now.
pub fn on_meta(ctx: &ShardContext, key: ConnKey, meta: &[(String, String)]) {
    ctx.with_held(key, |entry| {
        if let Some(state) = entry.sink.filters.as_deref_mut() {
            state.replace_meta(meta.to_vec());
        }
    });
}
