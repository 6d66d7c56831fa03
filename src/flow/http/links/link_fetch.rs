//! Fetching a GRIP Next link: the GET ringpin sends, retries, and collapsing of identical
//! concurrent fetches (PUSHPIN.md §5.3).
//!
//! Owns: building the link request (through the client request's route when the link has
//! the same host and port, with `Grip-Sig`, `Grip-Feature` and path rewriting; otherwise
//! straight to the link's host, unsigned), one exchange per target with failover, reading the
//! answer into an `Instruction`, and the retry schedule (`grip::link::retry_delay`).
//! Fetches whose request bytes and targets are identical share one origin exchange through
//! the shard's `collapse::Collapse` registry.
//! Must not: touch the client connection or its registration (`next_link.rs` does).
//! Invariants: a link request carries no client header but `Host` and `Grip-Last`; only
//! byte-identical requests to the same targets are collapsed, so two clients never share an
//! answer meant for a different request (Pushpin's collapsing by URL without query caused
//! cross-talk, #47692); a dead or slow origin costs at most `LINK_FETCH_TIMEOUT` per attempt
//! and `LINK_FETCH_RETRIES_MAX` retries; a fetch whose leading task is dropped (its client
//! left) is taken over by a waiting one, never reported to it as a failure.

use crate::config::Route;
use crate::grip::link::LinkRetry;
use crate::grip::{parse_instruction, HoldMode, Instruction, LinkUrl};
use crate::http::ClientRequest;
use crate::http::{encode_request_head, BodyDecoder, Headers, RequestHead, ResponseHead, Version};
use crate::limits::{LINK_FETCH_TIMEOUT, LINK_RESPONSE_BODY_BYTES_MAX, ORIGIN_INACTIVITY_TIMEOUT};
use crate::origin::endpoint::Endpoint;
use crate::origin::failover::{with_failover, Connection, FailoverError};
use crate::origin::link::{LinkFetchError, LinkResult};
use crate::origin::pool::{head_error_text, read_final_head, OriginConn};
use crate::origin::request::{build_origin_request, BodyFraming, ForwardContext};
use crate::shard::ShardContext;
use bytes::Bytes;
use std::rc::Rc;
use std::time::Duration;

/// One way to send the link request: a target and the exact request bytes for it.
#[derive(Debug)]
pub(super) struct Attempt {
    endpoint: Endpoint,
    head: Vec<u8>,
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
    let mut retry = LinkRetry::default();
    loop {
        let result = fetch_once(ctx, route, req, base, url, grip_last).await;
        let Err(err) = result.as_ref() else {
            return result;
        };
        let jitter = Duration::from_millis(crate::shard::random::random_u64() % 1000);
        let shutting_down = ctx.control.is_shutting_down();
        let Some(delay) = retry.on_failure(err.is_retryable(), shutting_down, jitter) else {
            return result;
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
    let attempts = attempts(ctx, route, req, base, url, link_request(url, grip_last));
    let abandoned = Rc::new(Err(LinkFetchError::Abandoned));
    let is_abandoned = |r: &LinkResult| matches!(r.as_ref(), Err(LinkFetchError::Abandoned));
    let fetch = || async {
        // Waiting for a permit as the leader: identical fetches queued behind it still
        // collapse.
        let permit = ctx.refetch_permit().await;
        let result = Rc::new(run_attempts(ctx, route, &attempts).await);
        drop(permit);
        if result.is_err() {
            ctx.counters.link_fetches_failed.add(1);
        }
        result
    };
    let key = collapse_key(&attempts);
    ctx.link_fetches()
        .run(key, abandoned, is_abandoned, fetch)
        .await
}

fn collapse_key(attempts: &[Attempt]) -> Vec<u8> {
    let mut key = Vec::new();
    for attempt in attempts {
        key.extend_from_slice(format!("{:?}\n", attempt.endpoint).as_bytes());
        key.extend_from_slice(&attempt.head);
    }
    key
}

/// The GET of a next link: `Host` and one `Grip-Last` per channel.
fn link_request(url: &LinkUrl, grip_last: &[String]) -> RequestHead {
    let mut head = bare_request("GET", url);
    for value in grip_last {
        head.headers.push("Grip-Last", value.as_bytes());
    }
    head
}

/// A request for `url` that carries only `Host`.
pub(super) fn bare_request(method: &str, url: &LinkUrl) -> RequestHead {
    let mut headers = Headers::new();
    headers.push("Host", url.host_header());
    RequestHead {
        method: method.to_owned(),
        target: url.path_and_query.clone(),
        version: Version::Http11,
        headers,
    }
}

/// The request `client_side` for each target: through `route` when `url` has the client
/// request's host and port (rewritten and signed as the client's request would be), else
/// straight to `url`'s host as it is. Headers of `client_side` that the rewrite drops
/// (`Grip-*`) are added back after it.
pub(super) fn attempts(
    ctx: &ShardContext,
    route: &Route,
    req: &ClientRequest,
    base: &LinkUrl,
    url: &LinkUrl,
    client_side: RequestHead,
) -> Vec<Attempt> {
    let encode = |head: &RequestHead| {
        let mut bytes = Vec::with_capacity(512);
        encode_request_head(head, &mut bytes);
        bytes
    };
    if !url.same_origin(base) {
        return vec![Attempt {
            endpoint: match url.tls {
                true => Endpoint::https(url.host.trim_matches(['[', ']']), url.port),
                false => Endpoint::plain(url.host.trim_matches(['[', ']']), url.port),
            },
            head: encode(&client_side),
        }];
    }
    let grip_last: Vec<&[u8]> = client_side.headers.get_all("Grip-Last").collect();
    let token = ctx.route_grip_sig(route);
    let mut attempts = Vec::new();
    for target in route.http_targets() {
        let forward = ForwardContext {
            route,
            target,
            peer_ip: req.peer.ip(),
            grip_sig: token.as_deref(),
            xff: &ctx.config.x_forwarded_for,
            body: BodyFraming::None,
            forwarded_proto: req.forwarded_proto(),
        };
        let mut head = build_origin_request(&client_side, &forward);
        for value in &grip_last {
            head.headers.push("Grip-Last", *value);
        }
        attempts.push(Attempt {
            endpoint: Endpoint::of(route, target, &req.host),
            head: encode(&head),
        });
    }
    attempts
}

/// Sends the attempts and reads the answer as an instruction (`interpret`).
async fn run_attempts(
    ctx: &ShardContext,
    route: &Route,
    attempts: &[Attempt],
) -> Result<Instruction, LinkFetchError> {
    let (name, head, body) = send_attempts(ctx, attempts).await?;
    interpret(route, ctx, name, head, body)
}

/// Sends the attempts through `origin::failover`: the next one only when connecting fails,
/// and one fresh retry when a reused connection turns out dead (a GET may be sent again).
/// Returns the target that answered, the answer's head and its body.
pub(super) async fn send_attempts(
    ctx: &ShardContext,
    attempts: &[Attempt],
) -> Result<(String, ResponseHead, Bytes), LinkFetchError> {
    let targets: Vec<Endpoint> = attempts.iter().map(|a| a.endpoint.clone()).collect();
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
                ctx.pool.put(&attempt.endpoint, origin);
            }
            Ok((attempt.endpoint.to_string(), head, body))
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
