use super::*;
use crate::soak::census::Census;
use crate::soak::publish::Published;

const SEC: u64 = 1_000_000_000;

/// Channel 0 gets items 1..=10, item n sent at n seconds.
fn published() -> PublishLog {
    PublishLog {
        items: (1..=10)
            .map(|n| Published {
                channel: 0,
                n,
                send_ns: n * SEC,
            })
            .collect(),
        ..PublishLog::default()
    }
}

fn record(initial: bool, join_s: u64, first: u64, highest: u64, missing: u64) -> SubRecord {
    SubRecord {
        mode: "stream".into(),
        channel: 0,
        initial,
        // 0 means "never held"; an initial subscriber is held before any item is sent.
        join_ns: (join_s * SEC).max(1),
        first,
        highest,
        unique: highest + 1 - first - missing,
        missing,
        ..SubRecord::default()
    }
}

fn tally(records: Vec<SubRecord>) -> Tally {
    let worker = WorkerReport {
        subscribers: records,
        ..WorkerReport::default()
    };
    deliveries(&published(), &[worker])
        .remove("stream")
        .unwrap_or_default()
}

#[test]
fn a_complete_initial_subscriber_loses_nothing() {
    let t = tally(vec![record(true, 0, 1, 10, 0)]);
    assert_eq!(
        (t.judged, t.items_expected, t.items_received, t.lost),
        (1, 10, 10, 0)
    );
    let checks = delivery_checks(&BTreeMap::from([("stream".to_string(), t)]));
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");
}

#[test]
fn a_missing_first_item_a_hole_and_a_missing_tail_are_each_lost() {
    assert_eq!(tally(vec![record(true, 0, 2, 10, 0)]).lost, 1);
    assert_eq!(tally(vec![record(true, 0, 1, 10, 3)]).lost, 3);
    assert_eq!(tally(vec![record(true, 0, 1, 8, 0)]).lost, 2);
    let t = tally(vec![record(true, 0, 0, 0, 0)]);
    assert_eq!((t.items_expected, t.lost), (10, 10));
    let checks = delivery_checks(&BTreeMap::from([("stream".to_string(), t)]));
    assert!(!checks[0].ok);
}

#[test]
fn a_replacement_owes_the_items_published_after_its_grace_or_after_its_first() {
    // Held at 3 s: items from 3 + 5 = 8 s on are due; it got 8..=10.
    let t = tally(vec![record(false, 3, 8, 10, 0)]);
    assert_eq!((t.items_expected, t.lost), (3, 0));
    // It also got 6, published inside the grace: from then on everything counts.
    let t = tally(vec![record(false, 3, 6, 10, 0)]);
    assert_eq!((t.items_expected, t.lost), (5, 0));
    // It started at 9: item 8 was due and lost.
    assert_eq!(tally(vec![record(false, 3, 9, 10, 0)]).lost, 1);
    // Joined after the last item: owes nothing.
    let t = tally(vec![record(false, 20, 0, 0, 0)]);
    assert_eq!((t.judged, t.items_expected, t.lost), (1, 0, 0));
}

#[test]
fn faulted_broken_and_never_held_subscribers_are_not_judged_but_counted() {
    let mut faulted = record(true, 0, 1, 3, 0);
    faulted.faulted = true;
    let mut broken = record(true, 0, 1, 3, 0);
    broken.broken = Some("closed".into());
    let mut never = record(false, 0, 0, 0, 0);
    never.join_ns = 0;
    let t = tally(vec![faulted, broken, never]);
    assert_eq!((t.faulted, t.broken, t.never_held, t.judged), (1, 1, 1, 0));
    let checks = delivery_checks(&BTreeMap::from([("stream".to_string(), t)]));
    assert!(!checks[1].ok, "a broken subscriber fails the run");
}

#[test]
fn duplicates_and_strangers_fail_the_run() {
    let mut r = record(true, 0, 1, 10, 0);
    r.duplicated = 1;
    let t = tally(vec![r]);
    assert!(!delivery_checks(&BTreeMap::from([("stream".to_string(), t)]))[0].ok);
    let t = tally(vec![record(true, 0, 1, 12, 0)]);
    assert_eq!(t.misrouted, 2, "items beyond the last published one");
}

fn sample(t_s: f64, rss_mib: u64, fds: u64) -> Sample {
    Sample {
        t_s,
        rss_bytes: rss_mib << 20,
        fds,
        cpu_us: 0,
    }
}

