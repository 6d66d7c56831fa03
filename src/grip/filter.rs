//! Filters: the per-subscriber exceptions to "every subscriber gets the same bytes".
//!
//! Owns: the filter names a channel subscription may carry (PUSHPIN.md §2.5), a subscriber's
//! filter state (`SubscriberFilters`: its metadata, its channels with their filters and current
//! prev-ids), and the decision for one published item: deliver as is, deliver rewritten, drop,
//! or fail the session.
//! Must not: touch queues or sockets, or read the clock; `fanout` asks, then acts.
//! Invariants: a subscriber without any known filter has no `SubscriberFilters` at all, so the
//! shared-bytes delivery path never reaches this module; unknown filter names are ignored,
//! as Pushpin 1.36 ignores them; content without a `%` is never copied.
//! The state is transport-neutral: a WebSocket connection's `set-meta` and filtered
//! `subscribe` control messages map onto `set_meta` and `subscribe`.

use super::instruct::{upsert, ChannelSub};
use super::template::{self, render, Directive, TemplateError};

/// Lower-case hex digits for `id_encoding=hex` (Pushpin's `QByteArray::toHex`).
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// One filter a channel subscription may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Drop an item whose publish meta `sender` is this subscriber's meta `user`.
    SkipSelf,
    /// Drop an item whose publish meta `skip_users` (a comma list) names this `user`.
    SkipUsers,
    /// Drop an item unless this subscriber is subscribed to publish meta `require_sub`.
    RequireSub,
    /// Replace `%I` in content with an id built from meta `id_format` and the prev-ids.
    BuildId,
    /// Replace `%(name)s` in content with subscription meta `name`.
    VarSubst,
}

impl Filter {
    /// Every filter ringpin implements, in Pushpin's order.
    pub const ALL: [Filter; 5] = [
        Filter::SkipSelf,
        Filter::SkipUsers,
        Filter::RequireSub,
        Filter::BuildId,
        Filter::VarSubst,
    ];

    /// The filter called `name`, if ringpin knows it.
    pub fn from_name(name: &str) -> Option<Filter> {
        Filter::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The name used in `Grip-Channel: c; filter=NAME` and in `content-filters`.
    pub fn name(self) -> &'static str {
        match self {
            Filter::SkipSelf => "skip-self",
            Filter::SkipUsers => "skip-users",
            Filter::RequireSub => "require-sub",
            Filter::BuildId => "build-id",
            Filter::VarSubst => "var-subst",
        }
    }

    /// True for filters that rewrite published content (what `content-filters` lists).
    pub fn rewrites_content(self) -> bool {
        matches!(self, Filter::BuildId | Filter::VarSubst)
    }

    /// True for filters that also rewrite the initial response body of a stream hold.
    pub fn rewrites_response(self) -> bool {
        self == Filter::BuildId
    }
}

/// Why a filter failed; the subscriber's session ends (PUSHPIN.md §2.5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The item's `content-filters` differ from the subscription's content filters.
    #[error("content filter mismatch: subscription={subscription} message={message}")]
    ContentFiltersMismatch {
        /// The subscription's content filters, comma-joined.
        subscription: String,
        /// The item's `content-filters`, comma-joined.
        message: String,
    },
    /// `build-id` without subscription meta `id_format`.
    #[error("no sub meta 'id_format'")]
    NoIdFormat,
    /// Subscription meta `id_encoding` other than `hex`.
    #[error("unsupported encoding: {encoding}")]
    UnsupportedEncoding {
        /// The meta value.
        encoding: String,
    },
    /// Meta `id_format` could not be rendered from the prev-ids.
    #[error("failed to render ID: {0}")]
    IdFormat(TemplateError),
    /// The content could not be rendered.
    #[error("{0}")]
    Content(TemplateError),
}

/// What a subscriber gets for one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The item's shared bytes, unchanged.
    Deliver,
    /// This content instead of the item's.
    Rewrite(Vec<u8>),
    /// Nothing: a filter withheld the item.
    Drop,
    /// A filter failed: end the session.
    Fail(FilterError),
}

/// The parts of a published item that filters read.
#[derive(Debug, Clone, Copy)]
pub struct ItemView<'a> {
    /// The item's channel.
    pub channel: &'a str,
    /// The item's id.
    pub id: Option<&'a str>,
    /// Publish meta (`sender`, `skip_users`, `require_sub`, …).
    pub meta: &'a [(String, String)],
    /// The item's `content-filters`, when it has them.
    pub content_filters: Option<&'a [String]>,
    /// The content filters may rewrite; `None` for actions without content (close).
    pub content: Option<&'a [u8]>,
}

