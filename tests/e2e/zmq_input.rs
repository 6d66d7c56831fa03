//! The ZeroMQ publish inputs (PUSHPIN.md §3.3). The PULL input (`--push-in-spec`) takes what
//! pubcontrol's `zmq_push_uri` sends: one frame holding one item as a bare tnetstring, `T` +
//! tnetstring, or `J` + JSON; a bad message is skipped and the input goes on. The SUB input
//! (`--push-in-sub-spec`, bound, or connected with `--push-in-sub-connect`) takes
//! `[channel, item]` and subscribes to exactly the channels this process has listeners for,
//! which an XPUB publisher sees as `\x01channel` and `\x00channel`.

use crate::support::{
    free_port, wait_metric, wait_subscribed, Backend, BackendResponse, Proxy, StreamClient,
};

/// A tnetstring byte string.
pub fn tnet_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = format!("{}:", bytes.len()).into_bytes();
    out.extend_from_slice(bytes);
    out.push(b',');
    out
}

/// A tnetstring list of already-encoded values.
pub fn tnet_list(values: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = values.concat();
    let mut out = format!("{}:", body.len()).into_bytes();
    out.extend(body);
    out.push(b']');
    out
}

/// A tnetstring dictionary of already-encoded keys and values.
pub fn tnet_map(pairs: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (key, value) in pairs {
        body.extend(tnet_bytes(key.as_bytes()));
        body.extend_from_slice(value);
    }
    let mut out = format!("{}:", body.len()).into_bytes();
    out.extend(body);
    out.push(b'}');
    out
}

/// An `http-stream` item for `channel` as pubcontrol encodes it.
fn stream_item_tnet(channel: &str, content: &[u8]) -> Vec<u8> {
    let stream = tnet_map(&[("content", tnet_bytes(content))]);
    let formats = tnet_map(&[("http-stream", stream)]);
    tnet_map(&[
        ("channel", tnet_bytes(channel.as_bytes())),
        ("formats", formats),
    ])
}

struct Started {
    _backend: Backend,
    proxy: Proxy,
    client: StreamClient,
    push: zmq::Socket,
    spec: String,
    _context: zmq::Context,
}

/// ringpin with a PULL input on a free port, a stream held on `channel`, and a PUSH socket
/// connected to the input.
fn start(channel: &'static str) -> Started {
    let backend = Backend::start(move |_| BackendResponse::stream_hold(channel, "start\n"));
    let spec = format!("tcp://127.0.0.1:{}", free_port());
    let proxy = Proxy::start(backend.port(), &["--push-in-spec", &spec]);
    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.read_until("start\n"), "start\n");
    wait_subscribed(&proxy, 1);
    let context = zmq::Context::new();
    let push = push_socket(&context, &spec);
    Started {
        _backend: backend,
        proxy,
        client,
        push,
        spec,
        _context: context,
    }
}

#[test]
fn items_pushed_over_zeromq_reach_a_held_stream_in_every_encoding() {
    let mut s = start("zq");
    s.push
        .send(stream_item_tnet("zq", b"bare\n"), 0)
        .expect("send");
    let mut t = b"T".to_vec();
    t.extend(stream_item_tnet("zq", b"tee\n"));
    s.push.send(t, 0).expect("send");
    let json = br#"J{"channel":"zq","formats":{"http-stream":{"content":"jay\n"}}}"#;
    s.push.send(&json[..], 0).expect("send");
    assert_eq!(s.client.read_until("jay\n"), "bare\ntee\njay\n");
}

#[test]
fn binary_content_arrives_byte_for_byte() {
    let mut s = start("bin");
    let content = [0xff, 0x00, 0xfe, b'\n'];
    s.push
        .send(stream_item_tnet("bin", &content), 0)
        .expect("send");
    assert_eq!(s.client.read_body_bytes(content.len()), content);
}

