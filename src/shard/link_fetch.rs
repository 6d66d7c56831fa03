//! Fetching a GRIP Next link: the GET ringpin sends, retries, and collapsing of identical
//! concurrent fetches (PUSHPIN.md §5.3).
//!
//! Owns: building the link request (through the client request's route when the link has
//! the same host and port, with `Grip-Sig`, `Grip-Feature` and path rewriting; otherwise
//! straight to the link's host, unsigned), one exchange per target with failover, reading the
//! answer into an `Instruction`, the retry schedule (`grip::link::retry_delay`), and
//! `InFlight`, which lets fetches whose request bytes and targets are identical share one
//! origin exchange.
//! Must not: touch the client connection or its registration (`next_link.rs` does).
//! Invariants: a link request carries no client header but `Host` and `Grip-Last`; only
//! byte-identical requests to the same targets are collapsed, so two clients never share an
//! answer meant for a different request (Pushpin's collapsing by URL without query caused
//! cross-talk, #47692); a dead or slow origin costs at most `LINK_FETCH_TIMEOUT` per attempt
//! and `LINK_FETCH_RETRIES_MAX` retries; a fetch whose leading task is dropped (its client
//! left) is taken over by a waiting one, never reported to it as a failure.

use super::ShardContext;
use crate::config::{Route, Target};
use crate::grip::link::{retry_delay, LinkError};
use crate::grip::{parse_instruction, HoldMode, InstructError, Instruction, LinkUrl};
use crate::http::ClientRequest;
use crate::http::{encode_request_head, BodyDecoder, Headers, RequestHead, ResponseHead, Version};
use crate::limits::{LINK_FETCH_TIMEOUT, LINK_RESPONSE_BODY_BYTES_MAX, ORIGIN_INACTIVITY_TIMEOUT};
use crate::origin::failover::{with_failover, Connection, FailoverError};
use crate::origin::pool::{head_error_text, read_final_head, OriginConn};
use crate::origin::request::{build_origin_request, BodyFraming, ForwardContext};
use bytes::Bytes;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

/// Why a link fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkFetchError {
    /// The link or a `Grip-Last` value could not be used.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// No target accepted a connection.
    #[error("unable to connect to any targets; tried: {tried}")]
    Connect {
        /// The targets tried.
        tried: String,
    },
    /// This shard has no origin socket to spare right now.
    #[error("origin connection limit of {open_max} reached on this shard")]
    Exhausted {
        /// The shard's bound on open origin sockets.
        open_max: usize,
    },
    /// The exchange failed after connecting.
    #[error("link request to {target} failed: {reason}")]
    Exchange {
        /// `host:port`.
        target: String,
        /// What went wrong.
        reason: String,
    },
    /// The origin answered with a status outside 2xx.
    #[error("link response from {target} has status {status}")]
    Status {
        /// `host:port`.
        target: String,
        /// The status code.
        status: u16,
    },
    /// The answer's GRIP instruction is invalid.
    #[error("link response from {target}: {source}")]
    Instruct {
        /// `host:port`.
        target: String,
        /// The parse error.
        source: InstructError,
    },
    /// The answer is a response hold, which a stream cannot become.
    #[error("Next link returned non-stream hold.")]
    NonStreamHold,
    /// The fetch this one was collapsed into was abandoned (its client went away).
    #[error("the shared link fetch was abandoned")]
    Abandoned,
}

impl LinkFetchError {
    /// True for failures of the exchange itself, which a later attempt may not meet
    /// (PUSHPIN.md §5.3); an answer that was received but refused is final, as in Pushpin.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LinkFetchError::Connect { .. }
                | LinkFetchError::Exhausted { .. }
                | LinkFetchError::Exchange { .. }
                | LinkFetchError::Status { .. }
        )
    }
}

/// What a link fetch gives: the instruction of its answer (whose `response.body` is appended).
pub type LinkResult = Rc<Result<Instruction, LinkFetchError>>;

/// One way to send the link request: a target and the exact request bytes for it.
#[derive(Debug)]
struct Attempt {
    host: String,
    port: u16,
    head: Vec<u8>,
}

/// Link fetches in flight on this shard, keyed by their attempts' bytes.
#[derive(Debug, Default)]
pub struct InFlight {
    fetches: RefCell<HashMap<Vec<u8>, Rc<Shared>>>,
}

#[derive(Debug, Default)]
struct Shared {
    result: RefCell<Option<LinkResult>>,
    waiters: RefCell<Vec<Waker>>,
}