/// One channel of a filtered subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ChannelState {
    name: String,
    /// The last id this subscriber is known to have, for `%(channel)s` in `id_format`.
    prev_id: Option<String>,
    filters: Vec<Filter>,
}

/// A subscriber's metadata and per-channel filters (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriberFilters {
    meta: Vec<(String, String)>,
    channels: Vec<ChannelState>,
}

impl SubscriberFilters {
    /// State with subscription metadata `meta` and no channels yet.
    pub fn new(meta: Vec<(String, String)>) -> SubscriberFilters {
        SubscriberFilters {
            meta,
            channels: Vec::new(),
        }
    }

    /// The state of a held HTTP request, or `None` when no channel names a known filter
    /// (then delivery never consults filters).
    pub fn for_hold(meta: &[(String, String)], channels: &[ChannelSub]) -> Option<Self> {
        let mut state = SubscriberFilters::new(meta.to_vec());
        for channel in channels {
            state.subscribe(&channel.name, channel.prev_id.clone(), &channel.filters);
        }
        state.has_filters().then_some(state)
    }

    /// Subscribes to (or updates) `channel`; unknown filter names are ignored.
    pub fn subscribe(&mut self, channel: &str, prev_id: Option<String>, filters: &[String]) {
        let filters = filters
            .iter()
            .filter_map(|f| Filter::from_name(f))
            .collect();
        match self.channels.iter_mut().find(|c| c.name == channel) {
            Some(state) => {
                state.prev_id = prev_id;
                state.filters = filters;
            }
            None => self.channels.push(ChannelState {
                name: channel.to_string(),
                prev_id,
                filters,
            }),
        }
    }

    /// Forgets `channel`.
    pub fn unsubscribe(&mut self, channel: &str) {
        self.channels.retain(|c| c.name != channel);
    }

    /// Replaces all subscription meta (a WebSocket session's, after `set-meta`).
    pub fn replace_meta(&mut self, meta: Vec<(String, String)>) {
        self.meta = meta;
    }

    /// Sets subscription meta `key` (WebSocket `set-meta`).
    pub fn set_meta(&mut self, key: &str, value: String) {
        upsert(&mut self.meta, key, value);
    }

    /// True when some channel has a filter.
    pub fn has_filters(&self) -> bool {
        self.channels.iter().any(|c| !c.filters.is_empty())
    }

    /// Decides what this subscriber gets for `item`, and advances the channel's prev-id to
    /// the item's id (Pushpin does this before filtering, so `%I` names the item itself).
    pub fn on_item(&mut self, item: ItemView<'_>) -> Verdict {
        let Some(index) = self.channels.iter().position(|c| c.name == item.channel) else {
            return Verdict::Deliver;
        };
        let channel = &mut self.channels[index];
        if channel.prev_id.is_some() {
            channel.prev_id = item.id.map(str::to_string);
        }
        let filters = &self.channels[index].filters;
        if let Some(listed) = item.content_filters {
            let own = filters.iter().filter(|f| f.rewrites_content());
            if !own
                .clone()
                .map(|f| f.name())
                .eq(listed.iter().map(String::as_str))
            {
                return Verdict::Fail(FilterError::ContentFiltersMismatch {
                    subscription: own.map(|f| f.name()).collect::<Vec<_>>().join(","),
                    message: listed.join(","),
                });
            }
        }
        if filters.iter().any(|&f| self.withholds(f, item.meta)) {
            return Verdict::Drop;
        }
        let Some(content) = item.content else {
            return Verdict::Deliver;
        };
        match self.rewrite(filters, content, true) {
            Ok(Some(bytes)) => Verdict::Rewrite(bytes),
            Ok(None) => Verdict::Deliver,
            Err(err) => Verdict::Fail(err),
        }
    }

    /// The initial response body of a stream hold with its response filters (`build-id`)
    /// applied; `None` when it is unchanged. Pushpin gives these no prev-ids, so a bare `%I`
    /// fails here.
    pub fn on_response_body(&self, body: &[u8]) -> Result<Option<Vec<u8>>, FilterError> {
        let mut filters: Vec<Filter> = Vec::new();
        for f in self.channels.iter().flat_map(|c| &c.filters) {
            if f.rewrites_response() && !filters.contains(f) {
                filters.push(*f);
            }
        }
        if body.is_empty() {
            return Ok(None);
        }
        self.rewrite(&filters, body, false)
    }

