//! The command socket's `conncheck` and `refresh` (PUSHPIN.md §3.5) on WebSocket-over-HTTP
//! connections, the ones an origin knows by their `Connection-Id`: `conncheck` lists which
//! ids are connected, on any shard; `refresh` makes a connection, or every connection
//! subscribed to a channel, send its origin a request now.

use std::thread;
use std::time::{Duration, Instant};

use crate::support::woh::{woh_backend, WohOptions};
use crate::support::{free_port, wait_subscribed, ws_connect, Backend, Proxy, DEADLINE};
use crate::ws_over_http::woh_proxy;
use crate::zmq_input::{call, req_socket, tnet_bytes, tnet_list, tnet_map};

/// ringpin in front of a scripted WebSocket-over-HTTP origin, with a REQ socket connected to
/// its command socket.
struct Started {
    backend: Backend,
    proxy: Proxy,
    req: zmq::Socket,
    _context: zmq::Context,
}

fn start() -> Started {
    let backend = woh_backend(WohOptions::default());
    let command = format!("tcp://127.0.0.1:{}", free_port());
    let flags = ["--command-spec", &command, "--push-in-sub-spec", ""];
    let proxy = woh_proxy(backend.port(), &flags);
    let context = zmq::Context::new();
    let req = req_socket(&context, &command);
    Started {
        backend,
        proxy,
        req,
        _context: context,
    }
}

impl Started {
    /// The `Connection-Id` of every connection the origin saw open, in order.
    fn opened_ids(&self) -> Vec<String> {
        let requests = self.backend.requests();
        (requests.iter())
            .filter(|r| r.body == b"OPEN\r\n")
            .map(|r| r.header("Connection-Id").expect("Connection-Id").to_owned())
            .collect()
    }

    /// How many requests the origin got from connection `id`.
    fn requests_from(&self, id: &str) -> usize {
        let requests = self.backend.requests();
        (requests.iter())
            .filter(|r| r.header("Connection-Id") == Some(id))
            .count()
    }

    fn command(&self, method: &str, args: Vec<u8>) -> String {
        let request = tnet_map(&[
            ("id", tnet_bytes(b"7")),
            ("method", tnet_bytes(method.as_bytes())),
            ("args", args),
        ]);
        call(&self.req, request)
    }

    fn conncheck(&self, ids: &[&str]) -> String {
        let ids: Vec<Vec<u8>> = ids.iter().map(|id| tnet_bytes(id.as_bytes())).collect();
        self.command("conncheck", tnet_map(&[("ids", tnet_list(&ids))]))
    }

    fn refresh(&self, key: &str, value: &str) -> String {
        self.command("refresh", tnet_map(&[(key, tnet_bytes(value.as_bytes()))]))
    }
}

/// Polls until `check` holds, or panics after `DEADLINE` saying `what`.
fn wait_until(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !check() {
        assert!(Instant::now() < deadline, "never: {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

fn listed(reply: &str, id: &str) -> usize {
    reply.matches(&format!("{}:{id},", id.len())).count()
}

#[test]
fn conncheck_lists_the_connected_ids_on_every_shard_and_forgets_closed_ones() {
    let s = start();
    // Eight connections over the two shards: SO_REUSEPORT spreads them by source port, so
    // both shards hold some unless 1 in 128 chance puts all on one.
    let mut clients: Vec<_> = (0..8).map(|_| ws_connect(s.proxy.addr, "/chat")).collect();
    for ws in &mut clients {
        ws.send_text("hello");
        ws.expect_text("hello");
    }
    let ids = s.opened_ids();
    assert_eq!(ids.len(), 8);
    let mut asked: Vec<&str> = ids.iter().map(String::as_str).collect();
    asked.extend(["not-a-connection", &ids[0]]);
    let reply = s.conncheck(&asked);
    assert!(reply.contains("7:success,4:true!"), "{reply}");
    assert!(reply.contains("2:id,1:7,"), "the id comes back: {reply}");
    for id in &ids {
        assert_eq!(listed(&reply, id), 1, "{id} listed once: {reply}");
    }
    assert!(!reply.contains("not-a-connection"), "{reply}");

    let mut first = clients.remove(0);
    first.close(1000, "bye");
    first.expect_close();
    drop(first);
    wait_until("the closed connection leaves conncheck's answer", || {
        listed(&s.conncheck(&asked), &ids[0]) == 0
    });
    let reply = s.conncheck(&asked);
    for id in &ids[1..] {
        assert_eq!(listed(&reply, id), 1, "{id} still connected: {reply}");
    }
    let empty = s.conncheck(&[]);
    assert!(
        empty.contains("7:success,4:true!") && empty.contains("0:]"),
        "{empty}"
    );
}

#[test]
fn refresh_sends_the_origin_a_request_for_one_connection_or_a_channel_s_connections() {
    let s = start();
    let mut subscribed = ws_connect(s.proxy.addr, "/chat");
    subscribed.send_text("sub:room");
    wait_subscribed(&s.proxy, 1);
    let mut other = ws_connect(s.proxy.addr, "/chat");
    other.send_text("hello");
    other.expect_text("hello");
    let ids = s.opened_ids();
    let (room_id, other_id) = (&ids[0], &ids[1]);
    let (room_before, other_before) = (s.requests_from(room_id), s.requests_from(other_id));

    let reply = s.refresh("cid", other_id);
    assert!(reply.contains("7:success,4:true!"), "{reply}");
    wait_until("a refresh request from the named connection", || {
        s.requests_from(other_id) == other_before + 1
    });
    let last = s.backend.last_request();
    assert_eq!(last.header("Connection-Id"), Some(other_id.as_str()));
    assert!(last.body.is_empty(), "a refresh carries no events");
    assert_eq!(s.requests_from(room_id), room_before);

    let reply = s.refresh("channel", "room");
    assert!(reply.contains("7:success,4:true!"), "{reply}");
    wait_until("a refresh request from the subscriber of room", || {
        s.requests_from(room_id) == room_before + 1
    });
    assert_eq!(
        s.requests_from(other_id),
        other_before + 1,
        "the connection not in room was not refreshed"
    );

    let unknown = s.refresh("cid", "no-such-connection");
    assert!(
        unknown.contains("5:false!") && unknown.contains("item-not-found"),
        "{unknown}"
    );
    let nobody = s.refresh("channel", "empty");
    assert!(nobody.contains("7:success,4:true!"), "{nobody}");
    // The connections carry on as before.
    subscribed.send_text("still here");
    subscribed.expect_text("still here");
}