/// Completes a collapsed fetch when dropped: with its result, or `Abandoned` when the
/// leading task was cancelled, so waiters never wait forever.
struct Leader<'a> {
    in_flight: &'a InFlight,
    key: Vec<u8>,
    shared: Rc<Shared>,
}

impl Leader<'_> {
    fn finish(&self, result: LinkResult) {
        *self.shared.result.borrow_mut() = Some(result);
    }
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        if self.shared.result.borrow().is_none() {
            self.finish(Rc::new(Err(LinkFetchError::Abandoned)));
        }
        self.in_flight.fetches.borrow_mut().remove(&self.key);
        for waker in self.shared.waiters.borrow_mut().drain(..) {
            waker.wake();
        }
    }
}

/// Fetches `url` for the client request `req` along `route`, retrying failures with
/// backoff while the shard is not shutting down.
pub async fn fetch_with_retries(
    ctx: &ShardContext,
    route: &Route,
    req: &ClientRequest,
    base: &LinkUrl,
    url: &LinkUrl,
    grip_last: &[String],
) -> LinkResult {
    let mut attempt = 0;
    loop {
        let result = fetch_once(ctx, route, req, base, url, grip_last).await;
        let err = match result.as_ref() {
            Err(err) if err.is_retryable() => err,
            _ => return result,
        };
        let jitter = Duration::from_millis(super::random::random_u64() % 1000);
        let delay = match retry_delay(attempt, jitter) {
            Some(delay) if !ctx.control.is_shutting_down() => delay,
            _ => return result,
        };
        crate::log_limited!(
            Warn,
            "shard={} next link http://{}{}: {err}; retry in {} ms",
            ctx.id.0,
            url.host_header(),
            url.path_and_query,
            delay.as_millis()
        );
        glommio::timer::sleep(delay).await;
        attempt += 1;
    }
}

/// One fetch, shared with any identical fetch already in flight on this shard.
async fn fetch_once(
    ctx: &ShardContext,
    route: &Route,
    req: &ClientRequest,
    base: &LinkUrl,
    url: &LinkUrl,
    grip_last: &[String],
) -> LinkResult {
    let attempts = attempts(ctx, route, req, base, url, grip_last);
    let key = collapse_key(&attempts);
    loop {
        let existing = ctx
            .recovery
            .link_fetches
            .fetches
            .borrow()
            .get(&key)
            .cloned();
        let Some(shared) = existing else {
            break;
        };
        let result = wait_for(&shared).await;
        if !matches!(result.as_ref(), Err(LinkFetchError::Abandoned)) {
            return result;
        }
    }
    let shared = Rc::new(Shared::default());
    let leader = Leader {
        in_flight: &ctx.recovery.link_fetches,
        key: key.clone(),
        shared: Rc::clone(&shared),
    };
    ctx.recovery
        .link_fetches
        .fetches
        .borrow_mut()
        .insert(key, shared);
    // Waiting for a permit as the leader: identical fetches queued behind it still collapse.
    let permit = ctx.recovery.refetches.acquire_permit(1).await;
    ctx.counters.refetches.add(1);
    let result = Rc::new(run_attempts(ctx, route, &attempts).await);
    drop(permit);
    if result.is_err() {
        ctx.counters.link_fetches_failed.add(1);
    }
    leader.finish(Rc::clone(&result));
    result
}

async fn wait_for(shared: &Shared) -> LinkResult {
    std::future::poll_fn(|cx| match shared.result.borrow().as_ref() {
        Some(result) => Poll::Ready(Rc::clone(result)),
        None => {
            shared.waiters.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        }
    })
    .await
}

fn collapse_key(attempts: &[Attempt]) -> Vec<u8> {
    let mut key = Vec::new();
    for attempt in attempts {
        key.extend_from_slice(format!("{}:{}\n", attempt.host, attempt.port).as_bytes());
        key.extend_from_slice(&attempt.head);
    }
    key
}

