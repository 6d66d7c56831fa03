//! Every fixed bound in ringpin, in one place, with its unit last.
//!
//! Owns: the numeric limits that protect memory and match Pushpin 1.36's defaults.
//! Must not: import anything from the crate; a limit that a user may tune is a default here
//! and a field in `config::Config`.
//! Related bounds are tied together by `const` assertions at the bottom of the file.

use std::time::Duration;

/// Largest client request head (request line + headers), as Pushpin's `client_buffer_size`.
pub const CLIENT_HEAD_BYTES_MAX: usize = 8192;
/// Longest request target a client may send; longer gets 414.
pub const CLIENT_URI_BYTES_MAX: usize = 4096;
/// Most header fields a client request may carry (condure's limit).
pub const CLIENT_HEADERS_MAX: usize = 64;
/// Most fields a JSONP request's `_headers` parameter may set; more gets 400 (ringpin's
/// bound: Pushpin has none, but the URI holding them is bounded anyway).
pub const JSONP_HEADERS_MAX: usize = CLIENT_HEADERS_MAX;
/// A connection with no traffic either way for this long is closed (condure `--stream-timeout`).
pub const CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(1800);
/// Default time a client has to send a whole request head (`--client-head-timeout`): from
/// accept for the first request, from its first byte for each later one; then 408 and close.
/// ringpin's own bound (Pushpin has none; nginx's `client_header_timeout` is 60 s), so a
/// slowloris client that trickles one byte at a time cannot hold a socket for long.
pub const CLIENT_HEAD_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);
/// A TLS client must finish its handshake within this of accept, or its connection closes:
/// a client that connects and sends nothing, or garbage, holds a socket no longer.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing TLS connection may take to send what is queued and its close_notify;
/// a client that does not read cannot hold its task longer.
pub const TLS_CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a TLS handshake with an `ssl` origin may take after the TCP connect.
pub const ORIGIN_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The read buffer `netio::Conn::fill` waits with when a connection has none; it grows to
/// `READ_CHUNK_BYTES` only once bytes arrive. A client connection waiting for a request
/// holds no buffer at all (`Conn::wait_for_bytes`).
pub const CLIENT_FIRST_READ_BYTES: usize = 512;

/// Request body bytes buffered for retries and GRIP accept (Pushpin: 100,000).
pub const REQUEST_BODY_BUFFER_BYTES_MAX: usize = 100_000;
/// Largest non-stream GRIP instruct response body (Pushpin: 100,000).
pub const GRIP_RESPONSE_BODY_BYTES_MAX: usize = 100_000;
/// Largest value of a single GRIP header list after concatenation.
pub const GRIP_HEADER_BYTES_MAX: usize = 100_000;
/// Channels one connection may subscribe to; extra ones are ignored with a warning.
pub const CONNECTION_SUBSCRIPTIONS_MAX: usize = 20;

