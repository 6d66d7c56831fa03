//! ZeroMQ publishing to a scaled-out deployment (PUSHPIN.md §3.3, §3.5), by the real
//! publishers: pubcontrol's and gripcontrol's unmodified ZeroMQ clients, run in Python
//! (`support/publisher.rs`), against ringpins on hosts of their own (`support/hosts.rs`:
//! network namespaces joined by veth pairs when the test may make them, else loopback
//! addresses; each test prints which).
//!
//! What it relies on from ringpin: a bound SUB input (`--push-in-sub-spec`) subscribes to
//! exactly the channels with listeners in that process, so an XPUB publisher
//! (`zmq_pub_uri` with `require_subscribers`) sends an instance only what it wants; the PULL
//! input takes pubcontrol's `zmq_push_uri` items; the command socket answers
//! `get-zmq-uris` with specs a publisher can connect to (gripcontrol's `control_zmq_uri`).
//!
//! How a test knows a publish cannot be missed: ZeroMQ drops what a PUB sends before the
//! subscription reached it, and an XPUB reports a channel only when its first subscriber
//! appears, so a second instance's subscription to the same channel is silent. Each instance
//! with subscribers therefore also subscribes to a marker channel of its own, after its
//! `ringpin_zmq_subscriptions` has counted the real one: its SUB sends the two in that order
//! on its one connection to the publisher (or, if the publisher connects later, in byte order,
//! where the marker sorts last), so the publisher's `sub MARKER` event means it has applied the
//! real subscription too.

use serde_json::json;

use crate::support::{
    wait_metric, wait_subscribed, Backend, BackendResponse, Host, Hosts, Proxy, Publisher,
    StreamClient, EXIT_TIMEOUT,
};

/// The channel the scale-out test publishes on.
const CHANNEL: &str = "news";

/// Items received on each input, as `/metrics` writes the samples.
const RECEIVED_SUB: &str = "ringpin_items_received_total{input=\"zmq_sub\"}";
const RECEIVED_PULL: &str = "ringpin_items_received_total{input=\"zmq_pull\"}";
const ZMQ_SUBSCRIPTIONS: &str = "ringpin_zmq_subscriptions";

/// One ringpin on a host of its own, with its ZeroMQ sockets on that host's address and an
/// origin that holds `/stream/CHANNEL` as a stream on CHANNEL.
struct Instance {
    proxy: Proxy,
    pull_spec: String,
    sub_spec: String,
    command_spec: String,
    _backend: Backend,
}

impl Instance {
    fn start(host: &Host) -> Instance {
        let backend = Backend::start_at(host.origin_ip(), |request| {
            let channel = request.path.trim_start_matches("/stream/");
            BackendResponse::stream_hold(channel, "start\n")
        });
        let pull_spec = host.zmq_spec(host.free_port());
        let sub_spec = host.zmq_spec(host.free_port());
        let command_spec = host.zmq_spec(host.free_port());
        let route = format!("* {}:{}", host.peer_ip, backend.port());
        let proxy = Proxy::start_on(host, |ports| {
            let mut args = ports.listen_args();
            for (flag, value) in [
                ("--route", &route),
                ("--push-in-spec", &pull_spec),
                ("--push-in-sub-spec", &sub_spec),
                ("--command-spec", &command_spec),
            ] {
                args.extend([flag.to_string(), value.clone()]);
            }
            args
        });
        Instance {
            proxy,
            pull_spec,
            sub_spec,
            command_spec,
            _backend: backend,
        }
    }

    /// A stream subscriber on `channel`, past the origin's opening.
    fn subscribe(&self, channel: &str) -> StreamClient {
        let mut client = StreamClient::open(self.proxy.addr, &format!("/stream/{channel}"));
        assert_eq!(client.read_until("start\n"), "start\n");
        client
    }

    /// Waits until `metric` (a name, or one `name{labels}` sample) is exactly `want`.
    fn wait_exactly(&self, metric: &str, want: u32) {
        let want = f64::from(want);
        wait_metric(&self.proxy, metric, &want.to_string(), |v| v == want);
    }
}

/// The items `"CHANNEL N\n"` for N in `first..=last`, as a subscriber reads them.
fn items(channel: &str, first: u32, last: u32) -> String {
    (first..=last).map(|n| format!("{channel} {n}\n")).collect()
}

/// Reads up to item `last` and asserts the stream held exactly items `first..=last`.
fn expect_items(client: &mut StreamClient, channel: &str, first: u32, last: u32) {
    let got = client.read_until(&format!("{channel} {last}\n"));
    assert_eq!(got, items(channel, first, last));
}

/// Subscribes `instance` to its marker channel once its SUB input has counted `channels`
/// subscriptions, and waits until the publisher saw the marker: every subscription the
/// instance made before is then applied at the publisher (see the module doc).
fn mark(
    instance: &Instance,
    publisher: &mut Publisher,
    channels: u32,
    marker: &str,
) -> StreamClient {
    instance.wait_exactly(ZMQ_SUBSCRIPTIONS, channels);
    let client = instance.subscribe(marker);
    instance.wait_exactly(ZMQ_SUBSCRIPTIONS, channels + 1);
    publisher.wait_event(&format!("sub {marker}"));
    client
}