#[test]
fn flat_memory_and_settled_descriptors_pass_and_growth_fails() {
    let census = Census {
        client_sockets: 900,
        origin_sockets: 50,
        other_sockets: 3,
        not_sockets: 47,
    };
    let settled = (Some(census), Some(census));
    let flat: Vec<Sample> = (0..=60)
        .map(|t| sample(t as f64, 100, 1000 + (t % 3)))
        .collect();
    let f = flatness(&flat, (10.0, 60.0), 10.0, settled);
    assert_eq!((f.fd_baseline, f.fd_end, f.fd_limit), (1001, 1000, 1065));
    assert!(resource_checks(&f).iter().all(|c| c.ok), "{f:?}");
    // 1 MiB a second after warm-up: 124 MiB in the first half, 150 MiB in the second.
    let growing: Vec<Sample> = (0..=60)
        .map(|t| sample(t as f64, 100 + t.max(10) - 10, 1000))
        .collect();
    let f = flatness(&growing, (10.0, 60.0), 10.0, settled);
    assert_eq!(f.rss_max_first_half_bytes, 124 << 20);
    assert!(!resource_checks(&f)[0].ok, "{f:?}");
    // Descriptors that never come back.
    let leaking: Vec<Sample> = (0..=60)
        .map(|t| sample(t as f64, 100, 1000 + 10 * t))
        .collect();
    assert!(!resource_checks(&flatness(&leaking, (10.0, 60.0), 10.0, settled))[1].ok);
    // Total descriptors back, but client sockets not: ringpin kept a closed client's socket.
    let kept = Census {
        client_sockets: 909,
        not_sockets: 38,
        ..census
    };
    let f = flatness(&flat, (10.0, 60.0), 10.0, (Some(census), Some(kept)));
    assert!(!resource_checks(&f)[1].ok);
    let f = flatness(&flat, (10.0, 60.0), 10.0, (None, Some(census)));
    assert!(!resource_checks(&f)[1].ok);
}

#[test]
fn the_log_and_the_metrics_are_read() {
    let log = "2026-12-06T10:00:00.000Z WARN  [x] slow\n\
               2026-12-06T10:00:00.000Z ERROR [x] routes reload failed, keeping the old routes: no route\n\
               thread 'ringpin-shard-0' panicked at src/x.rs:1:1\n";
    let s = summarize_log(log);
    assert_eq!(
        (s.lines, s.errors, s.warnings, s.panics, s.refused_reloads),
        (3, 1, 1, 1, 1)
    );
    let metrics = "# TYPE x counter\nringpin_connection_panics_total 0\n\
                   ringpin_deliveries_dropped_total{reason=\"queue_full\"} 3\n\
                   ringpin_deliveries_dropped_total{reason=\"closed\"} 4\n";
    assert_eq!(
        metric_sum(metrics, "ringpin_connection_panics_total"),
        Some(0)
    );
    assert_eq!(
        metric_sum(metrics, "ringpin_deliveries_dropped_total"),
        Some(7)
    );
    assert_eq!(metric_sum(metrics, "ringpin_connections"), None);
}

#[test]
fn a_fault_kind_never_injected_or_answered_wrongly_fails() {
    let mut log = FaultLog::default();
    assert!(fault_checks(&log).iter().all(|c| !c.ok));
    log.records.push(crate::soak::faults::FaultRecord {
        at_s: 1.0,
        kind: FaultKind::BackendHang,
        detail: "got 502".into(),
        ok: false,
    });
    let hang = fault_checks(&log)
        .into_iter()
        .find(|c| c.name.contains("backend_hang"));
    assert!(hang.is_some_and(|c| !c.ok && c.detail.contains("got 502")));
}

#[test]
fn slow_readers_pass_when_ringpin_closed_them_or_dropped_their_items() {
    let mut faults = FaultLog::default();
    faults.records.push(crate::soak::faults::FaultRecord {
        at_s: 10.0,
        kind: FaultKind::SlowReaders,
        detail: String::new(),
        ok: true,
    });
    let end = |metrics: &str| EndState {
        metrics: Ok(metrics.to_string()),
        running_at_end: true,
        stopped_cleanly: true,
        exit: String::new(),
        publish_errors: 0,
        flood: (0, 0),
        drained: true,
    };
    let none = "ringpin_slow_clients_closed_total 0\nringpin_deliveries_dropped_total 0\n";
    let closed = "ringpin_slow_clients_closed_total 2\nringpin_deliveries_dropped_total 0\n";
    let dropped = "ringpin_slow_clients_closed_total 0\nringpin_deliveries_dropped_total 9\n";
    assert!(!slow_reader_check(&faults, &end(none), 60.0).ok);
    assert!(slow_reader_check(&faults, &end(closed), 60.0).ok);
    assert!(slow_reader_check(&faults, &end(dropped), 60.0).ok);
    // Added too late to overflow before the window closed: not required.
    assert!(slow_reader_check(&faults, &end(none), 25.0).ok);
}
