//! Named sessions: held connections that control commands can find by an id their origin
//! knows them by. Today these are the WebSocket-over-HTTP connections, named by their
//! `Connection-Id`; the ZeroMQ command socket's `conncheck` and `refresh` (PUSHPIN.md §3.5)
//! ask every shard about them.
//!
//! Owns: the id -> connection map (a field of `ShardContext`), naming a connection, and the
//! shard's answer to a `SessionQuery`: the ids it matched, after flagging and waking the
//! connections a refresh names.
//! Must not: act on a refresh itself. The connection's task sees `Sink::refresh` when woken
//! and decides what a refresh means for its protocol (for WebSocket-over-HTTP: a request to
//! the origin now).
//! Invariants: an id is removed with its held entry (`unregister_hold`), so a reused
//! `ConnKey` is never reached through a stale name; an id names at most one connection (a
//! second registration of the same id replaces the first).

use super::connections::Connections;
use super::ShardContext;
use crate::fanout::{ConnKey, Subscriptions};
use crate::router::msg::{SessionAsk, SessionQuery};

impl ShardContext {
    /// Names the held connection `key` `id`, for `conncheck` and `refresh`.
    pub fn name_session(&self, key: ConnKey, id: &str) {
        let named = self.with_held(key, |entry| entry.session_id = Some(id.into()));
        if named.is_some() {
            if let Some(previous) = self.sessions.borrow_mut().insert(id.into(), key) {
                if previous != key {
                    self.with_held(previous, |entry| entry.session_id = None);
                }
            }
        }
    }

    /// Answers `query` for this shard: the ids it matched go back on the query's channel.
    pub(super) fn answer_sessions(
        &self,
        query: SessionQuery,
        subs: &Subscriptions,
        held: &mut Connections,
    ) {
        let sessions = self.sessions.borrow();
        let matched: Vec<String> = match &query.ask {
            SessionAsk::Check(ids) => (ids.iter())
                .filter(|id| sessions.contains_key(id.as_str()))
                .cloned()
                .collect(),
            SessionAsk::RefreshConnection(id) => match sessions.get(id.as_str()) {
                Some(&key) if refresh(held, key) => vec![id.clone()],
                _ => Vec::new(),
            },
            SessionAsk::RefreshChannel(channel) => (subs.subscribers(channel).iter())
                .filter_map(|&key| {
                    let id = held.get_mut(key)?.session_id.as_deref()?.to_owned();
                    refresh(held, key).then_some(id)
                })
                .collect(),
        };
        (query.reply)(matched);
    }
}

/// Flags the held connection `key` for a refresh and wakes its task; false if it is gone.
fn refresh(held: &mut Connections, key: ConnKey) -> bool {
    let Some(entry) = held.get_mut(key) else {
        return false;
    };
    entry.sink.refresh = true;
    held.wake(key);
    true
}
