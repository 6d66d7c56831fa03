use super::*;
use std::time::{Duration, UNIX_EPOCH};

fn scenario(pids: &str) -> Scenario {
    let argv: Vec<String> = format!(
        "--proxy 127.0.0.1:7999 --publish http://127.0.0.1:5561 --mode stream --clients 4 --messages 2 --size 64 --target-name ringpin{pids}"
    )
    .split_whitespace()
    .map(String::from)
    .collect();
    Scenario::parse(&argv).expect("valid")
}

fn result(proxy: Option<ProxySample>) -> RunResult {
    let mut h = Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds");
    for v in [100, 200, 300, 400, 500, 600, 700] {
        h.record(v).expect("in range");
    }
    RunResult {
        workers: 1,
        connect_seconds: 2.0,
        held: 4,
        failed: 0,
        disconnects: 0,
        received: 7,
        duplicated: 1,
        reordered: 0,
        malformed: 0,
        tls_handshake_failures: 0,
        tls_negotiated: None,
        latency_us: h,
        send_ns: vec![1_000_000_000, 2_000_000_000],
        last_recv_ns: vec![1_005_000_000, 0],
        publish_start_ns: 999_000_000,
        loadgen_cpu_us: Some(14),
        proxy,
        publish: PublishOutcome {
            items: 2,
            end_ns: 1_001_000_000,
            ..PublishOutcome::new(PublishVia::Http, None)
        },
        sustained: None,
        timed_out: false,
    }
}

#[test]
fn dates_are_utc_iso8601() {
    assert_eq!(utc_iso8601(UNIX_EPOCH), "1970-01-01T00:00:00Z");
    let t = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3661);
    assert_eq!(utc_iso8601(t), "2000-02-29T01:01:01Z");
    let t = UNIX_EPOCH + Duration::from_secs(1_798_761_599);
    assert_eq!(utc_iso8601(t), "2026-12-31T23:59:59Z");
}

#[test]
fn the_json_keeps_the_contract_field_names() {
    let r = Report::build(&scenario(""), vec!["ringpin-loadgen".into()], &result(None));
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).expect("json");
    for key in [
        "tool",
        "version",
        "date",
        "command",
        "machine",
        "target",
        "mode",
        "clients",
        "messages",
        "size",
        "interval_ms",
        "connect",
        "deliveries",
        "latency_us",
        "time_to_last_delivery_ms",
        "time_to_last_delivery_ms_max",
        "deliveries_per_s",
        "proxy",
        "publish",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    for key in ["cpu", "cores", "kernel", "mem_gib"] {
        assert!(v["machine"].get(key).is_some(), "missing machine.{key}");
    }
    assert_eq!(v["tool"], "ringpin-loadgen");
    assert_eq!(v["target"], "ringpin");
    assert!(v["proxy"].is_null());
    assert_eq!(v["deliveries"]["expected"], 8);
    assert_eq!(v["deliveries"]["lost"], 1);
    assert_eq!(v["latency_us"]["cdf"].as_array().map(Vec::len), Some(104));
    assert_eq!(
        v["time_to_last_delivery_ms"],
        serde_json::json!([5.0, null])
    );
    assert_eq!(v["time_to_last_delivery_ms_max"], 5.0);
    assert!(v["tls"].is_null(), "plain TCP");
    assert!(!r.is_clean(), "a lost message makes the run unclean");
}

#[test]
fn proxy_figures_are_per_delivery_and_per_connection() {
    let proxy = ProxySample {
        pids: vec![42],
        cpu_us_total: 70,
        rss_bytes_before_connect: 1000,
        rss_bytes_held: 5000,
    };
    let r = Report::build(&scenario(" --proxy-pids 42"), vec![], &result(Some(proxy)));
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).expect("json");
    assert_eq!(v["proxy"]["cpu_us_per_delivery"], 10.0);
    assert_eq!(v["proxy"]["rss_bytes_per_connection"], 1000.0);
    assert_eq!(v["proxy"]["pids"], serde_json::json!([42]));
    let row = r.to_markdown_row();
    assert_eq!(row.matches('|').count(), 14, "13 columns");
    assert!(row.starts_with("| ringpin | stream | 4 | 2 | 64 |"));
    assert!(r.to_table().contains("10.00 µs/delivery"));
    assert_eq!(v["loadgen"]["cpu_us_per_delivery"], 2.0);
}