#[test]
fn an_xpub_publisher_reaches_only_instances_with_subscribers_and_survives_one_dying() {
    let hosts = Hosts::new(3);
    println!("{}", hosts.describe());
    let mut instances: Vec<Instance> = hosts.all().iter().map(Instance::start).collect();
    // pubcontrol's form for several instances: one entry each, all served by one XPUB that
    // connects to every instance's SUB input.
    let config: Vec<_> = instances
        .iter()
        .map(|i| json!({ "zmq_pub_uri": i.sub_spec, "require_subscribers": true }))
        .collect();
    let mut publisher = Publisher::pubcontrol(&json!(config));

    // Two subscribers on each of instances 1 and 2; none on instance 3.
    let mut subscribers: Vec<(usize, StreamClient)> = [0, 0, 1, 1]
        .into_iter()
        .map(|i| (i, instances[i].subscribe(CHANNEL)))
        .collect();
    let _markers: Vec<StreamClient> = (0..2)
        .map(|i| {
            wait_subscribed(&instances[i].proxy, 2);
            mark(
                &instances[i],
                &mut publisher,
                1,
                &format!("~marker-{}", i + 1),
            )
        })
        .collect();

    publisher.publish(CHANNEL, 1, 10);
    for (_, client) in &mut subscribers {
        expect_items(client, CHANNEL, 1, 10);
    }
    for instance in &instances[..2] {
        instance.wait_exactly(RECEIVED_SUB, 10);
    }
    // Instance 3 subscribed to nothing, so the publisher sent it nothing (checked for good
    // below, once a later message has passed the same connection).
    instances[2].wait_exactly(ZMQ_SUBSCRIPTIONS, 0);
    instances[2].wait_exactly(RECEIVED_SUB, 0);

    // Instance 1 dies while items 11-30 are being published, and more follow.
    publisher.send(&format!("publish {CHANNEL} 11 30"));
    instances[0].proxy.signal(libc::SIGKILL);
    let status = instances[0]
        .proxy
        .wait_exit(std::time::Instant::now() + EXIT_TIMEOUT);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    publisher.wait_event(&format!("published {CHANNEL} 30"));
    // The publisher is not told: libzmq keeps a connecting socket's pipe, and the dead
    // instance's subscriptions with it, to reconnect; what it queues there harms no other.
    publisher.publish(CHANNEL, 31, 50);
    for (instance, client) in &mut subscribers {
        if *instance == 1 {
            expect_items(client, CHANNEL, 11, 50);
        }
    }
    instances[1].wait_exactly(RECEIVED_SUB, 50);
    instances[1].wait_exactly("ringpin_deliveries_total", 2 * 50);

    // The barrier for instance 3: a first subscription there, and one item through the same
    // connection as anything the publisher might have sent it before. It is the only one.
    let mut late = instances[2].subscribe("late");
    publisher.wait_event("sub late");
    publisher.publish("late", 1, 1);
    expect_items(&mut late, "late", 1, 1);
    instances[2].wait_exactly(RECEIVED_SUB, 1);
    instances[1].wait_exactly(RECEIVED_SUB, 50);
    instances[1].wait_exactly("ringpin_deliveries_total", 2 * 50);
}

#[test]
fn pubcontrol_pushing_to_the_pull_input_reaches_a_held_stream() {
    let hosts = Hosts::new(1);
    println!("{}", hosts.describe());
    let instance = Instance::start(hosts.get(0));
    let mut client = instance.subscribe("pushed");
    wait_subscribed(&instance.proxy, 1);
    let mut publisher = Publisher::pubcontrol(&json!({ "zmq_push_uri": instance.pull_spec }));
    publisher.publish("pushed", 1, 3);
    expect_items(&mut client, "pushed", 1, 3);
    instance.wait_exactly(RECEIVED_PULL, 3);
}

#[test]
fn gripcontrol_with_only_a_command_uri_discovers_the_pull_input_and_publishes() {
    let hosts = Hosts::new(1);
    println!("{}", hosts.describe());
    let instance = Instance::start(hosts.get(0));
    let mut client = instance.subscribe("grip");
    wait_subscribed(&instance.proxy, 1);
    let config = json!({ "control_zmq_uri": instance.command_spec });
    let mut publisher = Publisher::gripcontrol(&config);
    publisher.publish("grip", 1, 3);
    expect_items(&mut client, "grip", 1, 3);
    // Through the discovered PULL socket, not the command socket's own `publish`.
    instance.wait_exactly(RECEIVED_PULL, 3);
}

#[test]
fn gripcontrol_requiring_subscribers_discovers_the_sub_input_and_publishes_once_subscribed() {
    let hosts = Hosts::new(1);
    println!("{}", hosts.describe());
    let instance = Instance::start(hosts.get(0));
    let config = json!({ "control_zmq_uri": instance.command_spec, "require_subscribers": true });
    let mut publisher = Publisher::gripcontrol(&config);
    let mut client = instance.subscribe("grip");
    // The XPUB that discovery connected to the SUB input reports the subscription.
    publisher.wait_event("sub grip");
    publisher.publish("grip", 1, 3);
    expect_items(&mut client, "grip", 1, 3);
    instance.wait_exactly(RECEIVED_SUB, 3);
}