/// Largest origin response head.
pub const ORIGIN_HEAD_BYTES_MAX: usize = 65_536;
/// Most header fields in an origin response.
pub const ORIGIN_HEADERS_MAX: usize = 128;
/// Time allowed to connect to one origin target before failing over to the next.
pub const ORIGIN_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed between bytes from an origin (zurl's inactivity timeout is 600 s). It is all
/// that bounds a relayed body that stalls (`--origin-timeout` covers the head; a streamed body
/// may last as long as it keeps moving), besides the client leaving.
pub const ORIGIN_INACTIVITY_TIMEOUT: Duration = Duration::from_secs(600);
/// Default `--origin-timeout`: the longest ringpin waits for an origin's response head (and
/// a GRIP answer's body) once the request is sent; then the client gets `504`. Pushpin's zurl
/// waits 600 s of silence. 60 s, like nginx's `proxy_read_timeout`, because a GRIP origin
/// answers at once (ringpin, not the origin, holds the long-poll) and a request waiting on a
/// silent origin holds two descriptors; an origin that runs its own long-polls longer than
/// this needs a larger value. Relayed bodies keep `ORIGIN_INACTIVITY_TIMEOUT`.
pub const ORIGIN_TIMEOUT_DEFAULT: Duration = Duration::from_secs(60);
/// How long a shard reuses an origin host name's resolved address before asking again.
pub const ORIGIN_DNS_CACHE_TTL: Duration = Duration::from_secs(30);
/// Idle keep-alive origin connections kept per shard and target.
pub const ORIGIN_POOL_IDLE_PER_TARGET_MAX: usize = 256;
/// An idle pooled origin connection older than this is closed instead of reused.
pub const ORIGIN_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest chunk-size line in a chunked body, extensions and CRLF included (hyper allows
/// a similar few hundred bytes; real peers send under 20).
pub const CHUNK_SIZE_LINE_BYTES_MAX: usize = 1024;
/// Largest trailer section after the last chunk, final empty line included; trailers are
/// read and discarded.
pub const CHUNK_TRAILERS_BYTES_MAX: usize = 8192;

/// Publish endpoint: largest request head (Pushpin: 10,000).
pub const PUBLISH_HEAD_BYTES_MAX: usize = 10_000;
/// Publish endpoint: largest request body (Pushpin: 1,000,000).
pub const PUBLISH_BODY_BYTES_MAX: usize = 1_000_000;
/// Publish endpoint: a connection that sends nothing for this long is closed.
pub const PUBLISH_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Deepest nesting of lists and dictionaries a tnetstring (ZeroMQ publish or command) may
/// have; a publish item needs 4.
pub const TNET_DEPTH_MAX: usize = 32;
/// Most digits of a tnetstring length prefix (the format's own limit: 999,999,999 bytes).
pub const TNET_LENGTH_DIGITS_MAX: usize = 9;

/// Default `Grip-Timeout` for response holds.
pub const HOLD_TIMEOUT_DEFAULT: Duration = Duration::from_secs(55);
/// Smallest `Grip-Timeout`; smaller values are raised to it.
pub const HOLD_TIMEOUT_MIN: Duration = Duration::from_secs(5);
/// Default `Grip-Keep-Alive` timeout.
pub const KEEP_ALIVE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(55);
/// Smallest `Grip-Keep-Alive` timeout.
pub const KEEP_ALIVE_TIMEOUT_MIN: Duration = Duration::from_secs(1);
/// Default timeout of a `Grip-Link: <URL>; rel=next` request (Pushpin 1.36: 120 s).
pub const NEXT_LINK_TIMEOUT_DEFAULT: Duration = Duration::from_secs(120);
/// Largest body of a next-link response appended to a stream (as a stream hold's initial
/// body).
pub const LINK_RESPONSE_BODY_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Delay between a channel's first subscriber and the update of its holds (Pushpin's 1 s
/// "subscribed" delay, PUSHPIN.md §3.4).
pub const FIRST_SUBSCRIPTION_UPDATE_DELAY: Duration = Duration::from_secs(1);
/// A channel that lost its last subscriber less than this long ago is not cold: a new
/// subscriber does not trigger the first-subscription update (Pushpin's
/// `subscription_linger`, 60 s), so a long-poll client re-polling is not refetched each time.
pub const SUBSCRIPTION_LINGER: Duration = Duration::from_secs(60);
/// Channels remembered for `SUBSCRIPTION_LINGER` per shard; past it the oldest are forgotten
/// (about 100 bytes each, so some 10 MiB at most).
pub const LINGER_CHANNELS_MAX: usize = 100_000;
/// Longest one next-link exchange may take, connect to last body byte, before it counts as a
/// failure and is retried (ringpin's own bound: Pushpin's backend client allows 600 s of
/// inactivity, during which the stream would receive nothing).
pub const LINK_FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Origin requests for recovery (long-poll re-requests and next-link fetches) one shard runs
/// at once; the rest wait their turn, so a `hint` or `/recover` reaching thousands of holds
/// does not send thousands of requests to the origin at the same moment (Pushpin rate-limits
/// these "updates" instead).
pub const REFETCHES_CONCURRENT_MAX: u64 = 64;
/// Items set aside per connection while its next link or recovery request runs.
pub const REFETCH_ASIDE_ITEMS_MAX: usize = 100;
/// Each keep-alive period is shortened by a random amount below this (Pushpin's jitter).
pub const KEEP_ALIVE_JITTER_MAX: Duration = Duration::from_millis(1000);

/// Default bound on bytes queued for one slow connection before the slow-client policy applies.
pub const OUTBOUND_BYTES_MAX_DEFAULT: usize = 256 * 1024;
/// Default bound on published items queued for one connection (Pushpin: 100 per stream).
pub const OUTBOUND_ITEMS_MAX_DEFAULT: usize = 100;

/// `ringpin publish`'s bound on connecting, each read and write, and a ZeroMQ message's
/// linger.
pub const PUBLISH_CMD_TIMEOUT: Duration = Duration::from_secs(10);
/// Channels the status page's busiest-channels count tracks (`control::top_channels`).
pub const STATUS_TOP_CHANNELS_TRACKED: usize = 64;
/// Busiest channels the status page lists.
pub const STATUS_TOP_CHANNELS_SHOWN: usize = 10;
/// How often `/status/events` sends a snapshot of the counters.
pub const STATUS_EVENT_INTERVAL: Duration = Duration::from_secs(1);
/// `/status/events` streams open at once; more get 503, so a page left open in many tabs
/// cannot make the router executor format snapshots without bound.
pub const STATUS_STREAMS_MAX: usize = 16;
/// How long the router executor waits for a status client to take one snapshot before it
/// closes the stream.
pub const STATUS_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request waits for an origin socket when its shard has `origins_per_shard`
/// open and none idle, before it gets `503` (or `--origin-timeout`, when shorter): long
/// enough to ride out a burst of slow origin answers, short enough that a client is not left
/// hanging on an overloaded shard.
pub const ORIGIN_SLOT_WAIT_MAX: Duration = Duration::from_secs(10);
/// Batches of ZeroMQ-published items queued for the router before the input's thread waits.
pub const INPUT_INBOX_MESSAGES_MAX: usize = 1024;
/// Items a ZeroMQ input takes from its socket before handing them to the router as one batch.
pub const ZMQ_INPUT_BATCH_ITEMS_MAX: usize = 256;
/// How long a ZeroMQ input waits for a message before it looks at the shutdown flag again.
pub const ZMQ_INPUT_POLL_INTERVAL: Duration = Duration::from_millis(200);
/// How long the command socket waits for every shard to answer a `conncheck` or `refresh`
/// before it answers `service-unavailable`: a shard busy with a large delivery answers in
/// milliseconds, so this only trips when shards are stopping.
pub const COMMAND_SESSIONS_TIMEOUT: Duration = Duration::from_secs(5);
/// Connection ids one `conncheck` may name; a longer list gets `bad-request`.
pub const CONNCHECK_IDS_MAX: usize = 10_000;
/// Largest ZeroMQ message (each frame) an input or the command socket takes, as an HTTP
/// publish body: libzmq disconnects a peer that sends a larger one instead of allocating it.
pub const ZMQ_MESSAGE_BYTES_MAX: i64 = PUBLISH_BODY_BYTES_MAX as i64;
/// ZeroMQ receive high-water mark of the PULL input, in messages (Pushpin 1.36: 101,000).
pub const ZMQ_PULL_RECEIVE_HWM: i32 = 101_000;
/// TCP keep-alive of a SUB input connected to a publisher (`push_in_sub_connect`), as
/// Pushpin sets it: the first probe after this many idle seconds...
pub const ZMQ_SUB_KEEPALIVE_IDLE_SECS: i32 = 30;
/// ...then this many probes...
pub const ZMQ_SUB_KEEPALIVE_COUNT: i32 = 6;
/// ...this many seconds apart.
pub const ZMQ_SUB_KEEPALIVE_INTERVAL_SECS: i32 = 5;
/// Messages a shard inbox holds before the router waits for the shard to catch up.
pub const SHARD_INBOX_MESSAGES_MAX: usize = 4096;
/// While publishes keep coming, the router flushes its outbox to the shards at most once per
/// this interval, so a stream of one-item POSTs wakes each shard once per interval rather than
/// once per POST (a shard's wake-up and park cost more than delivering one item). A publish
/// after a quiet interval is flushed at once.
pub const PUBLISH_FLUSH_INTERVAL: Duration = Duration::from_micros(250);
/// Items staged in the router's outbox above which a publish flushes it before its
/// connection reads another request (backpressure; the outbox stays bounded).
pub const PUBLISH_OUTBOX_ITEMS_MAX: usize = 1024;
/// Time SIGTERM/SIGINT give open connections to finish before the process exits.
pub const SHUTDOWN_DRAIN_TIMEOUT: Duration = Duration::from_secs(8);
/// A warning a peer can trigger at will (a refused connection, a failed accept, a bad
/// request) is logged at most once per this interval and call site, with a count of the
/// lines held back (`logger::LogRateLimit`).
pub const LOG_REPEAT_INTERVAL: Duration = Duration::from_secs(1);
/// Descriptors never given to client or origin sockets, whatever the shard count: the
/// publish listener and its connections, the router executor's rings, stdio, and the
/// routes file. The soft `RLIMIT_NOFILE` minus the reserves is split between client and
/// origin sockets (`runtime::fd_budget`), so `/metrics` still answers when both are full.
pub const NOFILE_RESERVED_FDS: u64 = 256;
/// Descriptors reserved per shard, besides one per `--listen` address: glommio's three
/// io_uring rings and its event descriptors, the `--send-mode uring` ring, and the inbox's
/// socket pair.
pub const NOFILE_RESERVED_PER_SHARD_FDS: u64 = 16;
/// Share, in percent, of the descriptors left after the reserves that origin sockets (in use,
/// connecting, and idle in the pool) may hold; client connections get the rest. A proxied
/// request needs one of each, while held streams, the bulk of a GRIP proxy's connections,
/// need no origin socket. At the bound the oldest idle pooled socket is closed; with none
/// idle a request gets `503` at once. 10% of 20,000 descriptors is about 2,000 origin sockets,
/// the number of open backend requests Pushpin's zurl allows, and leaves 17,700 for clients
/// (a quarter cost the 15,000-subscriber benchmark its headroom on one process).
pub const ORIGIN_FDS_SHARE_PERCENT: u64 = 10;
/// First pause of an accept loop after `accept` failed (out of descriptors: EMFILE/ENFILE, or
/// memory); each failure in a row doubles it, up to `ACCEPT_BACKOFF_MAX`, and a success resets
/// it. Pending connections wait in the listen backlog meanwhile.
pub const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
/// Longest pause of an accept loop between failed accepts.
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// Backlog passed to listen(2) for client and publish listeners.
pub const LISTEN_BACKLOG: i32 = 4096;

/// After an error response that closes the connection, ringpin shuts down its write side and
/// reads and discards what the client still sends for at most this long, so that closing
/// with unread bytes does not reset the connection before the client has read the response.
pub const CLIENT_LINGER_TIMEOUT: Duration = Duration::from_secs(2);
/// The most bytes discarded that way; a client sending more is closed at once (a reset).
pub const CLIENT_LINGER_BYTES_MAX: usize = 1024 * 1024;

/// How often the signal thread looks at the routes file's modification time, size and inode.
pub const ROUTES_FILE_POLL_INTERVAL: Duration = Duration::from_millis(500);
/// A changed routes file is read only once its modification time, size and inode have stayed
/// the same for this long, so a writer pausing for less between two writes is never read
/// half-way (Pushpin reloads 1 s after the first change, whatever follows).
pub const ROUTES_FILE_SETTLE_TIME: Duration = Duration::from_secs(2);
/// Reads of the routes file that may overlap a write (its signature differs before and after
/// the read) before the reload is refused.
pub const ROUTES_FILE_READ_ATTEMPTS_MAX: usize = 5;
/// Pause between two such reads.
pub const ROUTES_FILE_REREAD_INTERVAL: Duration = Duration::from_millis(100);

/// Out-of-order items the router parks per channel waiting for their `prev-id` (Pushpin:
/// 100); one more releases the oldest.
pub const SEQUENCE_PARKED_PER_CHANNEL_MAX: usize = 100;
/// (channel, id) pairs remembered for de-duplication; the oldest is forgotten first. At about
/// 100 bytes each, 100,000 entries cost some 10 MiB.
pub const ID_CACHE_ENTRIES_MAX: usize = 100_000;
/// Largest payload of one client WebSocket frame. ringpin's own bound (Pushpin 1.36 documents
/// none): the read buffer must hold a whole frame, so this is its worst-case size per connection.
pub const WS_FRAME_PAYLOAD_BYTES_MAX: usize = 131_072;
/// Largest client WebSocket message after reassembly of its fragments; the reassembly buffer
/// of one connection never grows past this.
pub const WS_MESSAGE_BYTES_MAX: usize = 131_072;
/// Largest payload of one frame ringpin sends: messages from a WebSocket-over-HTTP origin are
/// re-framed into frames of at most 16 KiB (Pushpin 1.36).
pub const WS_SERVER_FRAME_PAYLOAD_BYTES_MAX: usize = 16_384;
/// Most meta fields one WebSocket connection keeps (`Set-Meta-*`, `set-meta`); more are ignored.
pub const WS_META_FIELDS_MAX: usize = 32;
/// Largest name plus value of one meta field; a longer one is ignored. With the count above,
/// a connection's meta costs at most 32 KiB.
pub const WS_META_FIELD_BYTES_MAX: usize = 1024;
/// Largest WebSocket-over-HTTP event body, either way (Pushpin 1.36: 1,000,000).
pub const WOH_BODY_BYTES_MAX: usize = 1_000_000;
/// Client event bytes a WebSocket-over-HTTP connection queues for its origin before ringpin
/// stops reading the client (half an event body, so one request always carries them).
pub const WOH_PENDING_BYTES_MAX: usize = WOH_BODY_BYTES_MAX / 2;
/// Bytes queued for a WebSocket-over-HTTP client before ringpin stops asking the origin for
/// more (Pushpin's 200,000-byte outbound buffer).
pub const WOH_CLIENT_QUEUE_BYTES_MAX: usize = 200_000;
/// How often a WebSocket-over-HTTP connection held back by a full client queue looks again.
pub const WOH_BACKPRESSURE_RECHECK: Duration = Duration::from_millis(50);
/// Retries of a WebSocket-over-HTTP request that failed before reaching the origin
/// (Pushpin 1.36: 5, after 1, 2, 4, 8 and 16 s).
pub const WOH_RETRIES_MAX: u32 = 5;
/// The first retry delay of a WebSocket-over-HTTP request; each later one doubles it.
pub const WOH_RETRY_DELAY_FIRST: Duration = Duration::from_secs(1);

// Delivery, shard and protocol-session bounds.

/// How long a signed token stays valid (Pushpin: one hour).
pub const GRIP_SIG_TOKEN_LIFETIME_SECS: u64 = 3600;
/// Longest piece of an offending value copied into an error, in characters.
pub const ERROR_SNIPPET_CHARS_MAX: usize = 64;
/// Failed link fetches retried before the stream is given up (PUSHPIN.md §5.3).
pub const LINK_FETCH_RETRIES_MAX: u32 = 5;
/// Delay before the first retry; each further retry doubles it (1, 2, 4, 8, 16 s).
pub const LINK_RETRY_DELAY_FIRST: Duration = Duration::from_secs(1);
/// Smallest `Keep-Alive-Interval` honoured; smaller positive values are raised to it.
pub const WOH_KEEP_ALIVE_INTERVAL_MIN: Duration = Duration::from_secs(20);
/// Bytes beyond `uri_bytes_max` that an unfinished request line may hold before it is refused
/// with 414: room for the method, two spaces and the version.
pub const REQUEST_LINE_SLACK_BYTES: usize = 32;
/// Most shards one process runs; a `ShardSet` is a 64-bit mask.
pub const SHARDS_MAX: usize = 64;
/// Delivery passes slower than this are logged at debug level.
pub const DELIVERY_PASS_SLOW: Duration = Duration::from_millis(10);
/// How often each executor looks at the process-wide control state.
pub const CONTROL_TICK: Duration = Duration::from_millis(100);
/// Most inbox messages (each the batch of one router flush) queued before one write pass,
/// so a long backlog cannot delay the first items' writes without bound.
pub const DELIVERY_BATCH_ITEMS_MAX: usize = 64;
/// Sends per `io_uring_enter` of the batched delivery writer; also its ring size.
pub const URING_SEND_BATCH: usize = 256;
/// Buffers handed to one `sendmsg` (direct or on the io_uring).
pub const SEND_IOVECS_MAX: usize = 32;
/// Bytes asked of the kernel per client read while no frame is half-read: small, because an
/// idle connection keeps its read buffer for as long as it waits.
pub const WS_READ_IDLE_BYTES: usize = 512;
/// Bytes asked of the kernel per read while a frame is half-read, so a large message takes
/// few reads; the buffer shrinks back once the frame is complete.
pub const WS_READ_BUSY_BYTES: usize = 16 * 1024;
/// A published WebSocket message shorter than this goes uncompressed even to a client that
/// negotiated permessage-deflate: deflate saves next to nothing on it, and compressing costs
/// a pass over the compressor's tables.
pub const WS_DEFLATE_PAYLOAD_BYTES_MIN: usize = 64;
/// How long a closing connection waits for its queue to drain and for the peer's close frame.
pub const WS_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default `timeout` of a `keep-alive` control message (Pushpin 1.36: 55 s).
pub const WS_KEEP_ALIVE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(55);
/// Default `timeout` of a `send-delayed` control message (Pushpin 1.36: 1 s).
pub const WS_SEND_DELAYED_TIMEOUT_DEFAULT: Duration = Duration::from_secs(1);

// Flow, hold and I/O bounds.

/// The shortest refresh period, whatever `timeout=` says, so a `timeout=0` link cannot spin.
pub const LINK_REFRESH_PERIOD_MIN: Duration = Duration::from_secs(1);
/// Largest initial body of a stream hold ringpin buffers before handing off.
pub const STREAM_HOLD_INITIAL_BYTES_MAX: usize = 4 * 1024 * 1024;
/// WebSocket passthrough: client queue bytes above which the origin socket is not read, so a
/// slow client slows its origin (Pushpin's 200,000-byte buffer).
pub const WS_ORIGIN_READ_PAUSE_BYTES: usize = 200_000;
/// How often a paused WebSocket passthrough looks at the client's queue again.
pub const WS_ORIGIN_PAUSE_RECHECK: Duration = Duration::from_millis(50);
/// Most body bytes of a refused WebSocket handshake (or OPEN) relayed to the client
/// (Pushpin 1.36).
pub const REJECTION_BODY_BYTES_MAX: usize = 100_000;
/// io_uring buffer memory per executor; ringpin does no file DMA, so keep it small.
pub const EXECUTOR_IO_MEMORY_BYTES: usize = 512 * 1024;
/// Entries of each of a shard executor's io_uring rings when ringpin may lock all the memory
/// it wants (CAP_IPC_LOCK, or an unlimited RLIMIT_MEMLOCK); glommio's default is 128.
///
/// Why so many: every held socket keeps an operation armed in the kernel (its read), which
/// io_uring files in a cancel hash of `2^clamp(log2(CQ entries) - 5, 1, 8)` buckets. Each time
/// the executor parks and wakes it cancels its sleep timer, and that cancel walks one bucket.
/// At 128 entries (8 buckets) and 5,000 held streams a shard spent a fifth to a third of its
/// time in that walk (`io_poll_find`) under sustained publishing; 4,096 entries give the
/// largest table, 256 buckets, and the walk fell to about 1% of ringpin's CPU
/// (results/2026-12-07-floor-channels-epyc2c).
///
/// Why only then: Linux 6.x charges ring memory to RLIMIT_MEMLOCK, and with glommio's three
/// rings per executor two shards of 4,096 entries did not start under the usual 8 MiB.
pub const SHARD_RING_DEPTH: usize = 4096;
/// Entries of each of a shard's io_uring rings under a finite RLIMIT_MEMLOCK without
/// CAP_IPC_LOCK: glommio's default, which starts under the usual 8 MiB.
pub const SHARD_RING_DEPTH_LIMITED: usize = 128;
/// How long start-up waits for each executor to run its first task before giving up.
pub const EXECUTOR_START_TIMEOUT: Duration = Duration::from_secs(10);
/// Items a long-poll keeps while its request is replayed: the first one that follows the
/// new answer completes it.
pub const RESPONSE_ASIDE_ITEMS_MAX: usize = 8;
/// Bytes a client may pipeline while its connection is held or waits for its origin; past
/// them it is not read any more.
pub const HELD_READ_BYTES_MAX: usize = CLIENT_HEAD_BYTES_MAX;
/// Items a connection's outbound queue has room for when it first gets one (a stream's head
/// and first body); it grows past this as items wait.
pub const OUTBOUND_ITEMS_INITIAL: usize = 2;
/// A held stream reads what its client sends (rarely anything) this many bytes at a time:
/// the array is part of every held stream's task, so 100,000 of them hold 3.2 MB of it.
pub const HELD_READ_CHUNK_BYTES: usize = 32;
/// The lingering close reads and discards the client's bytes this many at a time.
pub const CLIENT_LINGER_READ_BYTES: usize = 4096;
/// The per-address connection counts (`--connections-per-ip-max`) are split over this many
/// mutexes, so shards accepting at the same moment rarely wait for each other.
pub const PEER_LIMIT_STRIPES: usize = 16;
/// A connection's read buffer grows by this much per read (`netio::Conn`).
pub const READ_CHUNK_BYTES: usize = 16 * 1024;

const _: () = assert!(CLIENT_URI_BYTES_MAX < CLIENT_HEAD_BYTES_MAX);
const _: () = assert!(CLIENT_URI_BYTES_MAX < PUBLISH_HEAD_BYTES_MAX);
const _: () = assert!(CHUNK_SIZE_LINE_BYTES_MAX >= 16 + 2);
const _: () = assert!(REQUEST_BODY_BUFFER_BYTES_MAX <= PUBLISH_BODY_BYTES_MAX);
const _: () = assert!(OUTBOUND_BYTES_MAX_DEFAULT >= 2 * 65_536);
const _: () = assert!(SHUTDOWN_DRAIN_TIMEOUT.as_secs() < 10);
const _: () = assert!(CLIENT_HEAD_TIMEOUT_DEFAULT.as_secs() < CLIENT_IDLE_TIMEOUT.as_secs());
const _: () = assert!(TLS_HANDSHAKE_TIMEOUT.as_secs() <= CLIENT_HEAD_TIMEOUT_DEFAULT.as_secs());
const _: () = assert!(TLS_CLOSE_TIMEOUT.as_secs() < SHUTDOWN_DRAIN_TIMEOUT.as_secs());
const _: () = assert!(CLIENT_FIRST_READ_BYTES < CLIENT_HEAD_BYTES_MAX);
const _: () = assert!(ACCEPT_BACKOFF_MIN.as_millis() < ACCEPT_BACKOFF_MAX.as_millis());
const _: () = assert!(HOLD_TIMEOUT_MIN.as_secs() <= HOLD_TIMEOUT_DEFAULT.as_secs());
const _: () = assert!(WS_MESSAGE_BYTES_MAX >= WS_FRAME_PAYLOAD_BYTES_MAX);
// One client message must fit in one event body: `BINARY <hex len>\r\n` + payload + CRLF.
const _: () = assert!(WS_MESSAGE_BYTES_MAX + 32 <= WOH_BODY_BYTES_MAX);
// A client message that fits the pending bound always fits one request body.
const _: () = assert!(WS_MESSAGE_BYTES_MAX < WOH_PENDING_BYTES_MAX);
const _: () = assert!(WOH_RETRIES_MAX < 16);
// A `ShardSet` is one `u64` bit mask.
const _: () = assert!(SHARDS_MAX <= 64);
const _: () = assert!(WS_SERVER_FRAME_PAYLOAD_BYTES_MAX > 125);
const _: () = assert!(ORIGIN_FDS_SHARE_PERCENT > 0 && ORIGIN_FDS_SHARE_PERCENT < 100);
const _: () = assert!(ORIGIN_TIMEOUT_DEFAULT.as_secs() <= ORIGIN_INACTIVITY_TIMEOUT.as_secs());
const _: () = assert!(CLIENT_LINGER_TIMEOUT.as_secs() < SHUTDOWN_DRAIN_TIMEOUT.as_secs());
// The settle time spans several polls, so one poll's timing cannot decide it.
const _: () =
    assert!(ROUTES_FILE_SETTLE_TIME.as_millis() >= 3 * ROUTES_FILE_POLL_INTERVAL.as_millis());