/// The request for each target: through `route` when `url` has the client request's host
/// and port, else straight to `url`'s host.
fn attempts(
    ctx: &ShardContext,
    route: &Route,
    req: &ClientRequest,
    base: &LinkUrl,
    url: &LinkUrl,
    grip_last: &[String],
) -> Vec<Attempt> {
    let mut headers = Headers::new();
    headers.push("Host", url.host_header());
    let client_side = RequestHead {
        method: "GET".to_owned(),
        target: url.path_and_query.clone(),
        version: Version::Http11,
        headers,
    };
    let with_grip_last = |mut head: RequestHead| {
        for value in grip_last {
            head.headers.push("Grip-Last", value.as_bytes());
        }
        let mut bytes = Vec::with_capacity(512);
        encode_request_head(&head, &mut bytes);
        bytes
    };
    if !url.same_origin(base) {
        return vec![Attempt {
            host: url.host.trim_matches(['[', ']']).to_owned(),
            port: url.port,
            head: with_grip_last(client_side),
        }];
    }
    let token = super::proxy::route_grip_sig(ctx, route);
    let mut attempts = Vec::new();
    for target in &route.targets {
        let Target::Http(target) = target else {
            continue;
        };
        let forward = ForwardContext {
            route,
            target,
            peer_ip: req.peer.ip(),
            grip_sig: token.as_deref(),
            xff: &ctx.config.x_forwarded_for,
            body: BodyFraming::None,
        };
        attempts.push(Attempt {
            host: target.host.clone(),
            port: target.port,
            head: with_grip_last(build_origin_request(&client_side, &forward)),
        });
    }
    attempts
}

/// Sends the attempts through `origin::failover`: the next one only when connecting fails,
/// and one fresh retry when a reused connection turns out dead (a GET may be sent again).
async fn run_attempts(
    ctx: &ShardContext,
    route: &Route,
    attempts: &[Attempt],
) -> Result<Instruction, LinkFetchError> {
    let targets: Vec<(&str, u16)> = attempts.iter().map(|a| (a.host.as_str(), a.port)).collect();
    let exchanged = with_failover(
        &ctx.pool,
        &targets,
        Connection::Pooled,
        |_: &String| true,
        async |origin, index| exchange_within(origin, &attempts[index].head).await,
    )
    .await;
    match exchanged {
        Ok(((head, body, reusable), origin, index)) => {
            let attempt = &attempts[index];
            if reusable {
                ctx.pool.put(&attempt.host, attempt.port, origin);
            }
            let name = format!("{}:{}", attempt.host, attempt.port);
            interpret(route, ctx, name, head, body)
        }
        Err(FailoverError::Exhausted { open_max }) => Err(LinkFetchError::Exhausted { open_max }),
        Err(FailoverError::ConnectFailed { tried }) => Err(LinkFetchError::Connect { tried }),
        Err(FailoverError::Exchange { target, error }) => Err(LinkFetchError::Exchange {
            target,
            reason: error,
        }),
    }
}

/// `exchange`, failing after `LINK_FETCH_TIMEOUT`.
async fn exchange_within(
    origin: &mut OriginConn,
    request: &[u8],
) -> Result<(ResponseHead, Bytes, bool), String> {
    let timeout = async {
        glommio::timer::sleep(LINK_FETCH_TIMEOUT).await;
        Err(format!("no complete answer within {LINK_FETCH_TIMEOUT:?}"))
    };
    futures_lite::future::or(exchange(origin, request), timeout).await
}

/// Sends `request` and reads the whole answer; true when the connection may be reused.
async fn exchange(
    origin: &mut OriginConn,
    request: &[u8],
) -> Result<(ResponseHead, Bytes, bool), String> {
    origin.write_all(request).await.map_err(|e| e.to_string())?;
    let _ = origin.set_read_timeout(Some(ORIGIN_INACTIVITY_TIMEOUT));
    let head = read_final_head(origin, false)
        .await
        .map_err(head_error_text)?;
    let kind = head.body_kind("GET").map_err(|e| e.to_string())?;
    let mut decoder = BodyDecoder::new(kind);
    let mut body = Vec::new();
    let limit = LINK_RESPONSE_BODY_BYTES_MAX;
    match origin.read_body(&mut decoder, &mut body, limit + 1).await {
        Ok(true) if body.len() <= limit => {}
        Ok(_) => return Err(format!("body over {limit} bytes")),
        Err(err) => return Err(err.to_string()),
    }
    let reusable = head.is_keep_alive() && kind != crate::http::BodyKind::CloseDelimited;
    Ok((head, Bytes::from(body), reusable))
}

/// The answer as an instruction: 2xx only, and never a response hold.
fn interpret(
    route: &Route,
    ctx: &ShardContext,
    target: String,
    head: ResponseHead,
    body: Bytes,
) -> Result<Instruction, LinkFetchError> {
    if !(200..300).contains(&head.status) {
        return Err(LinkFetchError::Status {
            target,
            status: head.status,
        });
    }
    let instruction = parse_instruction(
        head.status,
        &head.reason,
        &head.headers,
        body,
        &route.prefix,
        ctx.config.connection_subscriptions_max,
    )
    .map_err(|source| LinkFetchError::Instruct { target, source })?;
    if instruction.hold == Some(HoldMode::Response) {
        return Err(LinkFetchError::NonStreamHold);
    }
    Ok(instruction)
}