#[test]
fn bad_zeromq_messages_are_skipped_and_the_next_item_is_delivered() {
    let mut s = start("bad");
    s.push
        .send(&b"this is not a tnetstring"[..], 0)
        .expect("send");
    s.push.send(&b"J{not json"[..], 0).expect("send");
    let two_frames: [&[u8]; 2] = [b"bad", b"J{}"];
    s.push.send_multipart(two_frames, 0).expect("send");
    let no_formats = tnet_map(&[("channel", tnet_bytes(b"bad"))]);
    s.push.send(no_formats, 0).expect("send");
    s.push
        .send(stream_item_tnet("bad", b"good\n"), 0)
        .expect("send");
    assert_eq!(s.client.read_until("good\n"), "good\n");
    // The proxy kept serving: a second item still arrives.
    s.push
        .send(stream_item_tnet("bad", b"again\n"), 0)
        .expect("send");
    assert_eq!(s.client.read_until("again\n"), "again\n");
    // Four refused, two received, counted by input (the suite sums the labels).
    wait_metric(&s.proxy, "ringpin_items_rejected_total", "4", |v| v == 4.0);
    wait_metric(&s.proxy, "ringpin_items_received_total", "2", |v| v == 2.0);
}

#[test]
fn a_zeromq_message_over_the_publish_body_limit_is_refused_and_the_input_goes_on() {
    let mut s = start("big");
    // A valid item, but larger than an HTTP publish body may be: libzmq drops the sender's
    // connection instead of taking it in.
    let big = stream_item_tnet("big", &vec![b'x'; 1_000_001]);
    s.push.send(big, 0).expect("send");
    let context = zmq::Context::new();
    let second = push_socket(&context, &s.spec);
    second
        .send(stream_item_tnet("big", b"small\n"), 0)
        .expect("send");
    assert_eq!(s.client.read_until("small\n"), "small\n");
    second
        .send(stream_item_tnet("big", b"after\n"), 0)
        .expect("send");
    assert_eq!(s.client.read_until("after\n"), "after\n");
    wait_metric(&s.proxy, "ringpin_items_received_total", "2", |v| v == 2.0);
}

/// An `http-stream` item without its channel: a SUB message carries the channel in its first
/// frame.
fn channelless_item_tnet(content: &[u8]) -> Vec<u8> {
    let stream = tnet_map(&[("content", tnet_bytes(content))]);
    tnet_map(&[("formats", tnet_map(&[("http-stream", stream)]))])
}

/// A PUSH socket connected to `spec`, lingering a second so what it sent leaves on drop.
pub fn push_socket(context: &zmq::Context, spec: &str) -> zmq::Socket {
    let push = context.socket(zmq::PUSH).expect("PUSH socket");
    push.set_linger(1000).expect("linger");
    push.connect(spec).expect("connect");
    push
}

/// A REQ socket connected to `spec` that waits up to 10 s for each reply.
pub fn req_socket(context: &zmq::Context, spec: &str) -> zmq::Socket {
    let req = context.socket(zmq::REQ).expect("REQ socket");
    req.set_rcvtimeo(10_000).expect("rcvtimeo");
    req.set_linger(0).expect("linger");
    req.connect(spec).expect("connect");
    req
}

/// An XPUB socket that waits up to 10 s for each subscription message.
fn xpub(context: &zmq::Context) -> zmq::Socket {
    let socket = context.socket(zmq::XPUB).expect("XPUB socket");
    socket.set_rcvtimeo(10_000).expect("rcvtimeo");
    socket.set_linger(0).expect("linger");
    socket
}

/// Asserts that the next message an XPUB receives is `want` (`\x01` subscribe or `\x00`
/// unsubscribe, then the channel).
fn expect_subscription_message(publisher: &zmq::Socket, want: &[u8]) {
    let got = publisher
        .recv_bytes(0)
        .expect("a subscription message within 10 s");
    assert_eq!(got, want, "{}", String::from_utf8_lossy(&got));
}

/// Sends `[channel, item]` (after the publisher saw the subscription: a PUB drops what no
/// subscriber asked for) and reads it from the stream.
fn publish_over_sub(pub_socket: &zmq::Socket, client: &mut StreamClient, channel: &str) {
    pub_socket
        .send_multipart(
            [channel.as_bytes(), &channelless_item_tnet(b"over sub\n")],
            0,
        )
        .expect("send");
    assert_eq!(client.read_until("over sub\n"), "over sub\n");
}