#[test]
fn the_publish_section_says_how_fast_items_went_in_and_who_subscribed() {
    let mut raw = result(None);
    raw.publish = PublishOutcome {
        items: 2,
        end_ns: 1_001_000_000,
        ..PublishOutcome::new(
            PublishVia::ZmqSub,
            Some(SubscribeWait {
                waited: Duration::from_micros(2500),
                peers: 3,
                expected: 3,
            }),
        )
    };
    let r = Report::build(&scenario(""), vec![], &raw);
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).expect("json");
    let p = &v["publish"];
    assert_eq!(p["via"], "zmq-sub");
    assert_eq!(p["items"], 2);
    // 2 items from 999 ms to 1001 ms; 2 messages from 999 ms to the last delivery at 1005 ms.
    assert_eq!(p["items_per_s"].as_f64().map(f64::round), Some(1000.0));
    assert_eq!(
        p["messages_delivered_per_s"].as_f64().map(f64::round),
        Some(333.0)
    );
    assert_eq!(p["subscribe_wait_ms"], 2.5);
    assert_eq!(
        (&p["subscribed_instances"], &p["expected_instances"]),
        (&3.into(), &3.into())
    );
    assert!(r
        .to_table()
        .contains("subscribed 3/3 instance(s) after 2.5 ms"));
    let http = Report::build(&scenario(""), vec![], &result(None));
    let v: serde_json::Value = serde_json::from_str(&http.to_json()).expect("json");
    assert!(v["publish"]["subscribe_wait_ms"].is_null());
}

#[test]
fn the_table_lists_the_first_twenty_messages_and_the_json_all() {
    let mut raw = result(None);
    raw.send_ns = vec![1_000_000_000; 25];
    raw.last_recv_ns = vec![1_002_000_000; 25];
    let argv: Vec<String> = "--proxy 127.0.0.1:7999 --publish http://127.0.0.1:5561 --mode stream --clients 4 --messages 25 --size 64"
        .split_whitespace()
        .map(String::from)
        .collect();
    let r = Report::build(&Scenario::parse(&argv).expect("valid"), vec![], &raw);
    let line = r
        .to_table()
        .lines()
        .find(|l| l.starts_with("last delivery"))
        .map(String::from)
        .expect("a last delivery line");
    assert_eq!(
        line.matches("2.0").count(),
        21,
        "max and 20 messages: {line}"
    );
    assert!(line.ends_with("…]"), "{line}");
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).expect("json");
    assert_eq!(
        v["time_to_last_delivery_ms"].as_array().map(Vec::len),
        Some(25)
    );
}

#[test]
fn many_channel_runs_report_posts_and_their_round_trips() {
    let argv: Vec<String> = "--proxy 127.0.0.1:7999 --publish http://127.0.0.1:5561 --mode stream --clients 4 --channels 2 --messages 2 --size 64"
        .split_whitespace()
        .map(String::from)
        .collect();
    let s = Scenario::parse(&argv).expect("valid");
    let mut raw = result(None);
    raw.publish.items_per_post = 1;
    raw.publish.posts_per_message = 2;
    for ms in [3, 5, 9, 40] {
        raw.publish.record_round_trip(Duration::from_millis(ms));
        raw.publish.record_answered(Duration::from_millis(ms - 1));
    }
    let r = Report::build(&s, vec![], &raw);
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).expect("json");
    assert_eq!(v["channels"], 2);
    let p = &v["publish"];
    assert_eq!(
        (
            p["items_per_post"].as_u64(),
            p["posts_per_message"].as_u64()
        ),
        (Some(1), Some(2))
    );
    let rt = &p["post_round_trip_us"];
    assert_eq!(rt["count"], 4);
    assert!(
        (2_990..=3_010).contains(&rt["min"].as_u64().expect("min")),
        "{rt}"
    );
    assert!(
        (39_900..=40_100).contains(&rt["max"].as_u64().expect("max")),
        "{rt}"
    );
    let answered = &p["post_answered_us"];
    assert_eq!(answered["count"], 4);
    assert!(
        (38_900..=39_100).contains(&answered["max"].as_u64().expect("max")),
        "{answered}"
    );
    let table = r.to_table();
    assert!(table.contains("posts          channels 2  1 items/POST  2 POSTs/message"));
    assert!(table.contains("  answered µs p50 "), "{table}");
    assert_eq!(
        r.to_markdown_row().matches('|').count(),
        20,
        "13 + 6 columns"
    );
    // One channel: the row and table are what they were before channels existed.
    let one = Report::build(&scenario(""), vec![], &raw);
    assert_eq!(one.to_markdown_row().matches('|').count(), 14);
    assert!(!one.to_table().contains("posts "));
}