    /// True when delivery filter `filter` withholds an item with publish meta `meta`.
    fn withholds(&self, filter: Filter, meta: &[(String, String)]) -> bool {
        let user = lookup(&self.meta, "user").filter(|u| !u.is_empty());
        match filter {
            Filter::SkipSelf => {
                let sender = lookup(meta, "sender").filter(|s| !s.is_empty());
                user.is_some() && sender == user
            }
            Filter::SkipUsers => user.is_some_and(|user| {
                lookup(meta, "skip_users")
                    .is_some_and(|list| list.split(',').any(|u| u.trim() == user))
            }),
            Filter::RequireSub => lookup(meta, "require_sub")
                .filter(|c| !c.is_empty())
                .is_some_and(|required| self.channels.iter().all(|c| c.name != required)),
            Filter::BuildId | Filter::VarSubst => false,
        }
    }

    /// Applies the content filters among `filters` in order; `None` when nothing changed.
    fn rewrite(
        &self,
        filters: &[Filter],
        content: &[u8],
        with_prev_ids: bool,
    ) -> Result<Option<Vec<u8>>, FilterError> {
        let mut current: Option<Vec<u8>> = None;
        for &filter in filters {
            let input = current.as_deref().unwrap_or(content);
            let output = match filter {
                Filter::BuildId => self.build_id(input, with_prev_ids)?,
                Filter::VarSubst => self.var_subst(input)?,
                _ => continue,
            };
            if let Some(output) = output {
                current = Some(output);
            }
        }
        Ok(current)
    }

    /// `build-id`: `%I` becomes the rendered `id_format`, `%(ID)I` becomes `ID`.
    fn build_id(
        &self,
        content: &[u8],
        with_prev_ids: bool,
    ) -> Result<Option<Vec<u8>>, FilterError> {
        let format = lookup(&self.meta, "id_format").ok_or(FilterError::NoIdFormat)?;
        let default_id = if with_prev_ids {
            Some(self.render_id(format)?)
        } else {
            None
        };
        let hex = match lookup(&self.meta, "id_encoding") {
            None => false,
            Some("hex") => true,
            Some(other) => {
                return Err(FilterError::UnsupportedEncoding {
                    encoding: other.to_string(),
                })
            }
        };
        if !content.contains(&b'%') {
            return Ok(None);
        }
        let rendered = render(content, |d: Directive<'_>, out| {
            if d.kind != b'I' {
                return Err(template::unknown(d));
            }
            let id = match d.arg {
                Some(arg) => arg,
                None => default_id
                    .as_deref()
                    .ok_or(TemplateError::NoDefaultId { at: d.at })?,
            };
            if hex {
                for &byte in id {
                    out.push(HEX_DIGITS[usize::from(byte >> 4)]);
                    out.push(HEX_DIGITS[usize::from(byte & 0x0f)]);
                }
            } else {
                out.extend_from_slice(id);
            }
            Ok(())
        });
        rendered.map(Some).map_err(FilterError::Content)
    }

    /// Meta `id_format` with `%(channel)s` replaced by that channel's prev-id.
    fn render_id(&self, format: &str) -> Result<Vec<u8>, FilterError> {
        render(format.as_bytes(), |d: Directive<'_>, out| {
            let name = string_argument(d)?;
            let id = self
                .channels
                .iter()
                .find(|c| c.name == name)
                .and_then(|c| c.prev_id.as_deref())
                .ok_or_else(|| no_such_variable(d))?;
            out.extend_from_slice(id.as_bytes());
            Ok(())
        })
        .map_err(FilterError::IdFormat)
    }

    /// `var-subst`: `%(name)s` becomes subscription meta `name`.
    fn var_subst(&self, content: &[u8]) -> Result<Option<Vec<u8>>, FilterError> {
        if !content.contains(&b'%') {
            return Ok(None);
        }
        let rendered = render(content, |d: Directive<'_>, out| {
            let name = string_argument(d)?;
            let value = lookup(&self.meta, name).ok_or_else(|| no_such_variable(d))?;
            out.extend_from_slice(value.as_bytes());
            Ok(())
        });
        rendered.map(Some).map_err(FilterError::Content)
    }
}

/// The argument of an `s` directive, as text.
fn string_argument<'a>(d: Directive<'a>) -> Result<&'a str, TemplateError> {
    if d.kind != b's' {
        return Err(template::unknown(d));
    }
    let arg = d.arg.ok_or(TemplateError::ArgumentMissing {
        directive: 's',
        at: d.at,
    })?;
    std::str::from_utf8(arg).map_err(|_| no_such_variable(d))
}

fn no_such_variable(d: Directive<'_>) -> TemplateError {
    TemplateError::NoSuchVariable {
        name: String::from_utf8_lossy(d.arg.unwrap_or_default()).into_owned(),
        at: d.at,
    }
}

/// The value of `key` in a meta list.
fn lookup<'a>(meta: &'a [(String, String)], key: &str) -> Option<&'a str> {
    meta.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests;