#[test]
fn a_connected_sub_input_subscribes_to_exactly_the_channels_with_listeners() {
    let context = zmq::Context::new();
    let publisher = xpub(&context);
    let spec = format!("tcp://127.0.0.1:{}", free_port());
    publisher.bind(&spec).expect("bind XPUB");
    let backend = Backend::start(|_| BackendResponse::stream_hold("fw", "start\n"));
    let flags = ["--push-in-sub-spec", &spec, "--push-in-sub-connect", "yes"];
    let proxy = Proxy::start(backend.port(), &flags);
    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.read_until("start\n"), "start\n");
    wait_subscribed(&proxy, 1);

    expect_subscription_message(&publisher, b"\x01fw");
    wait_metric(&proxy, "ringpin_zmq_subscriptions", "1", |v| v == 1.0);
    publish_over_sub(&publisher, &mut client, "fw");

    drop(client);
    expect_subscription_message(&publisher, b"\x00fw");
    wait_metric(&proxy, "ringpin_zmq_subscriptions", "0", |v| v == 0.0);
}

#[test]
fn a_bound_sub_input_takes_the_channel_from_the_first_frame() {
    let backend = Backend::start(|_| BackendResponse::stream_hold("sb", "start\n"));
    let spec = format!("tcp://127.0.0.1:{}", free_port());
    let proxy = Proxy::start(backend.port(), &["--push-in-sub-spec", &spec]);
    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.read_until("start\n"), "start\n");
    wait_subscribed(&proxy, 1);
    let context = zmq::Context::new();
    let publisher = xpub(&context);
    publisher.connect(&spec).expect("connect");
    // The bound SUB tells the connecting XPUB what it subscribes to.
    expect_subscription_message(&publisher, b"\x01sb");
    publish_over_sub(&publisher, &mut client, "sb");
}

/// Publishes one `http-stream` item through the command socket and asserts its success.
fn publish_by_command(req: &zmq::Socket, channel: &str, content: &[u8]) {
    let items = tnet_list(&[stream_item_tnet(channel, content)]);
    let args = tnet_map(&[("items", items)]);
    let published = call(
        req,
        tnet_map(&[("method", tnet_bytes(b"publish")), ("args", args)]),
    );
    assert!(published.contains("7:success,4:true!"), "{published}");
}

/// Sends one tnetstring request on a REQ socket and returns the reply's bytes.
pub fn call(req: &zmq::Socket, request: Vec<u8>) -> String {
    req.send(request, 0).expect("send");
    let reply = req.recv_bytes(0).expect("a reply within 10 s");
    String::from_utf8_lossy(&reply).into_owned()
}

#[test]
fn the_command_socket_reports_its_uris_publishes_and_refuses_what_it_does_not_know() {
    let backend = Backend::start(|_| BackendResponse::stream_hold("cmd", "start\n"));
    let (command, pull) = (free_port(), free_port());
    let command = format!("tcp://127.0.0.1:{command}");
    let pull = format!("tcp://127.0.0.1:{pull}");
    let flags = [
        "--command-spec",
        &command,
        "--push-in-spec",
        &pull,
        "--push-in-sub-spec",
        "",
    ];
    let proxy = Proxy::start(backend.port(), &flags);
    let context = zmq::Context::new();
    let req = req_socket(&context, &command);

    let uris = call(
        &req,
        tnet_map(&[
            ("id", tnet_bytes(b"1")),
            ("method", tnet_bytes(b"get-zmq-uris")),
        ]),
    );
    assert!(uris.contains("4:true!"), "{uris}");
    assert!(
        uris.contains(&format!("12:publish-pull,{}:{pull},", pull.len())),
        "{uris}"
    );
    assert!(uris.contains("2:id,1:1,"), "the id comes back: {uris}");
    assert!(!uris.contains("publish-sub"), "no SUB input: {uris}");

    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.read_until("start\n"), "start\n");
    wait_subscribed(&proxy, 1);
    publish_by_command(&req, "cmd", b"by command\n");
    assert_eq!(client.read_until("by command\n"), "by command\n");

    let unknown = call(&req, tnet_map(&[("method", tnet_bytes(b"frobnicate"))]));
    assert!(
        unknown.contains("5:false!") && unknown.contains("method-not-found"),
        "{unknown}"
    );
    let garbage = call(&req, b"not a tnetstring".to_vec());
    assert!(
        garbage.contains("5:false!") && garbage.contains("bad-request"),
        "{garbage}"
    );
}

#[test]
fn an_id_published_over_http_and_again_over_zeromq_is_delivered_once() {
    let mut s = start("once");
    let http = r#"{"items":[{"channel":"once","id":"a1","formats":{"http-stream":{"content":"first\n"}}}]}"#;
    crate::support::publish_ok(&s.proxy, http);
    assert_eq!(s.client.read_until("first\n"), "first\n");
    let again =
        br#"J{"channel":"once","id":"a1","formats":{"http-stream":{"content":"duplicate\n"}}}"#;
    s.push.send(&again[..], 0).expect("send");
    let next = br#"J{"channel":"once","id":"a2","prev-id":"a1","formats":{"http-stream":{"content":"second\n"}}}"#;
    s.push.send(&next[..], 0).expect("send");
    // One router for every input: the repeated id is dropped, the next one follows it.
    assert_eq!(s.client.read_until("second\n"), "second\n");
}

/// A seeded xorshift step.
fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// One to three frames, each random bytes, a damaged item, or an item of the wrong shape.
fn random_frames(rng: &mut u64) -> Vec<Vec<u8>> {
    let count = 1 + xorshift(rng) % 3;
    (0..count)
        .map(|_| match xorshift(rng) % 4 {
            0 => (0..xorshift(rng) % 64)
                .map(|_| xorshift(rng) as u8)
                .collect(),
            1 => {
                let mut item = stream_item_tnet("nobody", b"damaged\n");
                let at = xorshift(rng) as usize % item.len();
                item[at] = xorshift(rng) as u8;
                item
            }
            2 => tnet_list(&[tnet_bytes(b"not"), tnet_bytes(b"an item")]),
            _ => b"J[1,2,{\"channel\":".to_vec(),
        })
        .collect()
}

#[test]
fn random_messages_on_every_zeromq_socket_leave_each_input_working() {
    let backend = Backend::start(|_| BackendResponse::stream_hold("fz", "start\n"));
    let [pull, sub, command] = [0; 3].map(|_| format!("tcp://127.0.0.1:{}", free_port()));
    let flags = [
        "--push-in-spec",
        &pull,
        "--push-in-sub-spec",
        &sub,
        "--command-spec",
        &command,
    ];
    let proxy = Proxy::start(backend.port(), &flags);
    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.read_until("start\n"), "start\n");
    wait_subscribed(&proxy, 1);
    let context = zmq::Context::new();
    let push = push_socket(&context, &pull);
    let publisher = xpub(&context);
    publisher.connect(&sub).expect("connect");
    expect_subscription_message(&publisher, b"\x01fz");
    let req = req_socket(&context, &command);

    let mut rng = 0x2545_F491_4F6C_DD1D_u64;
    for round in 0..300 {
        let frames = random_frames(&mut rng);
        push.send_multipart(&frames, 0).expect("send");
        // A SUB only passes messages whose first frame starts with a subscribed channel.
        let mut to_sub = frames.clone();
        to_sub[0].splice(0..0, *b"fz");
        publisher.send_multipart(&to_sub, 0).expect("send");
        // Every request gets a reply, whatever it holds and however many frames.
        req.send_multipart(&frames, 0).expect("send");
        let reply = req.recv_bytes(0).expect("a reply within 10 s");
        let reply = String::from_utf8_lossy(&reply);
        assert!(reply.contains("7:success,"), "round {round}: {reply}");
    }

    push.send(stream_item_tnet("fz", b"pull still works\n"), 0)
        .expect("send");
    assert!(client
        .read_until("pull still works\n")
        .ends_with("pull still works\n"));
    publisher
        .send_multipart(
            [&b"fz"[..], &channelless_item_tnet(b"sub still works\n")],
            0,
        )
        .expect("send");
    assert!(client
        .read_until("sub still works\n")
        .ends_with("sub still works\n"));
    publish_by_command(&req, "fz", b"command still works\n");
    assert!(client
        .read_until("command still works\n")
        .ends_with("command still works\n"));
    // Every random PULL message, and every one that passed the SUB's filter, was refused.
    let rejected = wait_metric(
        &proxy,
        "ringpin_items_rejected_total",
        "at least 600",
        |v| v >= 600.0,
    );
    assert!(rejected <= 900.0, "{rejected}");
}
